package relay

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"go.uber.org/zap"
)

// minLeaseBatch is the fewest entries a leasing loop asks for at once: a
// Lease costs an iterator and two reads per entry, and for a target with
// few workers leasing one batch per worker would make it the bottleneck.
const minLeaseBatch = 32

// settleDepth is how many outcomes a worker may have waiting for their
// synced write while it goes on with the next attempt. Without it each
// attempt to a fast local target waits out a group commit, and a target
// with the default 8 workers drained at about half the speed measured
// with this depth of 4.
const settleDepth = 4

// runner delivers one target's queue: a leasing loop hands leased entries
// over an unbuffered channel to the target's workers. Because the
// hand-over blocks until a worker is free, a target holds at most one
// leased batch (max(Concurrency, minLeaseBatch) entries), Concurrency
// attempts and settleDepth×Concurrency outcomes being stored: the
// in-memory window stays bounded however long the queue is.
type runner struct {
	d       *Dispatcher
	name    string
	cfg     atomic.Pointer[settings]
	circuit circuit

	work     chan job
	quit     chan struct{}
	stopOnce sync.Once
	// kick wakes the leasing loop when something it waits on changed:
	// settings, the circuit, an earlier retry due time.
	kick chan struct{}
	wg   sync.WaitGroup

	mu          sync.Mutex
	workers     []chan struct{} // one stop channel per worker
	soonest     time.Time       // earliest retry due time this runner set
	pausedUntil time.Time       // set after a store error
	pauseReadAt time.Time       // when the pause state was last read

	// paused is the operator's pause (store.Pauses), not pausedUntil.
	paused atomic.Bool
	pacer  pacer
}

// job is one leased delivery on its way to a worker.
type job struct {
	d     store.Delivery
	probe bool // the one attempt allowed while the circuit is open
	// booking is the attempt's start booked with the rate limit.
	booking booking
}

// start launches a target's leasing loop and workers.
func (d *Dispatcher) start(name string, s *settings) *runner {
	r := &runner{
		d:    d,
		name: name,
		work: make(chan job),
		quit: make(chan struct{}),
		kick: make(chan struct{}, 1),
	}
	r.cfg.Store(s)
	r.pacer.configure(s.RateLimit, s.RateWindow)
	// Watch before the first Lease, so no accept falls in between.
	wake, unwatch := d.st.Watch(name)
	d.running.Add(1)
	r.wg.Add(1)
	go r.leaseLoop(wake)
	r.resize(s.Concurrency)
	go func() {
		defer d.running.Done()
		r.wg.Wait()
		unwatch()
		r.settings().transport.CloseIdleConnections()
	}()
	return r
}

func (r *runner) settings() *settings {
	return r.cfg.Load()
}

// update swaps in new settings; attempts already running finish with the
// old ones.
func (r *runner) update(s *settings) {
	old := r.cfg.Swap(s)
	if old.url != s.url && r.circuit.reset() {
		r.d.obs.OnCircuit(r.name, false)
		r.d.log.Info("circuit closed: target url changed", zap.String("target", r.name))
	}
	if old.transport != s.transport {
		// Connections busy now are closed by their worker when done.
		old.transport.CloseIdleConnections()
	}
	r.pacer.configure(s.RateLimit, s.RateWindow)
	r.resize(s.Concurrency)
	r.poke()
}

// resize starts or stops workers until there are n. A stopped worker
// finishes its current attempt first.
func (r *runner) resize(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.workers) < n {
		stop := make(chan struct{})
		r.workers = append(r.workers, stop)
		r.wg.Add(1)
		go r.worker(stop)
	}
	for len(r.workers) > n {
		last := len(r.workers) - 1
		close(r.workers[last])
		r.workers = r.workers[:last]
	}
}

// stop ends the loop and the workers without waiting for them.
func (r *runner) stop() {
	r.stopOnce.Do(func() { close(r.quit) })
}

func (r *runner) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// noteDue remembers a retry's due time, so the loop wakes for it instead
// of waiting for the next poll.
func (r *runner) noteDue(next time.Time) {
	r.mu.Lock()
	earlier := r.soonest.IsZero() || next.Before(r.soonest)
	if earlier {
		r.soonest = next
	}
	r.mu.Unlock()
	if earlier {
		r.poke()
	}
}

// pause keeps the loop from leasing until t, so a failing store is not
// hammered with Lease calls and the target with repeated attempts.
func (r *runner) pause(t time.Time) {
	r.mu.Lock()
	if t.After(r.pausedUntil) {
		r.pausedUntil = t
	}
	r.mu.Unlock()
}

func (r *runner) leaseLoop(wake <-chan struct{}) {
	defer r.wg.Done()
	clock := r.d.clock
	for {
		jobs, again, deadline := r.next()
		for i := range jobs {
			select {
			case r.work <- jobs[i]:
			case <-r.quit:
				for _, j := range jobs[i:] {
					r.releaseJob(j)
				}
				return
			}
		}
		if again {
			select {
			case <-r.quit:
				return
			default:
				continue
			}
		}
		t := clock.NewTimer(deadline.Sub(clock.Now()))
		select {
		case <-r.quit:
			t.Stop()
			return
		case <-wake:
		case <-r.kick:
		case <-t.C():
		}
		t.Stop()
	}
}

// next leases what the loop may hand out now. again means the batch was
// full, so more may be due at once; otherwise the loop sleeps until
// deadline or a signal.
func (r *runner) next() (jobs []job, again bool, deadline time.Time) {
	now := r.d.clock.Now()
	deadline = now.Add(r.d.poll)
	defer func() {
		if p := recover(); p != nil {
			r.d.log.Error("panic in delivery leasing loop",
				zap.String("target", r.name), zap.Any("panic", p), zap.Stack("stack"))
			jobs, again = nil, false
		}
	}()

	r.mu.Lock()
	paused, soonest := r.pausedUntil, r.soonest
	if !soonest.IsZero() && !soonest.After(now) {
		// This Lease covers it.
		r.soonest, soonest = time.Time{}, time.Time{}
	}
	r.mu.Unlock()
	if now.Before(paused) {
		return nil, false, paused
	}
	// Paused by an operator: nothing is leased, probes included, and the
	// circuit is left as it is.
	if r.checkPause(now); r.paused.Load() {
		return nil, false, deadline
	}

	s := r.settings()
	g := r.circuit.gate(now, r.d.poll)
	if g.wait > 0 {
		return nil, false, now.Add(g.wait)
	}
	limit := max(s.Concurrency, minLeaseBatch)
	if s.RateLimit > 0 {
		// Paced: a bigger batch would only wait, leased, for its turn.
		limit = s.Concurrency
	}
	if g.probe {
		limit = 1
	}
	ds, err := r.d.st.Lease(context.Background(), r.name, limit)
	if err != nil {
		lvl := zap.ErrorLevel
		if errors.Is(err, store.ErrClosed) {
			lvl = zap.DebugLevel
		}
		r.d.log.Log(lvl, "leasing deliveries failed", zap.String("target", r.name), zap.Error(err))
		return nil, false, deadline
	}
	jobs = make([]job, len(ds))
	for i, d := range ds {
		jobs[i] = job{d: d}
	}
	if g.probe {
		if len(jobs) == 1 {
			r.circuit.startProbe()
			jobs[0].probe = true
			r.d.log.Info("probing target with open circuit",
				zap.String("target", r.name), zap.String("event_id", jobs[0].d.Event.ID))
		}
		return jobs, false, deadline
	}
	if len(jobs) == limit {
		return jobs, true, time.Time{}
	}
	if !soonest.IsZero() && soonest.Before(deadline) {
		deadline = soonest
	}
	return jobs, false, deadline
}

func (r *runner) worker(stop <-chan struct{}) {
	defer r.wg.Done()
	st := newSettler()
	// Deferred after wg.Done, so it runs first: the runner only counts as
	// finished once the worker's last outcome is stored.
	defer st.wait()
	for {
		select {
		case <-stop:
			return
		case <-r.quit:
			return
		case j := <-r.work:
			// A worker told to stop may still win the race for a job;
			// it gives it back untried.
			if closed(stop) || closed(r.quit) {
				r.releaseJob(j)
				return
			}
			var ok bool
			if j.booking, ok = r.await(stop); !ok {
				// Paused, or stopping: given back untried.
				r.releaseJob(j)
				continue
			}
			r.handle(j, st)
		}
	}
}

// settler stores one worker's outcomes in the background, at most
// settleDepth at a time.
type settler struct {
	slots chan struct{}
	wg    sync.WaitGroup
}

func newSettler() *settler {
	return &settler{slots: make(chan struct{}, settleDepth)}
}

// run starts f once a slot is free.
func (s *settler) run(f func()) {
	s.slots <- struct{}{}
	s.wg.Add(1)
	go func() {
		defer func() {
			<-s.slots
			s.wg.Done()
		}()
		f()
	}()
}

// wait returns once every started f has returned.
func (s *settler) wait() {
	s.wg.Wait()
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// releaseJob gives a job back to the queue untried.
func (r *runner) releaseJob(j job) {
	r.d.st.Release(j.d)
	if j.probe {
		r.circuit.abandonProbe()
		r.poke()
	}
}
