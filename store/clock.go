package store

import "time"

// Clock tells the time and makes timers. Tests inject a clock they move by
// hand, so no test waits out a real backoff or retention. It is injected
// once, into the backend; the dispatcher reads it from Store.Clock.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that fires once d has passed on this
	// clock; d <= 0 fires at once.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer made by a Clock.
type Timer interface {
	// C returns the channel the timer sends its time on when it fires.
	C() <-chan time.Time
	// Stop keeps the timer from firing and reports whether it was pending.
	Stop() bool
}

// WallClock is the real clock.
var WallClock Clock = wallClock{}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) NewTimer(d time.Duration) Timer { return wallTimer{time.NewTimer(d)} }

type wallTimer struct{ t *time.Timer }

func (t wallTimer) C() <-chan time.Time { return t.t.C }

func (t wallTimer) Stop() bool { return t.t.Stop() }
