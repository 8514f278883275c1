package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// testLease: entries are handed out once, up to max, until settled or
// released.
func (s *suite) testLease(t *testing.T) {
	t.Run("up to max", func(t *testing.T) {
		e := s.open(t, store.Policy{})
		for i := range 3 {
			e.acceptNew(Event(fmt.Sprintf("m%d", i), "app"))
			e.clock.Advance(time.Second)
		}
		if ds := e.lease("app", 0); len(ds) != 0 {
			t.Fatalf("Lease(max 0) = %v, want nothing", deliveryIDs(ds))
		}
		for _, want := range []int{2, 1, 0} {
			if ds := e.lease("app", 2); len(ds) != want {
				t.Fatalf("Lease(max 2) = %v, want %d entries", deliveryIDs(ds), want)
			}
		}
		e.leaseNone("pager")
	})

	settles := []struct {
		name  string
		op    func(e *env, d store.Delivery)
		again bool // leasable again afterwards
	}{
		{name: "ack", op: func(e *env, d store.Delivery) { e.ack(d) }},
		{name: "dead", op: func(e *env, d store.Delivery) { e.dead(d, "gave up") }},
		{name: "retry due now", op: func(e *env, d store.Delivery) { e.retry(d, e.clock.Now()) }, again: true},
		{name: "release", op: func(e *env, d store.Delivery) { e.s.Release(d) }, again: true},
		{name: "ack then release", op: func(e *env, d store.Delivery) { e.ack(d); e.s.Release(d) }},
		{name: "dead then release", op: func(e *env, d store.Delivery) { e.dead(d, "x"); e.s.Release(d) }},
	}
	for _, tc := range settles {
		t.Run("held until "+tc.name, func(t *testing.T) {
			e := s.open(t, store.Policy{})
			e.acceptNew(Event("x", "app", "pager"))
			d := e.leaseOne("app", "x")
			e.leaseNone("app")
			e.leaseOne("pager", "x") // another target's entry is its own
			tc.op(e, d)
			if tc.again {
				e.leaseOne("app", "x")
			} else {
				e.leaseNone("app")
			}
		})
	}

	t.Run("releasing a stale lease does nothing", func(t *testing.T) {
		e := s.open(t, store.Policy{})
		e.acceptNew(Event("x", "app"))
		d1 := e.leaseOne("app", "x")
		e.s.Release(d1)
		d2 := e.leaseOne("app", "x")
		e.s.Release(d1) // d1's lease is over; d2's holds
		e.leaseNone("app")
		e.s.Release(d2)
		e.leaseOne("app", "x")
	})

	t.Run("concurrent leasers never share an entry", func(t *testing.T) {
		e := s.open(t, store.Policy{})
		const events, leasers = 100, 8
		targets := []string{"app", "pager"}
		evs := make([]*store.Event, events)
		for i := range evs {
			evs[i] = Event(fmt.Sprintf("c%03d", i), targets...)
		}
		acceptAll(e, evs)
		var (
			mu   sync.Mutex
			seen = make(map[string]int)
			wg   sync.WaitGroup
		)
		for w := range leasers {
			wg.Go(func() {
				for idle := 0; idle < len(targets); {
					target := targets[(w+idle)%len(targets)]
					ds, err := e.s.Lease(bg, target, 3)
					if err != nil {
						t.Errorf("Lease: %v", err)
						return
					}
					if len(ds) == 0 {
						idle++
						continue
					}
					idle = 0
					mu.Lock()
					for _, d := range ds {
						seen[d.Event.ID+">"+d.Target]++
					}
					mu.Unlock()
					for i, d := range ds {
						if i%2 == 1 {
							// Leased but not settled: held until the end.
							continue
						}
						if err := e.s.Ack(bg, d, attempt(e.clock.Now(), 200, "")); err != nil {
							t.Errorf("Ack: %v", err)
						}
					}
				}
			})
		}
		wg.Wait()
		if len(seen) != events*len(targets) {
			t.Errorf("%d entries leased, want %d", len(seen), events*len(targets))
		}
		for k, n := range seen {
			if n != 1 {
				t.Errorf("%s leased %d times", k, n)
			}
		}
	})
}

// acceptAll accepts evs from a few goroutines at once, as the handler
// does, and fails unless each is new.
func acceptAll(e *env, evs []*store.Event) {
	e.t.Helper()
	const writers = 8
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := w; i < len(evs); i += writers {
				rc, err := e.s.Accept(bg, evs[i])
				if err != nil || rc.Duplicate {
					e.t.Errorf("Accept(%s) = %+v, %v; want a new event", evs[i].ID, rc, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if e.t.Failed() {
		e.t.FailNow()
	}
}

// testDueOrder: Lease hands out the oldest due entries first, whatever
// order they were stored or retried in.
func (s *suite) testDueOrder(t *testing.T) {
	e := s.open(t, store.Policy{})
	t0 := e.clock.Now()
	for _, id := range []string{"e1", "e2", "e3"} {
		e.acceptNew(Event(id, "app"))
		e.clock.Advance(time.Second)
	}
	d := e.lease("app", 1)
	if len(d) != 1 || d[0].Event.ID != "e1" {
		t.Fatalf("Lease(max 1) = %v, want the oldest, e1", deliveryIDs(d))
	}
	e.retry(d[0], t0.Add(10*time.Second))
	got := e.lease("app", 10)
	if ids := deliveryIDs(got); !slices.Equal(ids, []string{"e2>app", "e3>app"}) {
		t.Fatalf("Lease = %v, want [e2>app e3>app] (e1 is due later)", ids)
	}
	e.retry(got[1], t0.Add(time.Second/2)) // e3 due before e2 now
	e.s.Release(got[0])
	e.clock.Set(t0.Add(20 * time.Second))
	e.acceptNew(Event("e4", "app")) // due at t0+20s
	got = e.lease("app", 10)
	if ids := deliveryIDs(got); !slices.Equal(ids, []string{"e3>app", "e2>app", "e1>app", "e4>app"}) {
		t.Fatalf("Lease = %v, want [e3 e2 e1 e4] (due order)", ids)
	}
	wantDue := []time.Time{t0.Add(time.Second / 2), t0.Add(time.Second), t0.Add(10 * time.Second), t0.Add(20 * time.Second)}
	for i, d := range got {
		sameTime(t, d.Event.ID+" due", d.Due, wantDue[i])
	}
}

// testWatch: a watcher is signalled when its target gains due work, and
// not after it stopped watching.
func (s *suite) testWatch(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(e *env) store.Delivery
		trigger func(e *env, d store.Delivery)
	}{
		{name: "accept", trigger: func(e *env, _ store.Delivery) { e.acceptNew(Event("new", "app")) }},
		{name: "retry due now",
			setup:   func(e *env) store.Delivery { e.acceptNew(Event("x", "app")); return e.leaseOne("app", "x") },
			trigger: func(e *env, d store.Delivery) { e.retry(d, e.clock.Now()) }},
		{name: "release",
			setup:   func(e *env) store.Delivery { e.acceptNew(Event("x", "app")); return e.leaseOne("app", "x") },
			trigger: func(e *env, d store.Delivery) { e.s.Release(d) }},
		{name: "requeue",
			setup: func(e *env) store.Delivery { e.deliver(Event("x", "app"), store.StatusDead); return store.Delivery{} },
			trigger: func(e *env, _ store.Delivery) {
				if err := e.s.Requeue(bg, Source, "x", ""); err != nil {
					e.t.Fatal(err)
				}
			}},
		{name: "replay dead",
			setup: func(e *env) store.Delivery { e.deliver(Event("x", "app"), store.StatusDead); return store.Delivery{} },
			trigger: func(e *env, _ store.Delivery) {
				if n, err := e.s.ReplayDead(bg, "", nil, store.ReplayOptions{}); n != 1 || err != nil {
					e.t.Fatalf("ReplayDead = %d, %v; want 1", n, err)
				}
			}},
	}
	for _, tc := range tests {
		t.Run("signalled on "+tc.name, func(t *testing.T) {
			e := s.open(t, store.Policy{})
			var d store.Delivery
			if tc.setup != nil {
				d = tc.setup(e)
			}
			ch, stop := e.s.Watch("app")
			defer stop()
			tc.trigger(e, d)
			e.awaitSignal(ch, "app")
		})
	}

	t.Run("stop ends the signals", func(t *testing.T) {
		e := s.open(t, store.Policy{})
		stopped, stop := e.s.Watch("app")
		stop()
		for len(stopped) > 0 {
			<-stopped
		}
		live, stopLive := e.s.Watch("app")
		defer stopLive()
		e.acceptNew(Event("x", "app"))
		e.awaitSignal(live, "app")
		select {
		case _, ok := <-stopped:
			if ok {
				t.Fatal("a stopped watcher was signalled")
			}
		default:
		}
	})
}

// awaitSignal waits for a signal on ch, for the harness's patience.
func (e *env) awaitSignal(ch <-chan struct{}, target string) {
	e.t.Helper()
	timer := time.NewTimer(e.su.h.Patience)
	defer timer.Stop()
	select {
	case <-ch:
	case <-timer.C:
		e.t.Fatalf("no Watch signal for %s within %s", target, e.su.h.Patience)
	}
}
