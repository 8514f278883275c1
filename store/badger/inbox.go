package badger

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"go.uber.org/zap"
)

// Options configure Open. Zero fields take the documented defaults, which
// are sized for a small two-core machine.
type Options struct {
	// Logger receives the store's and Badger's warnings and errors.
	// Nil means no logging.
	Logger *zap.Logger
	// Policy holds the initial reloadable settings; see SetPolicy.
	Policy store.Policy
	// GCInterval is how often the value log is garbage collected.
	// Zero means 5 minutes.
	GCInterval time.Duration
	// SweepInterval is how often settled events whose retention has
	// passed are deleted. Zero means 1 minute.
	SweepInterval time.Duration
	// Clock is the clock for receive times, due times, attempts and the
	// retention of settled events; the dispatcher reads it back through
	// Store.Clock. Nil means store.WallClock; tests inject their own.
	// Badger's TTLs (dedup markers, unrouted events) always follow the
	// real clock.
	Clock store.Clock

	// MemTableSize is Badger's memtable size in bytes. Zero means 16 MiB.
	// A single group-commit transaction may hold up to 15% of it.
	MemTableSize int64
	// ValueThreshold is the value size, in bytes, from which values go to
	// the value log instead of the LSM tree. Zero means 256 B: every event
	// record (metadata, kept headers and body) goes to the value log and
	// the LSM tree holds a pointer, so flushes and compactions no longer
	// copy bodies. With ~400 B bodies at 64 connections that cut caddy's
	// CPU per event by 4% while delivering and 10% while only ingesting,
	// and ack p99 by a quarter, against a 1 KiB threshold; 8 KiB bodies
	// measured 3x the accepts per second in the value log. The price: a
	// commit syncs two dirty files, so a lone accept takes ~0.1 ms longer
	// (BENCHMARKS.md).
	ValueThreshold int64
	// ValueLogFileSize is the size of one value log file in bytes.
	// Zero means 64 MiB.
	ValueLogFileSize int64
	// BlockCacheSize is Badger's block cache in bytes. Zero means 16 MiB.
	BlockCacheSize int64
	// MaxBatch is the most requests (accepted events and settled
	// deliveries) one group commit writes. Zero means 256.
	MaxBatch int
	// MaxBatchBytes is the most record bytes one group commit writes
	// (a settled delivery counts 2 KiB); a single larger event is still
	// written alone. Zero means 1 MiB.
	MaxBatchBytes int
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.GCInterval <= 0 {
		o.GCInterval = 5 * time.Minute
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = time.Minute
	}
	if o.Clock == nil {
		o.Clock = store.WallClock
	}
	if o.MemTableSize <= 0 {
		o.MemTableSize = 16 << 20
	}
	if o.ValueThreshold <= 0 {
		o.ValueThreshold = 256
	}
	if o.ValueLogFileSize <= 0 {
		o.ValueLogFileSize = 64 << 20
	}
	if o.BlockCacheSize <= 0 {
		o.BlockCacheSize = 16 << 20
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = 1 << 20
	}
	return o
}

// Store is the Badger-backed Store. One Store owns one directory; share it
// across config reloads instead of opening the directory twice.
type Store struct {
	dir    string
	db     *badger.DB
	log    *zap.Logger
	clock  store.Clock
	now    func() time.Time
	policy atomic.Pointer[store.Policy]
	disk   *diskGauge

	maxBatch      int
	maxBatchBytes int
	gcInterval    time.Duration

	// life guards the database against Close: every operation holds it
	// for reading, Close takes it for writing, so Badger is never used
	// after it is closed.
	life   sync.RWMutex
	closed bool

	// writeMu makes read-write transactions (the committer's batches and
	// every update) take turns. Badger's transactions are optimistic: two
	// that overlap on a key fail with ErrConflict, and 50 concurrent
	// replays of one event lost that race more often than any retry
	// budget allowed, failing replays and whole batches of settled
	// attempts (issue 18). This process is the directory's only writer,
	// so taking turns costs a writer at most the others' fsyncs and makes
	// a conflict impossible.
	writeMu sync.Mutex

	queue   chan *request
	quit    chan struct{}
	workers sync.WaitGroup

	// lastSeq is the highest seq handed out, to events and to replayed
	// ordered entries' line positions; after Open only writers holding
	// writeMu touch it.
	lastSeq uint64
	seen    map[string]struct{}
	// beforeBatch, when set (by tests only, before the first Accept),
	// runs in the committer before each batch is written.
	beforeBatch func()

	leaseMu   sync.Mutex
	leases    map[leaseKey]lease
	nextLease uint64
	scanFrom  map[string]queuePos
	// lines are the ordered entries' lines (ordering.go).
	lines map[lineKey][]uint64
	// lineCount and orderedCount are, per target, its lines and the
	// positions in them.
	lineCount    map[string]int
	orderedCount map[string]int

	countMu sync.Mutex
	pending map[string]int64

	notify notifier
}

// Open opens (or creates) the inbox stored in dir and starts its committer
// and value-log GC goroutines. Badger locks the directory, so opening a
// directory another process holds fails.
func Open(dir string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	// Tables are not compressed: Badger's compaction builds each table in
	// memory and keeps a compressed copy of every block next to it, which
	// with 1M pending events held about 1 GiB of heap. Uncompressed
	// tables take ~3.5x the disk instead (BENCHMARKS.md, "Backlog").
	bopts := badger.DefaultOptions(dir).
		WithSyncWrites(true).
		WithLogger(badgerLogger{opts.Logger.Named("badger").Sugar()}).
		WithLoggingLevel(badger.WARNING).
		WithMetricsEnabled(false).
		WithNumCompactors(2).
		WithNumMemtables(3).
		WithNumLevelZeroTables(3).
		WithNumLevelZeroTablesStall(8).
		WithMemTableSize(opts.MemTableSize).
		WithValueThreshold(min(opts.ValueThreshold, opts.MemTableSize*15/100-1)).
		WithValueLogFileSize(opts.ValueLogFileSize).
		WithBlockCacheSize(opts.BlockCacheSize).
		WithCompression(options.None).
		WithNumGoroutines(2)
	db, err := badger.Open(bopts)
	if err != nil {
		return nil, fmt.Errorf("opening inbox %s: %w", dir, err)
	}
	in := &Store{
		dir:           dir,
		db:            db,
		log:           opts.Logger,
		clock:         opts.Clock,
		now:           opts.Clock.Now,
		disk:          newDiskGauge(dir),
		maxBatch:      opts.MaxBatch,
		maxBatchBytes: opts.MaxBatchBytes,
		gcInterval:    opts.GCInterval,
		queue:         make(chan *request, 4*opts.MaxBatch),
		quit:          make(chan struct{}),
		seen:          make(map[string]struct{}),
		leases:        make(map[leaseKey]lease),
		scanFrom:      make(map[string]queuePos),
		lines:         make(map[lineKey][]uint64),
		lineCount:     make(map[string]int),
		orderedCount:  make(map[string]int),
		pending:       make(map[string]int64),
	}
	in.SetPolicy(opts.Policy)
	if err := in.load(); err != nil {
		return nil, errors.Join(fmt.Errorf("opening inbox %s: %w", dir, err), db.Close())
	}
	in.workers.Add(3)
	go in.commitLoop()
	go in.every(in.gcInterval, func() {
		in.collectGarbage()
		in.expireLeases()
	})
	go in.every(opts.SweepInterval, in.sweepAndLog)
	return in, nil
}

// load restores what lives in memory: the seq high-water mark, the
// pending counters, recounted from the status index so they are right
// even after a crash, and the ordered entries' lines.
func (in *Store) load() error {
	return in.db.View(func(txn *badger.Txn) error {
		if item, err := txn.Get(keyMetaSeq); err == nil {
			if err := item.Value(func(v []byte) error {
				if len(v) == seqLength {
					in.lastSeq = seqSuffix(v)
				}
				return nil
			}); err != nil {
				return err
			}
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		// The newest event key guards against a missing high-water mark.
		prefix := appendNS(nil, nsEvent)
		it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: prefix})
		it.Seek(prefixEnd(prefix))
		if it.Valid() {
			in.lastSeq = max(in.lastSeq, seqSuffix(it.Item().Key()))
		}
		it.Close()

		prefix = append(appendNS(nil, nsStatus), codePending)
		it = txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			target, _, err := parseStatusKey(it.Item().Key())
			if err != nil {
				return err
			}
			in.pending[target]++
		}
		return in.loadLines(txn)
	})
}

// SetPolicy swaps the reloadable settings; it takes effect for the next
// Accept and the next state change.
func (in *Store) SetPolicy(p store.Policy) {
	p = p.WithDefaults()
	in.policy.Store(&p)
}

// Policy returns the settings in effect, with defaults filled in.
func (in *Store) Policy() store.Policy {
	return *in.policy.Load()
}

// Dir returns the directory the inbox was opened on.
func (in *Store) Dir() string {
	return in.dir
}

// Clock returns the clock the store was opened with.
func (in *Store) Clock() store.Clock {
	return in.clock
}

// Describe names the store's directory for the admin API's stats.
func (in *Store) Describe() map[string]string {
	return map[string]string{"backend": "badger", "dir": in.dir}
}

// Close waits for in-flight calls, stops the goroutines and closes Badger.
// Calls after Close return store.ErrClosed; closing twice is a no-op.
func (in *Store) Close() error {
	in.life.Lock()
	if in.closed {
		in.life.Unlock()
		return nil
	}
	in.closed = true
	in.life.Unlock()

	close(in.quit)
	in.workers.Wait()
	if err := in.db.Close(); err != nil {
		return fmt.Errorf("closing inbox %s: %w", in.dir, err)
	}
	return nil
}

// enter admits an operation unless the inbox is closed; the caller must
// call in.life.RUnlock when done.
func (in *Store) enter() error {
	in.life.RLock()
	if in.closed {
		in.life.RUnlock()
		return store.ErrClosed
	}
	return nil
}

// every runs f every interval until the inbox closes; the caller has
// counted it in in.workers.
func (in *Store) every(interval time.Duration, f func()) {
	defer in.workers.Done()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-in.quit:
			return
		case <-tick.C:
			f()
		}
	}
}

// collectGarbage rewrites value log files until none is worth rewriting.
func (in *Store) collectGarbage() {
	defer in.recoverPanic("value log gc")
	for {
		select {
		case <-in.quit:
			return
		default:
		}
		err := in.db.RunValueLogGC(0.5)
		if err == nil {
			continue
		}
		if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
			in.log.Warn("value log gc failed", zap.String("dir", in.dir), zap.Error(err))
		}
		return
	}
}

// recoverPanic logs a panic with its stack instead of letting a
// background goroutine take the process down. Use it deferred.
func (in *Store) recoverPanic(what string) {
	if r := recover(); r != nil {
		in.log.Error("panic in inbox "+what,
			zap.String("dir", in.dir),
			zap.Any("panic", r),
			zap.Stack("stack"))
	}
}

// maxConflictRetries bounds how often a transaction that lost a conflict
// is retried before the error is returned. With writeMu no transaction
// should lose one; the retries keep a surprise from reaching a caller.
const maxConflictRetries = 16

// update runs fn in a read-write transaction and commits it, holding
// writeMu, and retries from scratch should Badger still report a
// conflict; fn must therefore reset any state it accumulates.
func (in *Store) update(fn func(txn *badger.Txn) error) error {
	in.writeMu.Lock()
	defer in.writeMu.Unlock()
	for attempt := 0; ; attempt++ {
		txn := in.db.NewTransaction(true)
		err := fn(txn)
		if err == nil {
			err = txn.Commit()
		}
		txn.Discard()
		if errors.Is(err, badger.ErrConflict) && attempt < maxConflictRetries {
			continue
		}
		return err
	}
}

// expiresAt turns a TTL into Badger's absolute expiry in Unix seconds,
// rounded up so a key lives at least d.
func expiresAt(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64(time.Now().Add(d).Unix()) + 1
}

func (in *Store) addPending(target string, delta int64) {
	in.countMu.Lock()
	in.adjustPending(target, delta)
	in.countMu.Unlock()
}

// adjustPending changes a pending counter, dropping it at zero so Stats
// lists only targets with work; countMu must be held.
func (in *Store) adjustPending(target string, delta int64) {
	if n := in.pending[target] + delta; n > 0 {
		in.pending[target] = n
	} else {
		delete(in.pending, target)
	}
}

// badgerLogger forwards Badger's warnings and errors to zap and drops its
// chatty info and debug lines.
type badgerLogger struct {
	s *zap.SugaredLogger
}

func (l badgerLogger) Errorf(f string, args ...any) {
	l.s.Errorf(strings.TrimSpace(f), args...)
}

func (l badgerLogger) Warningf(f string, args ...any) {
	l.s.Warnf(strings.TrimSpace(f), args...)
}

func (badgerLogger) Infof(string, ...any) {}

func (badgerLogger) Debugf(string, ...any) {}

// Interface guards
var (
	_ store.Store     = (*Store)(nil)
	_ store.DiskUser  = (*Store)(nil)
	_ store.Describer = (*Store)(nil)
)
