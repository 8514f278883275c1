package relay

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"go.uber.org/zap"
)

// Attempt results, as Observer.OnAttempt reports them; they match the
// result label of caddy_webhook_inbox_deliveries_total.
const (
	// ResultSuccess means the target answered 2xx.
	ResultSuccess = "success"
	// ResultRetry means the attempt failed and the delivery is due again
	// later.
	ResultRetry = "retry"
	// ResultDead means the delivery became a dead letter.
	ResultDead = "dead"
)

// DefaultPollInterval is how often an idle leasing loop looks at its queue
// when nothing woke it: the fallback for retries that come due and for
// entries queued by another process.
const DefaultPollInterval = time.Second

// Observer receives the dispatcher's events for metrics. Calls come from
// the delivery workers, so implementations must be fast and safe for
// concurrent use.
type Observer interface {
	// OnAttempt reports one finished attempt once its outcome is stored:
	// its result (ResultSuccess, ResultRetry or ResultDead), the HTTP
	// status (0 when no response arrived) and how long it took in wall
	// time.
	OnAttempt(target, result string, status int, dur time.Duration)
	// OnCircuit reports a target's circuit opening (open true) or closing.
	OnCircuit(target string, open bool)
}

type nopObserver struct{}

func (nopObserver) OnAttempt(string, string, int, time.Duration) {}

func (nopObserver) OnCircuit(string, bool) {}

// DispatcherOptions configure NewDispatcher. Zero fields take defaults.
type DispatcherOptions struct {
	// Logger receives one line per attempt outcome (debug when delivered,
	// info when retried, warn when dead) and the dispatcher's errors.
	// Nil means no logging.
	Logger *zap.Logger
	// Jitter returns a random number in [0,1) that scales each backoff
	// (full jitter). Nil means math/rand/v2.
	Jitter func() float64
	// Observer receives attempt results and circuit changes. Nil means
	// none.
	Observer Observer
	// PollInterval is how often an idle leasing loop looks at its queue
	// unprompted. Zero means DefaultPollInterval.
	PollInterval time.Duration
}

// Dispatcher delivers queued events to their targets: per target, one
// leasing loop feeds Concurrency workers, each making one HTTP attempt at
// a time and settling it in the store. Create one per Inbox, keep it
// across config reloads (SetTargets swaps targets in place), and Close it
// before closing the Inbox.
type Dispatcher struct {
	st     store.Store
	log    *zap.Logger
	clock  store.Clock
	jitter func() float64
	obs    Observer
	poll   time.Duration

	mu      sync.Mutex
	runners map[string]*runner
	closed  bool
	// running counts runners not yet finished, stopped ones included.
	running sync.WaitGroup

	// beforeAttempt, when set (by tests only, before SetTargets), runs in
	// the worker before each attempt.
	beforeAttempt func(store.Delivery)
}

// NewDispatcher returns a dispatcher for st with no targets; SetTargets
// starts delivery. It leases and settles through the store contract only
// (store.Queue), and its attempts and timers follow the store's clock.
func NewDispatcher(st store.Store, opts DispatcherOptions) *Dispatcher {
	d := &Dispatcher{
		st:      st,
		log:     opts.Logger,
		clock:   st.Clock(),
		jitter:  opts.Jitter,
		obs:     opts.Observer,
		poll:    opts.PollInterval,
		runners: make(map[string]*runner),
	}
	if d.log == nil {
		d.log = zap.NewNop()
	}
	if d.jitter == nil {
		d.jitter = rand.Float64
	}
	if d.obs == nil {
		d.obs = nopObserver{}
	}
	if d.poll <= 0 {
		d.poll = DefaultPollInterval
	}
	return d
}

// SetTargets makes ts the set of targets, in place, and returns at once:
//
//   - a new target starts delivering its queue;
//   - a target that is gone stops leasing; its in-flight attempts finish
//     and settle in the background, and its queue entries stay, to be
//     delivered if the target comes back (Stats still counts them);
//   - a target whose settings changed keeps its queue, leases and workers
//     and uses the new settings from its next attempt (a new URL also
//     closes its circuit; a new timeout or concurrency gets a new
//     connection pool).
//
// A lease is held until its attempt settles, so no reload makes this
// process deliver an entry twice. An invalid target (see Validate) is
// logged and skipped: a new one does not start, a running one keeps its
// previous settings. A repeated name keeps the last. Calls after Close do
// nothing.
func (d *Dispatcher) SetTargets(ts []TargetConfig) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	want := make(map[string]TargetConfig, len(ts))
	for _, t := range ts {
		if _, dup := want[t.Name]; dup {
			d.log.Warn("target configured twice; using the last", zap.String("target", t.Name))
		}
		want[t.Name] = t
	}
	for name, r := range d.runners {
		if _, keep := want[name]; !keep {
			r.stop()
			delete(d.runners, name)
			d.log.Info("delivery target removed; its queue stays", zap.String("target", name))
		}
	}
	for name, cfg := range want {
		r := d.runners[name]
		var prev *settings
		if r != nil {
			prev = r.settings()
		}
		s, err := compile(cfg, prev)
		if err != nil {
			d.log.Error("skipping invalid delivery target", zap.String("target", name), zap.Error(err))
			continue
		}
		if r != nil {
			r.update(s)
			continue
		}
		d.runners[name] = d.start(name, s)
	}
}

// Close stops every target: leasing ends, attempts in flight finish
// (bounded by their timeout) and settle, and what was leased but not tried
// is released. It returns once every goroutine has ended; the Inbox may be
// closed afterwards. Closing twice is a no-op.
func (d *Dispatcher) Close() error {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		for name, r := range d.runners {
			r.stop()
			delete(d.runners, name)
		}
	}
	d.mu.Unlock()
	d.running.Wait()
	return nil
}

// Circuits returns the circuit breaker state of every configured target.
func (d *Dispatcher) Circuits() map[string]CircuitState {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]CircuitState, len(d.runners))
	for name, r := range d.runners {
		out[name] = r.circuit.state()
	}
	return out
}
