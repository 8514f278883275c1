package relay

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestNewEventIsDeliveredWithoutPolling(t *testing.T) {
	rv := newReceiver(t, status(http.StatusOK))
	// An hour-long poll on a clock that never moves: only the store's
	// signal can start these deliveries.
	h := newHarness(t, "", DispatcherOptions{PollInterval: time.Hour})
	h.d.SetTargets([]TargetConfig{target("app", rv.URL)})
	for i := range 3 {
		id := fmt.Sprintf("e%d", i)
		mustAccept(t, h.in, testEvent(id, "app"))
		waitFor(t, "delivery of "+id, h.statusIs(id, "app", store.StatusDelivered))
	}
}

func TestSetTargetsRemoveAndReAdd(t *testing.T) {
	rv := newReceiver(t, status(http.StatusOK))
	h := newHarness(t, "", DispatcherOptions{})
	app := target("app", rv.URL)
	h.d.SetTargets([]TargetConfig{app})
	mustAccept(t, h.in, testEvent("before", "app"))
	waitFor(t, "delivery", h.statusIs("before", "app", store.StatusDelivered))

	h.d.SetTargets(nil)
	if _, ok := h.d.Circuits()["app"]; ok {
		t.Fatal("removed target still listed")
	}
	for i := range 5 {
		mustAccept(t, h.in, testEvent(fmt.Sprintf("orphan%d", i), "app"))
	}
	stats, err := h.in.Stats(bg)
	if err != nil {
		t.Fatal(err)
	}
	if stats["app"].Pending != 5 {
		t.Fatalf("pending for the removed target = %d, want 5", stats["app"].Pending)
	}
	// Nothing must arrive while the target is gone; a moment of real
	// time (and of the fake clock) gives a stray loop its chance.
	h.clock.Advance(5 * time.Second)
	time.Sleep(100 * time.Millisecond)
	if n := rv.total.Load(); n != 1 {
		t.Fatalf("removed target received %d requests, want only the first", n)
	}

	h.d.SetTargets([]TargetConfig{app})
	for i := range 5 {
		waitFor(t, "delivery of an orphan", h.statusIs(fmt.Sprintf("orphan%d", i), "app", store.StatusDelivered))
	}
	if d := rv.duplicates(); len(d) != 0 {
		t.Errorf("duplicates %v", d)
	}
}

func TestSetTargetsChangesApply(t *testing.T) {
	first := newReceiver(t, status(http.StatusOK))
	second := newReceiver(t, status(http.StatusOK))
	h := newHarness(t, "", DispatcherOptions{})
	cfg := target("app", first.URL)
	cfg.Concurrency = 1
	h.d.SetTargets([]TargetConfig{cfg})
	accept := func(prefix string, n int) {
		for i := range n {
			mustAccept(t, h.in, testEvent(fmt.Sprintf("%s%d", prefix, i), "app"))
		}
	}
	accept("one", 20)
	waitFor(t, "20 deliveries with one worker", func() bool { return first.total.Load() == 20 })

	cfg.Concurrency = 16
	cfg.Headers = http.Header{"X-Config": {"v2"}}
	h.d.SetTargets([]TargetConfig{cfg})
	accept("sixteen", 50)
	waitFor(t, "50 deliveries with 16 workers", func() bool { return first.total.Load() == 70 })
	if got := first.requests("sixteen49")[0].Get("X-Config"); got != "v2" {
		t.Errorf("header after reload %q, want v2", got)
	}

	cfg.URL = second.URL
	h.d.SetTargets([]TargetConfig{cfg})
	accept("moved", 10)
	waitFor(t, "deliveries to the new URL", func() bool { return second.total.Load() == 10 })
	if d := first.duplicates(); len(d) != 0 {
		t.Errorf("duplicates %v", d)
	}
}

func TestSetTargetsRapidReloadsDeliverOnce(t *testing.T) {
	rv := newReceiver(t, status(http.StatusOK))
	h := newHarness(t, "", DispatcherOptions{})
	base := target("app", rv.URL)
	h.d.SetTargets([]TargetConfig{base})
	const events = 400
	go func() {
		for i := range events {
			if _, err := h.in.Accept(t.Context(), testEvent(fmt.Sprintf("e%d", i), "app")); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := range 20 {
		cfg := base
		cfg.Concurrency = 1 + i%16
		cfg.Timeout = time.Duration(1+i%3) * time.Second
		switch i % 5 {
		case 2:
			h.d.SetTargets(nil)
		case 4:
			h.d.SetTargets([]TargetConfig{cfg, target("other", rv.URL)})
		default:
			h.d.SetTargets([]TargetConfig{cfg})
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.d.SetTargets([]TargetConfig{base})
	waitFor(t, "every event delivered", func() bool {
		st, err := h.in.Stats(bg)
		return err == nil && rv.total.Load() >= events && st["app"].Pending == 0
	})
	if d := rv.duplicates(); len(d) != 0 {
		t.Errorf("delivered more than once: %v", d)
	}
	if n := rv.total.Load(); n != events {
		t.Errorf("%d requests, want %d", n, events)
	}
}

func TestCloseWhileInFlightThenRedeliver(t *testing.T) {
	dir := t.TempDir()
	release := make(chan struct{})
	var started atomic.Int64
	slow := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		started.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	h := newHarness(t, dir, DispatcherOptions{})
	cfg := target("app", slow.URL)
	cfg.Concurrency = 4
	h.d.SetTargets([]TargetConfig{cfg})
	const events = 40
	for i := range events {
		mustAccept(t, h.in, testEvent(fmt.Sprintf("e%d", i), "app"))
	}
	waitFor(t, "attempts in flight", func() bool { return started.Load() == 4 })

	closed := make(chan error)
	go func() { closed <- h.d.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while attempts were in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if n := started.Load(); n != 4 {
		t.Errorf("%d attempts started, want only the 4 in flight at Close", n)
	}
	if err := h.in.Close(); err != nil {
		t.Fatal(err)
	}

	fast := newReceiver(t, status(http.StatusOK))
	h2 := newHarnessAt(t, dir, h.clock, DispatcherOptions{})
	cfg.URL = fast.URL
	h2.d.SetTargets([]TargetConfig{cfg})
	for i := range events {
		id := fmt.Sprintf("e%d", i)
		waitFor(t, "delivery of "+id, h2.statusIs(id, "app", store.StatusDelivered))
		if slow.count(id)+fast.count(id) != 1 {
			t.Errorf("%s received %d+%d times, want once", id, slow.count(id), fast.count(id))
		}
	}
}

func TestWorkerPanicIsRecovered(t *testing.T) {
	rv := newReceiver(t, status(http.StatusOK))
	core, logs := observer.New(zapcore.ErrorLevel)
	h := newHarness(t, "", DispatcherOptions{Logger: zap.New(core), Jitter: func() float64 { return 0 }})
	var panicked atomic.Bool
	h.d.beforeAttempt = func(d store.Delivery) {
		if d.Event.ID == "boom" && panicked.CompareAndSwap(false, true) {
			panic("worker bug")
		}
	}
	cfg := target("app", rv.URL)
	cfg.Concurrency = 1
	h.d.SetTargets([]TargetConfig{cfg})
	for _, id := range []string{"boom", "after1", "after2"} {
		mustAccept(t, h.in, testEvent(id, "app"))
	}
	for _, id := range []string{"boom", "after1", "after2"} {
		waitFor(t, "delivery of "+id, h.statusIs(id, "app", store.StatusDelivered))
	}
	st := h.state(t, "boom", "app")
	if len(st.Attempts) != 2 || st.Attempts[0].Error != "internal error in delivery worker" || st.Attempts[1].Status != 200 {
		t.Errorf("attempts %+v, want the panic recorded, then a success", st.Attempts)
	}
	entries := logs.FilterMessage("panic in delivery worker").All()
	if len(entries) != 1 {
		t.Fatalf("%d panic log entries, want 1", len(entries))
	}
	if stack, _ := entries[0].ContextMap()["stack"].(string); !strings.Contains(stack, "TestWorkerPanicIsRecovered") {
		t.Errorf("logged stack does not show the panicking code:\n%s", stack)
	}
}

func TestAttemptLogLines(t *testing.T) {
	rv := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, hit int) {
		if hit == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusGone)
	})
	core, logs := observer.New(zapcore.DebugLevel)
	h := newHarness(t, "", DispatcherOptions{Logger: zap.New(core), Jitter: func() float64 { return 0 }})
	cfg := target("app", rv.URL)
	cfg.Secret = []byte("never-logged")
	h.d.SetTargets([]TargetConfig{cfg})
	ev := testEvent("logged", "app")
	mustAccept(t, h.in, ev)
	waitFor(t, "dead letter", h.statusIs("logged", "app", store.StatusDead))

	want := []struct {
		level zapcore.Level
		msg   string
	}{
		{zapcore.InfoLevel, "delivery failed; will retry"},
		{zapcore.WarnLevel, "delivery failed; dead-lettered"},
	}
	var got []observer.LoggedEntry
	attemptLines := func() bool {
		got = got[:0]
		for _, e := range logs.All() {
			if _, ok := e.ContextMap()["attempt"]; ok {
				got = append(got, e)
			}
		}
		return len(got) >= len(want)
	}
	// The worker logs an outcome once it is stored, so the dead status
	// can be seen a moment before its line.
	waitFor(t, "both attempt lines", attemptLines)
	if len(got) != len(want) {
		t.Fatalf("%d attempt log lines, want %d", len(got), len(want))
	}
	for i, e := range got {
		if e.Level != want[i].level || e.Message != want[i].msg {
			t.Errorf("line %d: %s %q, want %s %q", i, e.Level, e.Message, want[i].level, want[i].msg)
		}
		f := e.ContextMap()
		for _, k := range []string{"event_id", "source", "target", "status", "attempt", "latency"} {
			if _, ok := f[k]; !ok {
				t.Errorf("line %d lacks field %s", i, k)
			}
		}
		line := fmt.Sprint(f)
		for _, secret := range []string{string(ev.Body), "never-logged", sign(cfg.Secret, ev.Body)} {
			if strings.Contains(line, secret) {
				t.Errorf("line %d contains %q", i, secret)
			}
		}
	}
}

func TestTargetConfigValidate(t *testing.T) {
	ok := TargetConfig{Name: "app", URL: "http://127.0.0.1:3000/hook"}
	tests := []struct {
		name    string
		mod     func(*TargetConfig)
		wantErr string
	}{
		{name: "minimal", mod: func(*TargetConfig) {}},
		{name: "https", mod: func(c *TargetConfig) { c.URL = "https://example.com/hook" }},
		{name: "no name", mod: func(c *TargetConfig) { c.Name = "" }, wantErr: "no name"},
		{name: "relative url", mod: func(c *TargetConfig) { c.URL = "/hook" }, wantErr: "scheme"},
		{name: "ftp url", mod: func(c *TargetConfig) { c.URL = "ftp://example.com/" }, wantErr: "scheme"},
		{name: "no host", mod: func(c *TargetConfig) { c.URL = "http:///hook" }, wantErr: "no host"},
		{name: "bad url keeps its token out", mod: func(c *TargetConfig) { c.URL = "http://h/%zz?token=abc" }, wantErr: "invalid url"},
		{name: "negative timeout", mod: func(c *TargetConfig) { c.Timeout = -time.Second }, wantErr: "negative"},
		{name: "too many workers", mod: func(c *TargetConfig) { c.Concurrency = MaxConcurrency + 1 }, wantErr: "concurrency"},
		{name: "backoff above cap", mod: func(c *TargetConfig) { c.BackoffFirst = time.Minute; c.BackoffCap = time.Second }, wantErr: "above its cap"},
		// Checked here, or every event would fail on our side and be
		// dead-lettered as unsendable.
		{name: "header value with a newline", mod: func(c *TargetConfig) { c.Headers = http.Header{"X-Token": {"a\nb"}} }, wantErr: "X-Token has a control character"},
		{name: "header name not a token", mod: func(c *TargetConfig) { c.Headers = http.Header{"X Token": {"a"}} }, wantErr: "not a token"},
		{name: "header value with a tab", mod: func(c *TargetConfig) { c.Headers = http.Header{"X-Token": {"a\tb"}} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mod(&c)
			err := c.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), "token=abc"):
				t.Fatalf("error %q repeats the URL", err)
			}
		})
	}
}

func TestResultDroppedWhenSettledMeanwhile(t *testing.T) {
	release := make(chan struct{})
	rv := newReceiver(t, func(w http.ResponseWriter, r *http.Request, hit int) {
		if r.Header.Get(headerEventID) == "settled" {
			<-release
		}
		w.WriteHeader(http.StatusOK)
	})
	h := newHarness(t, "", DispatcherOptions{})
	h.d.SetTargets([]TargetConfig{target("app", rv.URL)})
	mustAccept(t, h.in, testEvent("settled", "app"))
	waitFor(t, "the attempt in flight", func() bool { return rv.count("settled") == 1 })

	// An operator (or another process) settles the delivery while the
	// attempt is out; the attempt's own result must be dropped.
	rec := mustGet(t, h.in, "settled")
	manual := store.Delivery{Event: rec.Event, Seq: rec.Seq, Target: "app"}
	if err := h.in.Dead(bg, manual, store.Attempt{At: h.clock.Now(), Error: "cancelled by operator"}, "cancelled"); err != nil {
		t.Fatal(err)
	}
	close(release)
	mustAccept(t, h.in, testEvent("next", "app"))
	waitFor(t, "the next event", h.statusIs("next", "app", store.StatusDelivered))
	if st := h.state(t, "settled", "app"); st.Status != store.StatusDead || st.Reason != "cancelled" || len(st.Attempts) != 1 {
		t.Errorf("state %+v, want the manual dead letter untouched", st)
	}
}

func TestInboxClosedUnderDispatcher(t *testing.T) {
	release := make(chan struct{})
	rv := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		<-release
		w.WriteHeader(http.StatusOK)
	})
	core, logs := observer.New(zapcore.ErrorLevel)
	h := newHarness(t, "", DispatcherOptions{Logger: zap.New(core)})
	h.d.SetTargets([]TargetConfig{target("app", rv.URL)})
	mustAccept(t, h.in, testEvent("orphaned", "app"))
	waitFor(t, "the attempt in flight", func() bool { return rv.count("orphaned") == 1 })

	// The wrong order: the store goes first. Nothing may hang or panic.
	if err := h.in.Close(); err != nil {
		t.Fatal(err)
	}
	close(release)
	waitFor(t, "the failed settle to be logged", func() bool {
		return logs.FilterMessage("recording attempt failed").Len() == 1
	})
	h.clock.Advance(time.Minute)
	if err := h.d.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCloseEndsEveryGoroutine(t *testing.T) {
	rv := newReceiver(t, status(http.StatusOK))
	h := newHarness(t, "", DispatcherOptions{})
	baseline := runtime.NumGoroutine()

	a, b := target("a", rv.URL), target("b", rv.URL)
	a.Concurrency = 8
	h.d.SetTargets([]TargetConfig{a, b})
	for i := range 50 {
		mustAccept(t, h.in, testEvent(fmt.Sprintf("e%d", i), "a", "b"))
	}
	a.Concurrency = 2
	h.d.SetTargets([]TargetConfig{a})
	h.d.SetTargets([]TargetConfig{b})
	waitFor(t, "deliveries to b", func() bool {
		st, err := h.in.Stats(bg)
		return err == nil && st["b"].Pending == 0
	})
	if err := h.d.Close(); err != nil {
		t.Fatal(err)
	}
	// Connection goroutines of both ends wind down once the idle
	// connections are closed.
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= baseline })
	h.d.SetTargets([]TargetConfig{a})
	if n := len(h.d.Circuits()); n != 0 {
		t.Errorf("SetTargets after Close started %d targets", n)
	}
}
