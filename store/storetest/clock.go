package storetest

import (
	"slices"
	"sync"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// Epoch is where a Clock made by NewClock with a zero start begins.
var Epoch = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// Clock is a store.Clock that moves only when told: Set and Advance move
// it and fire the timers whose time has come. It is safe for concurrent
// use; backends' and the dispatcher's tests share one.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
}

// NewClock returns a Clock reading start, or Epoch when start is zero.
func NewClock(start time.Time) *Clock {
	if start.IsZero() {
		start = Epoch
	}
	return &Clock{now: start}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d, fires the timers now due and
// returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(c.now.Add(d))
	return c.now
}

// Set moves the clock to t (backwards too) and fires the timers now due.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(t)
}

func (c *Clock) setLocked(t time.Time) {
	c.now = t
	kept := c.timers[:0]
	for _, tm := range c.timers {
		if tm.at.After(t) {
			kept = append(kept, tm)
			continue
		}
		tm.ch <- t // capacity one, sent once: never blocks
	}
	clear(c.timers[len(kept):])
	c.timers = kept
}

// NewTimer returns a timer that fires once the clock has moved d past
// now; d <= 0 fires at once.
func (c *Clock) NewTimer(d time.Duration) store.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	tm := &timer{c: c, ch: make(chan time.Time, 1), at: c.now.Add(d)}
	if d <= 0 {
		tm.ch <- c.now
		return tm
	}
	c.timers = append(c.timers, tm)
	return tm
}

// Timers returns how many timers are waiting to fire, so a test can wait
// until the code under test sleeps before it moves the clock.
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Next returns when the earliest waiting timer fires, and false when none
// waits.
func (c *Clock) Next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var next time.Time
	for _, tm := range c.timers {
		if next.IsZero() || tm.at.Before(next) {
			next = tm.at
		}
	}
	return next, !next.IsZero()
}

type timer struct {
	c  *Clock
	ch chan time.Time
	at time.Time
}

func (t *timer) C() <-chan time.Time { return t.ch }

// Stop keeps the timer from firing and reports whether it was waiting.
func (t *timer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, tm := range c.timers {
		if tm == t {
			c.timers = slices.Delete(c.timers, i, i+1)
			return true
		}
	}
	return false
}

var _ store.Clock = (*Clock)(nil)
