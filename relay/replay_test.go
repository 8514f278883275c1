package relay

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/webhookinbox/caddy-webhook-inbox/rules"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// celFilter builds a replay predicate the way the admin API does: a
// compiled rule evaluated on the decoded body.
func celFilter(t testing.TB, expr string) func(*store.EventRecord) bool {
	t.Helper()
	rule, err := rules.CompileRule(expr)
	if err != nil {
		t.Fatal(err)
	}
	return func(rec *store.EventRecord) bool {
		var body map[string]any
		if err := json.Unmarshal(rec.Body, &body); err != nil {
			return false
		}
		ok, err := rule.Match(&rules.Vars{Event: body, Headers: rec.Headers, SourceIP: rec.ClientIP, Source: rec.Source})
		return err == nil && ok
	}
}

func typedEvent(id, typ string, targets ...string) *store.Event {
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
	events := []*store.Event{
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
		st, err := h.in.Stats(bg)
		return err == nil && st["app"].Dead == 4 && st["pager"].Dead == 2
	})
	costs := celFilter(t, `event.event == "cost.exceeded"`)

	steps := []struct {
		name   string
		target string
		match  func(*store.EventRecord) bool
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
			n, err := h.in.ReplayDead(bg, st.target, st.match, store.ReplayOptions{DryRun: st.dryRun})
			if err != nil || n != st.want {
				t.Fatalf("ReplayDead = %d, %v; want %d", n, err, st.want)
			}
			waitFor(t, "the replayed deliveries", func() bool {
				stats, err := h.in.Stats(bg)
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
	if st := h.state(t, "cost2", "app"); st.Status != store.StatusDelivered || st.RunAttempts != 1 || len(st.Attempts) != 2 {
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
		return h.statusIs("one", "app", store.StatusDead)() && h.statusIs("two", "app", store.StatusDead)()
	})
	up.Store(true)
	if err := h.in.Requeue(bg, "", "one", ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replayed event", h.statusIs("one", "app", store.StatusDelivered))
	if st := h.state(t, "two", "app"); st.Status != store.StatusDead {
		t.Errorf("the other event is %s, want still dead", st.Status)
	}
}
