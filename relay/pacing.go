package relay

import (
	"context"
	"fmt"
	"net/http/httptrace"
	"sync"
	"time"
)

// The guard added to a rate limit's window: attempts are paced against a
// window longer than configured by 2% of it, at least minPaceGuard and at
// most 10%. The pace is kept on the dispatcher's clock when each attempt
// starts, and the app sees the requests a little later, each after its
// own scheduling and network delay; without the guard an attempt started
// exactly one window after another could reach the app a hair less than a
// window after it and make N+1 in the app's window. On a loaded machine
// those delays differ by tens of milliseconds (module's
// TestRateLimitThroughCaddy saw 27 in a second with a 20 ms guard).
const (
	paceGuardDivisor = 50
	minPaceGuard     = 50 * time.Millisecond
)

// paceGuard is the guard for window.
func paceGuard(window time.Duration) time.Duration {
	return min(max(window/paceGuardDivisor, minPaceGuard), window/10)
}

// pacer is one target's rate_limit: a sliding window log of the last
// limit attempt start times, shared by the target's workers, its circuit
// probes and its replays (they all go through a worker). An attempt may
// start once the limit-th most recent start is a window (plus the guard)
// behind it, so no window-long interval, wherever it starts, holds more
// than limit starts. A token bucket that starts full would let almost
// 2×limit through in the first window after an idle spell; the log
// never does.
type pacer struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	starts []time.Time // ring of the last limit reserved start times
	next   int         // index of the oldest, overwritten next
	latest time.Time   // the latest start reserved
}

// configure sets the limit (zero: none) and keeps the most recent starts,
// so a reload does not reopen a window that is already full.
func (p *pacer) configure(limit int, window time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if limit == p.limit && window == p.window {
		return
	}
	old := make([]time.Time, 0, len(p.starts))
	for i := range p.starts {
		old = append(old, p.starts[(p.next+i)%len(p.starts)])
	}
	p.limit, p.window, p.next = limit, window, 0
	p.starts = make([]time.Time, limit)
	if limit == 0 {
		return
	}
	// Oldest first: the newest limit starts go to the ring's tail.
	if len(old) > limit {
		old = old[len(old)-limit:]
	}
	copy(p.starts[limit-len(old):], old)
}

// reserve books the next attempt's start: the earliest time at or after
// now at which it keeps the limit, and the booking's place for started.
// The caller waits until then. A booked start that is not used (the
// worker stopped, the target was paused) is not given back: the pace only
// ever errs on the slow side.
func (p *pacer) reserve(now time.Time) (time.Time, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.limit == 0 {
		return now, -1
	}
	at := now
	if free := p.starts[p.next].Add(p.window + paceGuard(p.window)); free.After(at) {
		at = free
	}
	slot := p.next
	p.starts[slot] = at
	p.next = (p.next + 1) % p.limit
	if at.After(p.latest) {
		p.latest = at
	}
	return at, slot
}

// started records that the attempt booked at at in slot really starts at
// now, later than booked when its worker woke late: the bookings that
// follow keep their distance from when it started, not from when it
// should have. A booking already reused (limit bookings later) is left.
func (p *pacer) started(slot int, at, now time.Time) {
	if slot < 0 || !now.After(at) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if slot < len(p.starts) && p.starts[slot].Equal(at) {
		p.starts[slot] = now
		if now.After(p.latest) {
			p.latest = now
		}
	}
}

// heldBackUntil returns the latest booked start when it is still to come:
// an attempt is waiting for the rate limit until then.
func (p *pacer) heldBackUntil(now time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.limit == 0 || !p.latest.After(now) {
		return time.Time{}, false
	}
	return p.latest, true
}

// booking is one attempt's start booked with its target's pacer; slot -1
// when the target has no rate limit.
type booking struct {
	slot int
	at   time.Time
}

// paceTrace returns the context an attempt is sent with: under a rate
// limit it records, once the request is written to the connection, when
// the attempt really started, so a slow dial or a late wake-up does not
// let the next attempts come closer to it than the window.
func (r *runner) paceTrace(j job) context.Context {
	ctx := context.Background()
	if j.booking.slot < 0 || j.booking.at.IsZero() {
		return ctx
	}
	b := j.booking
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) {
			r.pacer.started(b.slot, b.at, r.d.clock.Now())
		},
	})
}

// validRate checks a rate limit: both zero (none) or both positive.
func validRate(n int, window time.Duration) error {
	switch {
	case n == 0 && window == 0:
		return nil
	case n <= 0 || window <= 0:
		return fmt.Errorf("rate limit %d per %s: both must be positive", n, window)
	case n > maxRateLimit:
		return fmt.Errorf("rate limit %d is above %d", n, maxRateLimit)
	}
	return nil
}

// maxRateLimit bounds N: the pacer keeps one start time per allowed
// attempt.
const maxRateLimit = 100_000
