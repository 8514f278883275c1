package relay

import (
	"sync"
	"time"
)

// CircuitState is one target's circuit breaker as Dispatcher.Circuits
// reports it.
type CircuitState struct {
	// Open is true while the target is paused: only one probe attempt at a
	// time is made, at NextProbe.
	Open bool `json:"open"`
	// ConsecutiveFailures counts retryable failures since the last
	// attempt the target answered properly (2xx, or a permanent refusal).
	ConsecutiveFailures int `json:"consecutive_failures"`
	// OpenedAt is when the circuit opened; zero while closed.
	OpenedAt time.Time `json:"opened_at,omitzero"`
	// NextProbe is when the next probe may start; zero while closed.
	NextProbe time.Time `json:"next_probe,omitzero"`
}

// circuit is one target's breaker. Only retryable failures count: a
// permanent 4xx means the target is up and judged the event, so it resets
// the count like a success does. An unsendable event never reached the
// target's judgement, so it changes nothing.
type circuit struct {
	mu           sync.Mutex
	failures     int
	open         bool
	openedAt     time.Time
	nextProbe    time.Time
	failedProbes int
	probing      bool
}

// gate is what the leasing loop may do now.
type gate struct {
	probe bool          // lease a single probe
	wait  time.Duration // > 0: lease nothing, look again after this
}

// gate tells the leasing loop whether it may lease normally, may lease one
// probe, or must wait (while a probe is out it waits for the probe's
// result, which kicks the loop; poll bounds the wait).
func (c *circuit) gate(now time.Time, poll time.Duration) gate {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !c.open:
		return gate{}
	case c.probing:
		return gate{wait: poll}
	case now.Before(c.nextProbe):
		return gate{wait: c.nextProbe.Sub(now)}
	}
	return gate{probe: true}
}

// isOpen reports whether ordinary attempts must hold back.
func (c *circuit) isOpen() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open
}

// startProbe marks a probe as out, so no second one starts.
func (c *circuit) startProbe() {
	c.mu.Lock()
	c.probing = true
	c.mu.Unlock()
}

// abandonProbe forgets a probe that made no attempt (released, or its
// worker panicked); the next one may start at once.
func (c *circuit) abandonProbe() {
	c.mu.Lock()
	c.probing = false
	c.mu.Unlock()
}

// record folds an attempt's verdict into the breaker and reports whether
// the circuit opened or closed because of it, and whether it is open now.
// A probe's failure pushes the next probe out like a backoff (first,
// 2×first, … up to the cap).
func (c *circuit) record(v verdict, probe bool, now time.Time, s *settings) (changed, open bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if probe {
		c.probing = false
	}
	if v == verdictUnsendable {
		return false, c.open
	}
	if v != verdictRetry {
		c.failures = 0
		if !c.open {
			return false, false
		}
		c.open, c.openedAt, c.nextProbe, c.failedProbes = false, time.Time{}, time.Time{}, 0
		return true, false
	}
	c.failures++
	switch {
	case c.open && probe:
		c.failedProbes++
		c.nextProbe = now.Add(ceilingDelay(c.failedProbes+1, s.BackoffFirst, s.BackoffCap))
	case !c.open && c.failures >= s.BreakerThreshold:
		c.open, c.openedAt, c.failedProbes = true, now, 0
		c.nextProbe = now.Add(s.BackoffFirst)
		return true, true
	}
	return false, c.open
}

// reset closes the circuit, for a target whose URL changed: the new
// endpoint has not failed yet. It reports whether the circuit was open.
func (c *circuit) reset() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	was := c.open
	c.failures, c.open, c.openedAt, c.nextProbe, c.failedProbes = 0, false, time.Time{}, time.Time{}, 0
	return was
}

func (c *circuit) state() CircuitState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CircuitState{
		Open:                c.open,
		ConsecutiveFailures: c.failures,
		OpenedAt:            c.openedAt,
		NextProbe:           c.nextProbe,
	}
}
