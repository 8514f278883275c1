package relay

import (
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

func TestCircuitRecord(t *testing.T) {
	s := &settings{TargetConfig: TargetConfig{BreakerThreshold: 3, BackoffFirst: time.Second, BackoffCap: 5 * time.Second}}
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	type step struct {
		v       verdict
		probe   bool
		open    bool          // after the step
		changed bool          // the step opened or closed the circuit
		next    time.Duration // NextProbe after t0, when open
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "failures below the threshold keep it closed", steps: []step{
			{v: verdictRetry}, {v: verdictRetry},
		}},
		{name: "opens at the threshold", steps: []step{
			{v: verdictRetry}, {v: verdictRetry}, {v: verdictRetry, open: true, changed: true, next: time.Second},
		}},
		{name: "a success resets the count", steps: []step{
			{v: verdictRetry}, {v: verdictRetry}, {v: verdictDelivered}, {v: verdictRetry}, {v: verdictRetry},
		}},
		{name: "a permanent refusal means the target is up", steps: []step{
			{v: verdictRetry}, {v: verdictRetry}, {v: verdictPermanent}, {v: verdictRetry}, {v: verdictRetry},
		}},
		{name: "an unsendable event says nothing about the target", steps: []step{
			{v: verdictRetry}, {v: verdictRetry}, {v: verdictUnsendable}, {v: verdictRetry, open: true, changed: true, next: time.Second},
			{v: verdictUnsendable, probe: true, open: true, next: time.Second},
		}},
		{name: "failed probes back off up to the cap", steps: []step{
			{v: verdictRetry}, {v: verdictRetry}, {v: verdictRetry, open: true, changed: true, next: time.Second},
			{v: verdictRetry, probe: true, open: true, next: 2 * time.Second},
			{v: verdictRetry, probe: true, open: true, next: 4 * time.Second},
			{v: verdictRetry, probe: true, open: true, next: 5 * time.Second},
			{v: verdictRetry, probe: true, open: true, next: 5 * time.Second},
		}},
		{name: "late failures of attempts started before opening do not move the probe", steps: []step{
			{v: verdictRetry}, {v: verdictRetry}, {v: verdictRetry, open: true, changed: true, next: time.Second},
			{v: verdictRetry, open: true, next: time.Second},
		}},
		{name: "the first probe success closes it", steps: []step{
			{v: verdictRetry}, {v: verdictRetry}, {v: verdictRetry, open: true, changed: true, next: time.Second},
			{v: verdictRetry, probe: true, open: true, next: 2 * time.Second},
			{v: verdictDelivered, probe: true, changed: true},
			{v: verdictRetry}, {v: verdictRetry},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c circuit
			for i, st := range tc.steps {
				changed, open := c.record(st.v, st.probe, t0, s)
				got := c.state()
				if changed != st.changed || open != st.open || got.Open != st.open {
					t.Fatalf("step %d: changed %v open %v (state %+v), want changed %v open %v", i, changed, open, got, st.changed, st.open)
				}
				if st.open && !got.NextProbe.Equal(t0.Add(st.next)) {
					t.Fatalf("step %d: next probe in %s, want %s", i, got.NextProbe.Sub(t0), st.next)
				}
			}
		})
	}
}

func TestCircuitGate(t *testing.T) {
	s := &settings{TargetConfig: TargetConfig{BreakerThreshold: 1, BackoffFirst: time.Second, BackoffCap: time.Minute}}
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	var c circuit
	if g := c.gate(t0, time.Second); g.probe || g.wait != 0 {
		t.Fatalf("closed circuit gate %+v, want lease normally", g)
	}
	c.record(verdictRetry, false, t0, s)
	if g := c.gate(t0.Add(300*time.Millisecond), time.Second); g.wait != 700*time.Millisecond {
		t.Fatalf("open circuit gate %+v, want wait 700ms", g)
	}
	if g := c.gate(t0.Add(time.Second), time.Second); !g.probe {
		t.Fatalf("gate at the probe time %+v, want a probe", g)
	}
	c.startProbe()
	if g := c.gate(t0.Add(2*time.Second), 250*time.Millisecond); g.probe || g.wait != 250*time.Millisecond {
		t.Fatalf("gate with a probe out %+v, want wait for it", g)
	}
	c.abandonProbe()
	if g := c.gate(t0.Add(2*time.Second), time.Second); !g.probe {
		t.Fatalf("gate after an abandoned probe %+v, want another probe", g)
	}
}

func TestCircuitBreakerIsolatesTargets(t *testing.T) {
	var downOK atomic.Bool
	down := newReceiver(t, func(w http.ResponseWriter, r *http.Request, hit int) {
		if downOK.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		hang(w, r, hit)
	})
	app := newReceiver(t, status(http.StatusOK))
	obs := &recordingObserver{}
	// Jitter 0: failed deliveries are due again at once, so the circuit is
	// all that holds them back.
	h := newHarness(t, "", DispatcherOptions{Jitter: func() float64 { return 0 }, Observer: obs})
	downCfg := target("down", down.URL)
	downCfg.Timeout = 150 * time.Millisecond
	downCfg.Concurrency = 2
	downCfg.BreakerThreshold = 3
	h.d.SetTargets([]TargetConfig{downCfg, target("app", app.URL)})

	const events = 200
	for i := range events {
		mustAccept(t, h.in, testEvent(fmt.Sprintf("e%d", i), "app", "down"))
	}
	waitFor(t, "all events at the healthy target", func() bool { return app.total.Load() == events })
	waitFor(t, "the circuit to open", func() bool { return h.d.Circuits()["down"].Open })
	waitFor(t, "in-flight attempts to end", func() bool {
		return int64(obs.count("down/"+ResultRetry)) == down.total.Load()
	})
	if app.total.Load() != events || len(app.duplicates()) != 0 {
		t.Fatalf("healthy target got %d requests with duplicates %v, want each of %d once", app.total.Load(), app.duplicates(), events)
	}
	// Threshold plus at most the attempts already in flight.
	if n := down.total.Load(); n > 3+2 {
		t.Errorf("down target got %d attempts with its circuit open, want at most 5", n)
	}
	open := h.d.Circuits()["down"]
	if !open.OpenedAt.Equal(h.clock.Now()) || !open.NextProbe.Equal(h.clock.Now().Add(time.Second)) {
		t.Errorf("circuit %+v, want opened now and probing in 1s", open)
	}

	// The first probe fails (hangs): one attempt, next probe 2s later.
	before := down.total.Load()
	t1 := h.clock.Advance(time.Second)
	waitFor(t, "a failed probe", func() bool {
		return h.d.Circuits()["down"].NextProbe.Equal(t1.Add(2 * time.Second))
	})
	if n := down.total.Load() - before; n != 1 {
		t.Errorf("%d probe attempts, want 1", n)
	}

	// The target recovers; the next probe closes the circuit and the
	// backlog drains.
	downOK.Store(true)
	h.clock.Advance(2 * time.Second)
	waitFor(t, "the circuit to close", func() bool { return !h.d.Circuits()["down"].Open })
	waitFor(t, "the backlog at the recovered target", func() bool {
		st, err := h.in.Stats(bg)
		return err == nil && st["down"].Pending == 0
	})
	for i := range events {
		if s := h.state(t, fmt.Sprintf("e%d", i), "down"); s.Status != store.StatusDelivered {
			t.Fatalf("e%d to down is %s, want delivered", i, s.Status)
		}
	}
	if got := obs.circuitLog(); !slices.Equal(got, []string{"down=open", "down=closed"}) {
		t.Errorf("circuit events %v, want [down=open down=closed]", got)
	}
}

func TestFanOutRetriesIndependently(t *testing.T) {
	var aOK atomic.Bool
	a := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		if aOK.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	})
	b := newReceiver(t, status(http.StatusOK))
	h := newHarness(t, "", DispatcherOptions{})
	h.d.SetTargets([]TargetConfig{target("a", a.URL), target("b", b.URL)})
	mustAccept(t, h.in, testEvent("fan", "a", "b"))

	waitFor(t, "delivery to b", h.statusIs("fan", "b", store.StatusDelivered))
	waitFor(t, "the first attempt at a", h.runAttempts("fan", "a", 1))
	if st := h.state(t, "fan", "a"); st.Status != store.StatusPending || st.RunAttempts != 1 {
		t.Fatalf("a is %s after %d attempts, want pending after 1", st.Status, st.RunAttempts)
	}
	aOK.Store(true)
	advanceUntil(t, h.clock, 100*time.Millisecond, "delivery to a", h.statusIs("fan", "a", store.StatusDelivered))
	if a.count("fan") != 2 || b.count("fan") != 1 {
		t.Errorf("a received %d, b %d; want 2 and 1", a.count("fan"), b.count("fan"))
	}
	if rec := mustGet(t, h.in, "fan"); rec.Status != store.StatusDelivered {
		t.Errorf("event status %s, want delivered", rec.Status)
	}
}
