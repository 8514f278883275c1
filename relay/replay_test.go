package relay

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/rules"
)

// celFilter builds a replay predicate the way the admin API does: a
// compiled rule evaluated on the decoded body.
func celFilter(t testing.TB, expr string) func(*EventRecord) bool {
	t.Helper()
	rule, err := rules.CompileRule(expr)
	if err != nil {
		t.Fatal(err)
	}
	return func(rec *EventRecord) bool {
		var body map[string]any
		if err := json.Unmarshal(rec.Body, &body); err != nil {
			return false
		}
		ok, err := rule.Match(&rules.Vars{Event: body, Headers: rec.Headers, SourceIP: rec.ClientIP, Source: rec.Source})
		return err == nil && ok
	}
}

func typedEvent(id, typ string, targets ...string) *Event {
	ev := testEvent(id, targets...)
	ev.Type = typ
	ev.Body = []byte(fmt.Sprintf(`{"id":%q,"event":%q,"data":{"excess":150.0}}`, id, typ))
	return ev
}

func TestReplayDead(t *testing.T) {
	var up atomic.Bool
	rv := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		if up.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusGone)
	})
	h := newHarness(t, "", DispatcherOptions{})
	h.d.SetTargets([]TargetConfig{target("app", rv.URL), target("pager", rv.URL)})
	events := []*Event{
		typedEvent("cost1", "cost.exceeded", "app"),
		typedEvent("req1", "request.completed", "app"),
		typedEvent("cost2", "cost.exceeded", "app", "pager"),
		typedEvent("req2", "request.completed", "app"),
		typedEvent("req3", "request.failed", "pager"),
	}
	for _, ev := range events {
		mustAccept(t, h.in, ev)
	}
	waitFor(t, "every delivery dead", func() bool {
		st, err := h.in.Stats()
		return err == nil && st["app"].Dead == 4 && st["pager"].Dead == 2
	})
	costs := celFilter(t, `event.event == "cost.exceeded"`)

	steps := []struct {
		name   string
		target string
		match  func(*EventRecord) bool
		dryRun bool
		want   int
		dead   map[string]int64 // dead letters per target afterwards
	}{
		{name: "dry run counts only", target: "app", match: costs, dryRun: true, want: 2, dead: map[string]int64{"app": 4, "pager": 2}},
		{name: "dry run over all targets", match: costs, dryRun: true, want: 3, dead: map[string]int64{"app": 4, "pager": 2}},
		{name: "filtered replay of one target", target: "app", match: costs, want: 2, dead: map[string]int64{"app": 2, "pager": 2}},
		{name: "nothing left to match", target: "app", match: costs, want: 0, dead: map[string]int64{"app": 2, "pager": 2}},
		{name: "unknown target", target: "nope", want: 0, dead: map[string]int64{"app": 2, "pager": 2}},
		{name: "everything else", want: 4, dead: map[string]int64{}},
	}
	up.Store(true)
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			n, err := h.in.ReplayDead(st.target, st.match, st.dryRun)
			if err != nil || n != st.want {
				t.Fatalf("ReplayDead = %d, %v; want %d", n, err, st.want)
			}
			waitFor(t, "the replayed deliveries", func() bool {
				stats, err := h.in.Stats()
				if err != nil {
					return false
				}
				for _, name := range []string{"app", "pager"} {
					if stats[name].Pending != 0 || stats[name].Dead != st.dead[name] {
						return false
					}
				}
				return true
			})
		})
	}
	if st := h.state(t, "cost2", "app"); st.Status != StatusDelivered || st.RunAttempts != 1 || len(st.Attempts) != 2 {
		t.Errorf("replayed cost2 to app: %+v, want delivered in a fresh run keeping its history", st)
	}
	// Each delivery was tried twice, dead then replayed; cost2 went to both
	// targets (one receiver serves both).
	want := map[string]int{"cost1": 2, "req1": 2, "cost2": 4, "req2": 2, "req3": 2}
	if got := rv.duplicates(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests per event %v, want %v", got, want)
	}
}

func TestRequeueOneEvent(t *testing.T) {
	var up atomic.Bool
	rv := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		if up.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
	})
	h := newHarness(t, "", DispatcherOptions{})
	h.d.SetTargets([]TargetConfig{target("app", rv.URL)})
	mustAccept(t, h.in, testEvent("one", "app"))
	mustAccept(t, h.in, testEvent("two", "app"))
	waitFor(t, "dead letters", func() bool {
		return h.statusIs("one", "app", StatusDead)() && h.statusIs("two", "app", StatusDead)()
	})
	up.Store(true)
	if err := h.in.Requeue("one", ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replayed event", h.statusIs("one", "app", StatusDelivered))
	if st := h.state(t, "two", "app"); st.Status != StatusDead {
		t.Errorf("the other event is %s, want still dead", st.Status)
	}
}

// TestReplayDeadStreams replays more dead letters than one page holds,
// with bodies big enough that a page overflows a transaction of the small
// memtable and has to be split.
func TestReplayDeadStreams(t *testing.T) {
	clock := newTestClock()
	in := openTest(t, "", Options{Now: clock.Now, MemTableSize: 1 << 20})
	const n = 2*replayPage + 44
	pad := strings.Repeat("p", 900)
	for i := range n {
		ev := testEvent(fmt.Sprintf("d%04d", i), "app")
		ev.Body = []byte(fmt.Sprintf(`{"id":"d%04d","even":%t,"pad":%q}`, i, i%2 == 0, pad))
		mustAccept(t, in, ev)
	}
	for {
		ds := mustLease(t, in, "app", clock.Now(), 100)
		if len(ds) == 0 {
			break
		}
		for _, d := range ds {
			if err := in.Dead(d, Attempt{Status: 410}, "gone"); err != nil {
				t.Fatal(err)
			}
		}
	}
	even := celFilter(t, `event.even == true`)
	if got, err := in.ReplayDead("app", even, true); err != nil || got != n/2 {
		t.Fatalf("dry run with filter = %d, %v; want %d", got, err, n/2)
	}
	if got, err := in.ReplayDead("", nil, true); err != nil || got != n {
		t.Fatalf("dry run = %d, %v; want %d", got, err, n)
	}
	if got, err := in.ReplayDead("app", even, false); err != nil || got != n/2 {
		t.Fatalf("replay with filter = %d, %v; want %d", got, err, n/2)
	}
	if got, err := in.ReplayDead("app", nil, false); err != nil || got != n/2 {
		t.Fatalf("replay of the rest = %d, %v; want %d", got, err, n/2)
	}
	stats, err := in.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if stats["app"].Pending != n || stats["app"].Dead != 0 {
		t.Errorf("stats %+v, want %d pending and none dead", stats["app"], n)
	}
	if got := len(mustLease(t, in, "app", clock.Now(), 2*n)); got != n {
		t.Errorf("%d leasable after replay, want %d", got, n)
	}
}

// TestReplayDeadPaced replays dead letters spread out in time: each is
// due one interval after the previous, and leasable only then.
func TestReplayDeadPaced(t *testing.T) {
	clock := newTestClock()
	in := openTest(t, "", Options{Now: clock.Now, MemTableSize: 1 << 20})
	const n = replayPage + 10 // more than a page, so pacing carries over
	for i := range n {
		mustAccept(t, in, testEvent(fmt.Sprintf("p%04d", i), "app"))
	}
	for {
		ds := mustLease(t, in, "app", clock.Now(), 100)
		if len(ds) == 0 {
			break
		}
		for _, d := range ds {
			if err := in.Dead(d, Attempt{Status: 400}, "bad request"); err != nil {
				t.Fatal(err)
			}
		}
	}
	start := clock.Now().Add(time.Second)
	const interval = 10 * time.Millisecond
	if got, err := in.ReplayDeadPaced("app", nil, start, interval); err != nil || got != n {
		t.Fatalf("ReplayDeadPaced = %d, %v; want %d", got, err, n)
	}
	steps := []struct {
		name string
		at   time.Time
		want int
	}{
		{name: "before the start", at: clock.Now(), want: 0},
		{name: "at the start", at: start, want: 1},
		{name: "ten intervals in", at: start.Add(10 * interval), want: 10},
		{name: "after the last", at: start.Add(n * interval), want: n - 11},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if got := len(mustLease(t, in, "app", st.at, 2*n)); got != st.want {
				t.Fatalf("leased %d at %s, want %d", got, st.at.Sub(start), st.want)
			}
		})
	}
	rec := mustGet(t, in, "p0005")
	if d := deliveryOf(t, rec, "app"); !d.Since.Equal(start.Add(5*interval)) || d.RunAttempts != 0 {
		t.Errorf("replayed p0005: since %s run attempts %d, want the run to start when it is due",
			d.Since.Sub(start), d.RunAttempts)
	}
}

// TestConcurrentRequeueAndSettle replays one event from many goroutines
// at once while its deliveries, and other events' deliveries sharing the
// committer's batches, are being settled. Badger's optimistic
// transactions lost such races with "Transaction Conflict" (issue 18):
// the replays failed and a batch of settled attempts was dropped, so the
// attempts were made again. Every call must succeed and every attempt
// must be on record.
func TestConcurrentRequeueAndSettle(t *testing.T) {
	const (
		replays = 50
		rounds  = 3
		others  = 8
	)
	tests := []struct {
		name   string
		target string // replayed target; empty replays all
	}{
		{name: "replay every target"},
		{name: "replay one target", target: "app"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newTestClock()
			in := openTest(t, "", Options{Now: clock.Now})
			mustAccept(t, in, testEvent("hot", "app", "pager"))
			for i := range others {
				mustAccept(t, in, testEvent(fmt.Sprintf("cold%d", i), "app"))
			}
			for round := range rounds {
				var leased []Delivery
				for _, name := range []string{"app", "pager"} {
					ds, err := in.Lease(name, clock.Now(), 100, 0)
					if err != nil {
						t.Fatal(err)
					}
					leased = append(leased, ds...)
				}
				if want := others + 2; len(leased) != want {
					t.Fatalf("round %d: leased %d deliveries, want %d", round, len(leased), want)
				}
				errs := make(chan error, replays+len(leased))
				var wg sync.WaitGroup
				start := make(chan struct{})
				for range replays {
					wg.Go(func() {
						<-start
						errs <- in.Requeue("hot", tc.target)
					})
				}
				for _, d := range leased {
					wg.Go(func() {
						<-start
						errs <- in.Retry(d, Attempt{At: clock.Now(), Status: 503}, clock.Now())
					})
				}
				close(start)
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Errorf("round %d: %v", round, err)
					}
				}
				if t.Failed() {
					t.FailNow()
				}
			}
			for _, id := range []string{"hot", "cold0", fmt.Sprintf("cold%d", others-1)} {
				for _, d := range mustGet(t, in, id).Deliveries {
					if d.Status != StatusPending || len(d.Attempts) != rounds {
						t.Errorf("%s to %s: %s with %d attempts on record, want pending with %d",
							id, d.Target, d.Status, len(d.Attempts), rounds)
					}
				}
			}
		})
	}
}
