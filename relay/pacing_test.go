package relay

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// maxInWindow is the most of the sorted times that any window-long
// half-open interval holds; the busiest interval starts at one of them.
func maxInWindow(times []time.Time, window time.Duration) int {
	most := 0
	for i, start := range times {
		n := 0
		for _, t := range times[i:] {
			if t.Sub(start) >= window {
				break
			}
			n++
		}
		most = max(most, n)
	}
	return most
}

func TestPacer(t *testing.T) {
	epoch := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		limit  int
		window time.Duration
		// asks are the times (offsets from epoch) at which attempts ask
		// to start.
		asks []time.Duration
	}{
		{name: "burst after an idle spell", limit: 5, window: time.Second, asks: repeat(0, 23)},
		{name: "asks spread over the window", limit: 3, window: time.Second,
			asks: []time.Duration{0, 300 * time.Millisecond, 600 * time.Millisecond, 900 * time.Millisecond, 1200 * time.Millisecond, 1250 * time.Millisecond}},
		{name: "a limit of one", limit: 1, window: 100 * time.Millisecond, asks: repeat(0, 10)},
		{name: "no limit", limit: 0, asks: repeat(0, 10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p pacer
			p.configure(tc.limit, tc.window)
			var starts []time.Time
			for _, ask := range tc.asks {
				at, _ := p.reserve(epoch.Add(ask))
				if at.Before(epoch.Add(ask)) {
					t.Fatalf("start %s before its ask %s", at.Sub(epoch), ask)
				}
				starts = append(starts, at)
			}
			if tc.limit == 0 {
				if !slices.Equal(starts, slices.Repeat([]time.Time{epoch}, len(tc.asks))) {
					t.Fatalf("unlimited starts %v, want all at once", starts)
				}
				return
			}
			slices.SortFunc(starts, time.Time.Compare)
			if n := maxInWindow(starts, tc.window); n > tc.limit {
				t.Fatalf("%d starts in one %s window, want at most %d", n, tc.window, tc.limit)
			}
			// Not slower than needed: the guard aside, each start is
			// due when the limit-th start before it leaves the window.
			last := starts[len(starts)-1].Sub(epoch)
			rounds := (len(tc.asks) - 1) / tc.limit
			if bound := time.Duration(rounds)*(tc.window+paceGuard(tc.window)) + tc.asks[len(tc.asks)-1]; last > bound {
				t.Errorf("last start at %s, later than %s", last, bound)
			}
		})
	}
}

func TestPacerLateStart(t *testing.T) {
	epoch := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	var p pacer
	p.configure(1, time.Second)
	at, slot := p.reserve(epoch)
	p.started(slot, at, epoch.Add(300*time.Millisecond)) // woke late
	next, _ := p.reserve(epoch)
	if want := epoch.Add(300*time.Millisecond + time.Second + paceGuard(time.Second)); !next.Equal(want) {
		t.Fatalf("next start %s after a late start, want %s", next.Sub(epoch), want.Sub(epoch))
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	return slices.Repeat([]time.Duration{d}, n)
}

func TestPacerReconfigureKeepsRecentStarts(t *testing.T) {
	epoch := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	var p pacer
	p.configure(4, time.Second)
	for range 4 {
		p.reserve(epoch)
	}
	p.configure(2, time.Second)
	if at, _ := p.reserve(epoch); !at.After(epoch) {
		t.Fatalf("a smaller limit after a full window lets an attempt start at once")
	}
}

func TestRateLimitPacesAttempts(t *testing.T) {
	rv := newReceiver(t, status(http.StatusOK))
	h := newHarness(t, "", DispatcherOptions{PollInterval: 50 * time.Millisecond})
	cfg := target("app", rv.URL)
	cfg.Concurrency, cfg.RateLimit, cfg.RateWindow = 4, 3, time.Second
	const n = 14
	for i := range n {
		mustAccept(t, h.in, testEvent(fmt.Sprintf("evt_%02d", i), "app"))
	}
	h.d.SetTargets([]TargetConfig{cfg})
	heldBack := false
	advanceUntil(t, h.clock, 50*time.Millisecond, "every delivery", func() bool {
		heldBack = heldBack || h.d.Statuses()["app"].RateLimited
		return rv.total.Load() == n
	})
	var starts []time.Time
	for i := range n {
		st := h.state(t, fmt.Sprintf("evt_%02d", i), "app")
		if st.Status != store.StatusDelivered || len(st.Attempts) != 1 {
			t.Fatalf("evt_%02d: %s after %d attempts, want delivered at the first", i, st.Status, len(st.Attempts))
		}
		starts = append(starts, st.Attempts[0].At)
	}
	slices.SortFunc(starts, time.Time.Compare)
	if most := maxInWindow(starts, time.Second); most > 3 {
		t.Errorf("%d attempts in one second, want at most 3", most)
	}
	if !heldBack {
		t.Errorf("stats never showed the target held back by its rate limit")
	}
}

// TestRateLimitWithPacedReplay: a bulk replay's own pace (its due times)
// and the target's rate limit both hold, whichever is slower.
func TestRateLimitWithPacedReplay(t *testing.T) {
	tests := []struct {
		name     string
		interval time.Duration // the replay's spacing
		limit    int           // per second
	}{
		{name: "the limit is slower", interval: 10 * time.Millisecond, limit: 3},
		{name: "the replay is slower", interval: 500 * time.Millisecond, limit: 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rv := newReceiver(t, status(http.StatusBadRequest))
			h := newHarness(t, "", DispatcherOptions{PollInterval: 50 * time.Millisecond})
			cfg := target("app", rv.URL)
			cfg.RateLimit, cfg.RateWindow = tc.limit, time.Second
			const n = 8
			for i := range n {
				mustAccept(t, h.in, testEvent(fmt.Sprintf("evt_%d", i), "app"))
			}
			h.d.SetTargets([]TargetConfig{cfg})
			advanceUntil(t, h.clock, 100*time.Millisecond, "dead letters", func() bool {
				st, _ := h.in.Stats(bg)
				return st["app"].Dead == n
			})
			rv.setRespond(status(http.StatusOK))
			replayedAt := h.clock.Now()
			if got, err := h.in.ReplayDead(bg, "app", nil, store.ReplayOptions{Interval: tc.interval}); err != nil || got != n {
				t.Fatalf("ReplayDead = %d, %v", got, err)
			}
			advanceUntil(t, h.clock, 10*time.Millisecond, "the replayed deliveries", func() bool {
				st, _ := h.in.Stats(bg)
				return st["app"].Pending == 0 && rv.total.Load() == 2*n
			})
			var starts []time.Time
			for i := range n {
				st := h.state(t, fmt.Sprintf("evt_%d", i), "app")
				at := st.Attempts[len(st.Attempts)-1].At
				if want := replayedAt.Add(time.Duration(i) * tc.interval); at.Before(want) {
					t.Errorf("evt_%d replayed at +%s, before its due time +%s", i, at.Sub(replayedAt), want.Sub(replayedAt))
				}
				starts = append(starts, at)
			}
			slices.SortFunc(starts, time.Time.Compare)
			if most := maxInWindow(starts, time.Second); most > tc.limit {
				t.Errorf("%d replayed attempts in one second, want at most %d", most, tc.limit)
			}
		})
	}
}
