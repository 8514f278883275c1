package relay

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

func TestPause(t *testing.T) {
	tests := []struct {
		name string
		// pausedBy pauses the target: through the dispatcher, or
		// through the store as another gateway sharing it would.
		pausedBy string
		// failing makes the target answer 503 until resumed, with its
		// circuit open before the pause.
		failing bool
	}{
		{name: "through the dispatcher", pausedBy: "dispatcher"},
		{name: "by another gateway, read on the poll", pausedBy: "store"},
		{name: "with an open circuit: no probes while paused", pausedBy: "dispatcher", failing: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rv := newReceiver(t, status(http.StatusOK))
			obs := &recordingObserver{}
			h := newHarness(t, "", DispatcherOptions{PollInterval: 50 * time.Millisecond, Observer: obs})
			cfg := target("app", rv.URL)
			cfg.BreakerThreshold, cfg.BackoffFirst, cfg.BackoffCap = 1, time.Second, time.Second
			h.d.SetTargets([]TargetConfig{cfg})
			if tc.failing {
				rv.setRespond(status(http.StatusServiceUnavailable))
				mustAccept(t, h.in, testEvent("evt_fail", "app"))
				waitFor(t, "the circuit to open", func() bool { return h.d.Circuits()["app"].Open })
			}
			switch tc.pausedBy {
			case "dispatcher":
				if err := h.d.SetPaused(bg, "app", true); err != nil {
					t.Fatal(err)
				}
			case "store":
				if err := h.in.SetPaused(bg, "app", true); err != nil {
					t.Fatal(err)
				}
				advanceUntil(t, h.clock, 50*time.Millisecond, "the pause to be read", func() bool { return h.d.Statuses()["app"].Paused })
			}
			before := rv.total.Load()
			const n = 5
			for i := range n {
				mustAccept(t, h.in, testEvent(fmt.Sprintf("evt_%d", i), "app"))
			}
			// Two minutes of fake time: retries and probes would all be
			// due many times over.
			for range 40 {
				h.clock.Advance(3 * time.Second)
				time.Sleep(2 * time.Millisecond)
			}
			if got := rv.total.Load(); got != before {
				t.Fatalf("%d requests while paused, want none", got-before)
			}
			if !h.d.Statuses()["app"].Paused {
				t.Fatal("stats do not show the target paused")
			}
			if tc.failing && h.d.Circuits()["app"].ConsecutiveFailures != 1 {
				t.Errorf("circuit %+v changed while paused", h.d.Circuits()["app"])
			}
			rv.setRespond(status(http.StatusOK))
			if err := h.d.SetPaused(bg, "app", false); err != nil {
				t.Fatal(err)
			}
			advanceUntil(t, h.clock, 200*time.Millisecond, "the backlog", func() bool {
				for i := range n {
					if !h.statusIs(fmt.Sprintf("evt_%d", i), "app", store.StatusDelivered)() {
						return false
					}
				}
				return true
			})
			for i := range n {
				if c := rv.count(fmt.Sprintf("evt_%d", i)); c != 1 {
					t.Errorf("evt_%d arrived %d times, want once", i, c)
				}
			}
			if log := obs.circuitLog(); tc.failing != (len(log) > 0) {
				t.Errorf("circuit changes %v", log)
			}
		})
	}
}

func TestPauseSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	rv := newReceiver(t, status(http.StatusOK))
	h := newHarness(t, dir, DispatcherOptions{PollInterval: 50 * time.Millisecond})
	h.d.SetTargets([]TargetConfig{target("app", rv.URL)})
	if err := h.d.SetPaused(bg, "app", true); err != nil {
		t.Fatal(err)
	}
	mustAccept(t, h.in, testEvent("evt_kept", "app"))
	_ = h.d.Close()
	_ = h.in.Close()

	h2 := newHarnessAt(t, dir, h.clock, DispatcherOptions{PollInterval: 50 * time.Millisecond})
	h2.d.SetTargets([]TargetConfig{target("app", rv.URL)})
	for range 20 {
		h2.clock.Advance(time.Second)
		time.Sleep(2 * time.Millisecond)
	}
	if rv.total.Load() != 0 || !h2.d.Statuses()["app"].Paused {
		t.Fatalf("%d requests after a restart, paused %v; want none, paused", rv.total.Load(), h2.d.Statuses()["app"].Paused)
	}
	if err := h2.d.SetPaused(bg, "app", false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery after resume", h2.statusIs("evt_kept", "app", store.StatusDelivered))
}
