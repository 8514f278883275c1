package nats

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"go.uber.org/zap"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Store is the store.Store contract on a JetStream stream; see the
// package doc for how it keeps it.
type Store struct {
	opts   Options
	subj   subjects
	holder string // this store's lease holder name, a NUID
	clock  store.Clock
	log    *zap.Logger
	policy atomic.Pointer[store.Policy]

	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	v      *view

	life   sync.RWMutex // held shared by calls, exclusively by Close
	closed bool
	stop   context.CancelFunc
	wg     sync.WaitGroup

	batches chan struct{} // a slot per open atomic batch

	// eventLocks make this store's writers of one event's states (settles,
	// replays) take turns instead of refusing each other's conditional
	// writes; writers on other gateways still conflict and retry.
	eventLocks [64]sync.Mutex

	ownedMu sync.Mutex
	owned   map[string]struct{} // leases handed out or being written, by ownKey

	watchMu  sync.Mutex
	watchers map[string]map[chan struct{}]struct{}
}

// Open connects to the servers, creates or updates the stream, reads it
// into this store's view and starts the heartbeat and the retention
// sweeper. The cluster must be reachable with a quorum.
func Open(opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Store{
		opts: opts, subj: subjects{prefix: opts.Prefix}, holder: nuid.Next(),
		clock: opts.Clock, log: opts.Logger.With(zap.String("servers", opts.serverList()), zap.String("prefix", opts.Prefix)),
		watchers: make(map[string]map[chan struct{}]struct{}),
		batches:  make(chan struct{}, maxOpenBatches),
		owned:    make(map[string]struct{}),
	}
	p := opts.Policy.WithDefaults()
	s.policy.Store(&p)
	s.v = newView(s.subj, s.signal)

	s.nc, err = nats.Connect(strings.Join(opts.Servers, ","), opts.natsOptions(s.log)...)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS %s: %w: %s", opts.serverList(), store.ErrUnavailable, opts.scrub(err))
	}
	s.js, err = jetstream.New(s.nc, jetstream.WithDefaultTimeout(opts.OpTimeout))
	if err != nil {
		s.nc.Close()
		return nil, fmt.Errorf("opening JetStream: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*opts.OpTimeout)
	defer cancel()
	if err := s.ensureStream(ctx); err != nil {
		s.nc.Close()
		return nil, err
	}
	bg, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.goLoop("view", func() { s.follow(bg) })
	err = s.heartbeat(ctx)
	if err == nil {
		err = s.readStream(bg)
	}
	if err != nil {
		_ = s.shutdown()
		return nil, fmt.Errorf("reading stream %s: %w", opts.Prefix, s.classify(ctx, err))
	}
	s.goLoop("heartbeat", func() { s.beat(bg) })
	s.goLoop("orphaned lease release", func() { s.tidyLoop(bg) })
	s.goLoop("retention sweep", func() { s.sweepLoop(bg) })
	return s, nil
}

// ensureStream creates the stream, or checks and updates an existing one.
func (s *Store) ensureStream(ctx context.Context) error {
	cfg := jetstream.StreamConfig{
		Name:               s.opts.Prefix,
		Description:        "caddy-webhook-inbox events, delivery states and leases",
		Subjects:           []string{s.subj.all()},
		Storage:            jetstream.FileStorage,
		Replicas:           s.opts.Replicas,
		Retention:          jetstream.LimitsPolicy,
		Discard:            jetstream.DiscardOld,
		MaxMsgsPerSubject:  1,
		AllowMsgTTL:        true,
		AllowAtomicPublish: true,
		// Reads go to the leader: a replica may lag behind an
		// acknowledged write.
		AllowDirect: false,
	}
	st, err := s.js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return fmt.Errorf("creating stream %s: %w", s.opts.Prefix, s.classify(ctx, err))
	}
	got := st.CachedInfo().Config
	if !got.AllowAtomicPublish || !got.AllowMsgTTL {
		return fmt.Errorf("stream %s: the server lacks atomic batch publish or per-message TTLs (nats-server 2.12 or later is needed)", s.opts.Prefix)
	}
	s.stream = st
	return nil
}

// goLoop runs f in a goroutine that Close waits for, recovering a panic.
func (s *Store) goLoop(name string, f func()) {
	s.wg.Go(func() {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic in "+name, zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
			}
		}()
		f()
	})
}

// enter holds the store open for one call.
func (s *Store) enter() error {
	s.life.RLock()
	if s.closed {
		s.life.RUnlock()
		return store.ErrClosed
	}
	return nil
}

func (s *Store) leave() { s.life.RUnlock() }

// op bounds one call to the cluster by OpTimeout.
func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.OpTimeout)
}

// classify wraps a failed cluster call: the caller's own cancellation as
// is, a server's refusal (a 4xx API error) as is, and everything else
// (timeouts, no responders, no quorum, a lost connection) as
// store.ErrUnavailable.
func (s *Store) classify(caller context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := caller.Err(); cerr != nil {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	var amb *store.AmbiguousError
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrClosed) ||
		errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrNotPending) || errors.As(err, &amb) {
		return err
	}
	// 408 and 429 (too many open batches) are the server asking for time.
	if apiErr := apiError(err); apiErr != nil && apiErr.Code >= 400 && apiErr.Code < 500 && apiErr.Code != 408 && apiErr.Code != 429 {
		return err
	}
	return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
}

// apiError returns the JetStream API error inside err, or nil.
func apiError(err error) *jetstream.APIError {
	var api *jetstream.APIError
	if errors.As(err, &api) {
		return api
	}
	var jsErr jetstream.JetStreamError
	if errors.As(err, &jsErr) {
		return jsErr.APIError()
	}
	return nil
}

// wrongSeq reports whether err is a failed expected-sequence check: the
// subject was written since (or, for 0, exists).
func wrongSeq(err error) bool {
	api := apiError(err)
	return api != nil && (api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// lockEvent holds event key's stripe of eventLocks until the returned
// function is called.
func (s *Store) lockEvent(key string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	mu := &s.eventLocks[h.Sum32()%uint32(len(s.eventLocks))]
	mu.Lock()
	return mu.Unlock
}

// SetPolicy swaps the policy; see store.Store.
func (s *Store) SetPolicy(p store.Policy) {
	p = p.WithDefaults()
	s.policy.Store(&p)
}

func (s *Store) pol() store.Policy { return *s.policy.Load() }

// Clock returns the store's clock.
func (s *Store) Clock() store.Clock { return s.clock }

// Describe names the cluster for the admin API's stats, never a secret.
func (s *Store) Describe() map[string]string {
	return map[string]string{
		"backend":  "nats",
		"servers":  s.opts.serverList(),
		"stream":   s.opts.Prefix,
		"replicas": fmt.Sprint(s.opts.Replicas),
	}
}

// Close ends this store's leases (its goodbye frees them for other
// gateways at once), stops its goroutines and closes the connection.
// Closing twice is a no-op.
func (s *Store) Close() error {
	s.life.Lock()
	if s.closed {
		s.life.Unlock()
		return nil
	}
	s.closed = true
	s.life.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), min(s.opts.OpTimeout, 2*time.Second))
	defer cancel()
	if err := s.goodbye(ctx); err != nil {
		s.log.Warn("could not end this gateway's leases; other gateways take them over after the lease TTL",
			zap.Duration("lease_ttl", s.opts.LeaseTTL), zap.Error(err))
	}
	return s.shutdown()
}

func (s *Store) shutdown() error {
	if s.stop != nil {
		s.stop()
	}
	s.v.stop()
	s.wg.Wait()
	s.nc.Close()
	return nil
}

// Interface guards
var (
	_ store.Store     = (*Store)(nil)
	_ store.Describer = (*Store)(nil)
)
