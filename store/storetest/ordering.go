package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// OrderedEvent is Event with order key key for each of its targets.
func OrderedEvent(id, key string, targets ...string) *store.Event {
	ev := Event(id, targets...)
	ev.OrderKeys = make(map[string]string, len(targets))
	for _, t := range targets {
		ev.OrderKeys[t] = key
	}
	return ev
}

// testOrdering: the Queue contract's "Ordering": one entry of a key at a
// time, in line order; retries hold the line, dead letters and deletes
// release it, replays go to the back, other keys and unordered entries
// pass.
func (s *suite) testOrdering(t *testing.T) {
	tests := []struct {
		name string
		run  func(e *env)
	}{
		{name: "one at a time per key, in receive order; other keys and unordered pass", run: func(e *env) {
			e.acceptOrdered("a1:A", "a2:A", "b1:B", "a3:A", "u1:", "b2:B")
			ds := e.lease("app", 10)
			e.wantIDs(ds, "a1", "b1", "u1")
			if ds[0].OrderKey != "A" || ds[2].OrderKey != "" {
				t.Errorf("OrderKey %q and %q, want A and none", ds[0].OrderKey, ds[2].OrderKey)
			}
			e.leaseNone("app")
			e.ack(ds[0])
			e.ack(ds[1])
			e.wantIDs(e.lease("app", 10), "a2", "b2")
		}},
		{name: "a retry holds back its key until it is delivered", run: func(e *env) {
			e.acceptOrdered("a1:A", "a2:A")
			d := e.leaseOne("app", "a1")
			e.retry(d, e.clock.Now().Add(time.Minute))
			e.acceptOrdered("b1:B")
			e.ack(e.leaseOne("app", "b1")) // a2 is due, but behind a1
			e.leaseNone("app")
			e.clock.Advance(time.Minute)
			e.ack(e.leaseOne("app", "a1"))
			e.leaseOne("app", "a2")
		}},
		{name: "a dead letter releases the line", run: func(e *env) {
			e.acceptOrdered("a1:A", "a2:A")
			e.dead(e.leaseOne("app", "a1"), "gave up")
			e.leaseOne("app", "a2")
		}},
		{name: "a deleted head releases the line", run: func(e *env) {
			e.acceptOrdered("a1:A", "a2:A")
			e.leaseOne("app", "a1")
			if err := e.s.Delete(bg, Source, "a1"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			e.leaseOne("app", "a2")
		}},
		{name: "a replayed dead letter goes to the back of its line", run: func(e *env) {
			e.acceptOrdered("a1:A", "a2:A")
			e.dead(e.leaseOne("app", "a1"), "gave up")
			d2 := e.leaseOne("app", "a2")
			e.acceptOrdered("a3:A")
			if err := e.s.Requeue(bg, Source, "a1", "app"); err != nil {
				t.Fatalf("Requeue: %v", err)
			}
			e.acceptOrdered("a4:A")
			e.ack(d2)
			e.ack(e.leaseOne("app", "a3"))
			e.ack(e.leaseOne("app", "a1"))
			e.leaseOne("app", "a4")
		}},
		{name: "a replayed head in backoff goes to the back of its line", run: func(e *env) {
			e.acceptOrdered("a1:A", "a2:A")
			e.retry(e.leaseOne("app", "a1"), e.clock.Now().Add(time.Hour))
			if err := e.s.Requeue(bg, Source, "a1", "app"); err != nil {
				t.Fatalf("Requeue: %v", err)
			}
			e.ack(e.leaseOne("app", "a2"))
			e.leaseOne("app", "a1")
		}},
		{name: "bulk-replayed dead letters queue behind their key", run: func(e *env) {
			e.acceptOrdered("a1:A", "a2:A")
			e.dead(e.leaseOne("app", "a1"), "gave up")
			e.dead(e.leaseOne("app", "a2"), "gave up")
			e.acceptOrdered("a3:A")
			if n, err := e.s.ReplayDead(bg, "app", nil, store.ReplayOptions{}); err != nil || n != 2 {
				t.Fatalf("ReplayDead = %d, %v; want 2", n, err)
			}
			var got []string
			for range 3 {
				d := e.lease("app", 10)
				e.wantLen(d, 1)
				got = append(got, d[0].Event.ID)
				e.ack(d[0])
			}
			if got[0] != "a3" || !slices.Contains(got[1:], "a1") || !slices.Contains(got[1:], "a2") {
				t.Errorf("order %v, want a3 first, then the replayed a1 and a2", got)
			}
		}},
		{name: "each target has its own lines", run: func(e *env) {
			e.acceptNew(OrderedEvent("a1", "A", "app", "pager"))
			e.acceptNew(OrderedEvent("a2", "A", "app", "pager"))
			e.leaseOne("app", "a1")
			e.ack(e.leaseOne("pager", "a1"))
			e.leaseOne("pager", "a2")
			e.leaseNone("app")
		}},
		{name: "the line survives a reopen", run: func(e *env) {
			e.acceptOrdered("a1:A", "a2:A")
			e.leaseOne("app", "a1") // leased, never settled: forgotten by the reopen
			e.acceptOrdered("b1:B")
			e.dead(e.leaseOne("app", "b1"), "x")
			if err := e.s.Requeue(bg, Source, "b1", "app"); err != nil {
				t.Fatalf("Requeue: %v", err)
			}
			e.acceptOrdered("b2:B")
			e.reopen()
			e.wantIDs(e.lease("app", 10), "a1", "b1")
			e.acceptOrdered("b3:B")
		}},
		{name: "the keys are stored with the event", run: func(e *env) {
			e.acceptNew(OrderedEvent("a1", "user-7", "app"))
			if got := e.get(Source, "a1").OrderKeys; got["app"] != "user-7" {
				t.Errorf("OrderKeys %v, want app: user-7", got)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(s.open(t, store.Policy{}))
		})
	}
}

// acceptOrdered accepts one event per "id:key" for target app, a
// second apart, so receive order is their order; an empty key is
// unordered.
func (e *env) acceptOrdered(specs ...string) {
	e.t.Helper()
	for _, spec := range specs {
		i := len(spec) - 1
		for spec[i] != ':' {
			i--
		}
		id, key := spec[:i], spec[i+1:]
		ev := Event(id, "app")
		if key != "" {
			ev.OrderKeys = map[string]string{"app": key}
		}
		e.acceptNew(ev)
		e.clock.Advance(time.Second)
	}
}

// wantIDs fails unless ds are exactly the events ids, in any order.
func (e *env) wantIDs(ds []store.Delivery, ids ...string) {
	e.t.Helper()
	got := make([]string, len(ds))
	for i, d := range ds {
		got[i] = d.Event.ID
	}
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(ids))) {
		e.t.Fatalf("leased %v, want %v", got, ids)
	}
}

// wantLen fails unless ds holds n deliveries.
func (e *env) wantLen(ds []store.Delivery, n int) {
	e.t.Helper()
	if len(ds) != n {
		e.t.Fatalf("leased %v, want %d entries", deliveryIDs(ds), n)
	}
}
