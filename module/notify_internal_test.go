package module

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"github.com/webhookinbox/caddy-webhook-inbox/store/badger"
)

// TestNotifierRules feeds circuit changes straight to the notifier over a
// real store and checks which events it stores and what they say.
func TestNotifierRules(t *testing.T) {
	in, err := badger.Open(t.TempDir(), badger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := newStoreHandle(in, zap.NewNop())
	n := h.notifier
	t.Cleanup(func() {
		if err := h.Destruct(); err != nil {
			t.Error(err)
		}
	})
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

	// No config running, or one without notify: nothing is stored.
	n.handle(circuitChange{target: "app", open: true, at: t0})
	h.active = []*App{{}}
	n.handle(circuitChange{target: "app", open: false, at: t0})
	// The notify target's own circuit: nothing is stored.
	h.active = []*App{{Notify: "ops"}}
	n.handle(circuitChange{target: "ops", open: true, at: t0})
	n.handle(circuitChange{target: "ops", open: false, at: t0.Add(time.Minute)})
	if evs := listAll(t, in); len(evs) != 0 {
		t.Fatalf("stored %d events, want none: %+v", len(evs), evs)
	}

	// Another target goes down for 90 s and comes back; a third one
	// recovers without having been seen down (it opened before a restart).
	n.handle(circuitChange{target: "app", open: true, at: t0})
	n.handle(circuitChange{target: "app", open: false, at: t0.Add(90 * time.Second)})
	n.handle(circuitChange{target: "pager", open: false, at: t0.Add(2 * time.Minute)})
	evs := listAll(t, in)
	if len(evs) != 3 {
		t.Fatalf("stored %d events, want 3", len(evs))
	}
	// List returns the newest first.
	want := []struct {
		typ  string
		body string
	}{
		{eventTargetUp, `{"target":"pager","status":"available"}`},
		{eventTargetUp, `{"target":"app","status":"available","downtime_duration":90}`},
		{eventTargetDown, `{"target":"app","status":"unavailable","reason":"circuit_open","consecutive_failures":0}`},
	}
	for i, ev := range evs {
		if ev.Source != notifySource || ev.Type != want[i].typ || len(ev.Targets) != 1 || ev.Targets[0] != "ops" {
			t.Errorf("event %d: source %q type %q targets %+v", i, ev.Source, ev.Type, ev.Targets)
		}
		var body struct {
			ID    string          `json:"id"`
			Event string          `json:"event"`
			Time  string          `json:"timestamp"`
			Data  json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(ev.Body, &body); err != nil {
			t.Fatalf("event %d body: %v", i, err)
		}
		if body.ID != ev.ID || body.Event != ev.Type || string(body.Data) != want[i].body {
			t.Errorf("event %d: id %q (stored %q), event %q, data %s; want data %s",
				i, body.ID, ev.ID, body.Event, body.Data, want[i].body)
		}
		if _, err := time.Parse(time.RFC3339, body.Time); err != nil {
			t.Errorf("event %d timestamp: %v", i, err)
		}
	}
}

func listAll(t *testing.T, in store.Store) []store.EventRecord {
	t.Helper()
	evs, _, err := in.List(context.Background(), store.ListFilter{Limit: 100, WithBody: true})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}
