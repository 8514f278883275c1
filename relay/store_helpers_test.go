package relay

import (
	"context"
	"fmt"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"github.com/webhookinbox/caddy-webhook-inbox/store/badger"
)

// The dispatcher's tests run against the real embedded store, never a
// mock of it; the contract itself is tested by store/storetest.

// bg is the context of the tests' store calls.
var bg = context.Background()

// openTest opens a Badger store in dir (a fresh temp dir when empty) and
// closes it when the test ends.
func openTest(t testing.TB, dir string, opts badger.Options) *badger.Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if opts.Logger == nil {
		if tt, ok := t.(*testing.T); ok {
			opts.Logger = zaptest.NewLogger(tt)
		}
	}
	in, err := badger.Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = in.Close() })
	return in
}

func testEvent(id string, targets ...string) *store.Event {
	return &store.Event{
		ID:       id,
		Source:   "unicraft",
		Type:     "request.completed",
		ClientIP: "192.168.1.100",
		Headers:  map[string]string{"X-Unicraft-Event-Id": id, "Content-Type": "application/json"},
		Body:     []byte(fmt.Sprintf(`{"id":%q,"event":"request.completed","data":{"cost":0.25}}`, id)),
		Targets:  targets,
	}
}

func mustAccept(t testing.TB, st store.Store, ev *store.Event) store.Receipt {
	t.Helper()
	rc, err := st.Accept(bg, ev)
	if err != nil {
		t.Fatalf("Accept(%s): %v", ev.ID, err)
	}
	return rc
}

func mustGet(t testing.TB, st store.Store, id string) *store.EventRecord {
	t.Helper()
	rec, err := st.Get(bg, "", id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return rec
}

func deliveryOf(t testing.TB, rec *store.EventRecord, target string) store.TargetState {
	t.Helper()
	for _, d := range rec.Deliveries {
		if d.Target == target {
			return d
		}
	}
	t.Fatalf("event %s has no delivery for %s", rec.ID, target)
	return store.TargetState{}
}
