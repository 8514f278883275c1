package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// testDelete: Delete purges an event whatever its status, dedup marker
// included, and touches nothing else.
func (s *suite) testDelete(t *testing.T) {
	tests := []struct {
		name   string
		source string // of the Delete call
		setup  func(e *env) *store.Delivery
	}{
		{name: "pending", source: Source, setup: func(e *env) *store.Delivery {
			e.acceptNew(Event("x", "app", "pager"))
			return nil
		}},
		{name: "pending and leased", source: Source, setup: func(e *env) *store.Delivery {
			e.acceptNew(Event("x", "app", "pager"))
			d := e.leaseOne("app", "x")
			return &d
		}},
		{name: "delivered", source: Source, setup: func(e *env) *store.Delivery {
			e.deliver(Event("x", "app", "pager"), store.StatusDelivered)
			return nil
		}},
		{name: "dead", source: Source, setup: func(e *env) *store.Delivery {
			e.deliver(Event("x", "app", "pager"), store.StatusDead)
			return nil
		}},
		{name: "mixed, in backoff", source: Source, setup: func(e *env) *store.Delivery {
			e.acceptNew(Event("x", "app", "pager"))
			e.dead(e.leaseOne("app", "x"), "gave up")
			e.retry(e.leaseOne("pager", "x"), e.clock.Now().Add(time.Hour))
			return nil
		}},
		{name: "unrouted", source: Source, setup: func(e *env) *store.Delivery {
			e.acceptNew(Event("x"))
			return nil
		}},
		{name: "by id alone", setup: func(e *env) *store.Delivery {
			e.deliver(Event("x", "app", "pager"), store.StatusDead)
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := s.open(t, store.Policy{})
			e.acceptNew(Event("keep", "other"))
			leased := tc.setup(e)
			if err := e.s.Delete(bg, tc.source, "x"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			for _, src := range []string{Source, ""} {
				_, err := e.s.Get(bg, src, "x")
				wantErr(t, "Get after Delete", err, store.ErrNotFound)
			}
			for _, f := range []store.ListFilter{{}, {Status: store.StatusPending}, {Status: store.StatusDead},
				{Status: store.StatusDelivered}, {Status: store.StatusUnrouted}, {Target: "app"}} {
				for _, rec := range e.listAll(f) {
					if rec.ID == "x" {
						t.Errorf("List(%+v) still lists the deleted event", f)
					}
				}
			}
			e.clock.Advance(2 * time.Hour)
			e.leaseNone("app")
			e.leaseNone("pager")
			st := e.stats()
			if len(st) != 1 || st["other"].Pending != 1 {
				t.Errorf("Stats = %v, want only other's pending event", st)
			}
			if leased != nil {
				wantErr(t, "Ack of a deleted event", e.s.Ack(bg, *leased, attempt(e.clock.Now(), 200, "")),
					store.ErrNotFound, store.ErrNotPending)
			}
			wantErr(t, "second Delete", e.s.Delete(bg, Source, "x"), store.ErrNotFound)
			if got := e.state(Source, "keep", "other"); got.Status != store.StatusPending {
				t.Errorf("another event changed: %+v", got)
			}
			// The dedup marker went with it: posted again, it is new.
			e.acceptNew(Event("x", "app"))
			if st := e.state(Source, "x", "app"); st.Status != store.StatusPending || len(st.Attempts) != 0 {
				t.Errorf("re-accepted event carries old state: %+v", st)
			}
			e.leaseOne("app", "x")
		})
	}
	t.Run("unknown", func(t *testing.T) {
		e := s.open(t, store.Policy{})
		wantErr(t, "Delete", e.s.Delete(bg, "", "nope"), store.ErrNotFound)
		wantErr(t, "Delete", e.s.Delete(bg, Source, "nope"), store.ErrNotFound)
	})
}

// testRetention: settled and unrouted events go once their retention has
// passed; pending ones stay. Expiry may be applied in the background, so
// the cases poll for it.
func (s *suite) testRetention(t *testing.T) {
	t.Run("settled go, pending stay", func(t *testing.T) {
		t.Parallel()
		r := s.retentionUnit()
		e := s.open(t, store.Policy{Retention: r})
		e.deliver(Event("delivered", "app"), store.StatusDelivered)
		e.deliver(Event("dead", "app"), store.StatusDead)
		e.deliver(Event("replayed", "app"), store.StatusDelivered)
		if err := e.s.Requeue(bg, Source, "replayed", ""); err != nil {
			t.Fatal(err)
		}
		e.acceptNew(Event("pending", "app"))
		e.acceptNew(Event("backoff", "slow"))
		e.retry(e.leaseOne("slow", "backoff"), e.clock.Now().Add(100*r))
		if !s.h.WallClockRetention {
			e.clock.Advance(r / 2)
			e.deliver(Event("later", "other"), store.StatusDelivered)
			e.clock.Advance(3 * r / 4) // the first three past their retention, later not
		} else {
			e.clock.Advance(2 * r)
		}
		e.eventually("settled events still there after their retention", func() bool {
			return !e.present(Source, "delivered") && !e.present(Source, "dead")
		})
		for _, id := range []string{"replayed", "pending", "backoff"} {
			if !e.present(Source, id) {
				t.Errorf("%s deleted; it is pending", id)
			}
		}
		if st := e.stats()["app"]; st.Pending != 2 || st.Dead != 0 {
			t.Errorf("Stats[app] = %+v, want 2 pending and no dead letter", st)
		}
		if ids := recordIDs(e.listAll(store.ListFilter{Status: store.StatusDead})); len(ids) != 0 {
			t.Errorf("expired dead letters still listed: %v", ids)
		}
		if s.h.WallClockRetention {
			return
		}
		if !e.present(Source, "later") {
			t.Fatal("an event settled less than the retention ago was deleted")
		}
		e.clock.Advance(r / 2)
		e.eventually("event still there after its retention", func() bool { return !e.present(Source, "later") })
		if !e.present(Source, "pending") {
			t.Error("a pending event was deleted")
		}
	})

	t.Run("unrouted go", func(t *testing.T) {
		t.Parallel()
		u := s.ttlUnit()
		e := s.open(t, store.Policy{Retention: u})
		e.acceptNew(Event("unrouted"))
		e.acceptNew(Event("pending", "app"))
		e.clock.Advance(2 * u)
		e.eventually("unrouted event still there after the retention", func() bool {
			return !e.present(Source, "unrouted")
		})
		if !e.present(Source, "pending") {
			t.Error("a pending event was deleted")
		}
	})

	t.Run("SetPolicy changes the retention", func(t *testing.T) {
		t.Parallel()
		r := s.retentionUnit()
		e := s.open(t, store.Policy{Retention: 1000 * r})
		e.s.SetPolicy(store.Policy{Retention: r})
		e.deliver(Event("delivered", "app"), store.StatusDelivered)
		e.clock.Advance(2 * r)
		e.eventually("settled event kept past the retention SetPolicy set", func() bool {
			return !e.present(Source, "delivered")
		})
	})
}

// testOrphaned: an event queued for a target nobody delivers to (removed
// from the config) stays pending and counted.
func (s *suite) testOrphaned(t *testing.T) {
	e := s.open(t, store.Policy{Retention: time.Minute})
	recv := e.clock.Now()
	e.acceptNew(Event("x", "app", "ghost"))
	e.ack(e.leaseOne("app", "x"))
	e.clock.Advance(time.Hour)
	for _, stage := range []string{"open", "reopened"} {
		t.Run(stage, func(t *testing.T) {
			e := *e
			e.t = t
			if rec := e.get(Source, "x"); rec.Status != store.StatusPending {
				t.Errorf("event status %s, want pending", rec.Status)
			}
			if st := e.state(Source, "x", "ghost"); st.Status != store.StatusPending {
				t.Errorf("ghost's state %s, want pending", st.Status)
			}
			st := e.stats()["ghost"]
			if st.Pending != 1 || !st.OldestPending.Equal(recv) {
				t.Errorf("Stats[ghost] = %+v, want 1 pending since %s", st, fmtTime(recv))
			}
			got := recordIDs(e.listAll(store.ListFilter{Target: "ghost", Status: store.StatusPending}))
			if !slices.Equal(got, []string{"x"}) {
				t.Errorf("List(ghost, pending) = %v, want [x]", got)
			}
		})
		e.reopen()
	}
	e.leaseOne("ghost", "x")
}

// testPauses: pause flags are kept, and survive a reopen.
func (s *suite) testPauses(t *testing.T) {
	e := s.open(t, store.Policy{})
	check := func(t *testing.T, want map[string]bool) {
		t.Helper()
		got, err := e.s.Paused(bg)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("Paused = %v, want %v", got, want)
		}
		for k := range want {
			if !got[k] {
				t.Fatalf("Paused = %v, want %v", got, want)
			}
		}
	}
	check(t, nil)
	steps := []struct {
		target string
		paused bool
		want   map[string]bool
	}{
		{"app", true, map[string]bool{"app": true}},
		{"pager", true, map[string]bool{"app": true, "pager": true}},
		{"app", true, map[string]bool{"app": true, "pager": true}},
		{"pager", false, map[string]bool{"app": true}},
		{"never", false, map[string]bool{"app": true}},
	}
	for _, st := range steps {
		if err := e.s.SetPaused(bg, st.target, st.paused); err != nil {
			t.Fatalf("SetPaused(%s, %v): %v", st.target, st.paused, err)
		}
		check(t, st.want)
	}
	t.Run("after reopen", func(t *testing.T) {
		e.reopen()
		check(t, map[string]bool{"app": true})
	})
}

// testReopen: Close and Open lose nothing: pending is pending (leases of
// the closed store are gone), dead is dead, delivered is delivered.
func (s *suite) testReopen(t *testing.T) {
	e := s.open(t, store.Policy{})
	e.deliver(Event("dd", "app"), store.StatusDead)
	e.deliver(Event("ok", "app"), store.StatusDelivered)
	e.clock.Advance(time.Second)
	t0 := e.clock.Now()
	e.acceptNew(Event("p1", "app"))
	e.leaseOne("app", "p1") // leased, never settled
	e.clock.Advance(time.Second)
	e.acceptNew(Event("r1", "app"))
	e.retry(e.leaseOne("app", "r1"), t0.Add(time.Hour))
	e.clock.Advance(time.Second)
	e.acceptNew(Event("p2", "app"))
	e.acceptNew(Event("u1"))
	before := e.listAll(store.ListFilter{})
	e.reopen()

	t.Run("states kept", func(t *testing.T) {
		after := e.listAll(store.ListFilter{})
		if !slices.Equal(recordIDs(after), recordIDs(before)) {
			t.Fatalf("List after reopen = %v, want %v", recordIDs(after), recordIDs(before))
		}
		for i, rec := range after {
			was := before[i]
			if rec.Seq != was.Seq || rec.Status != was.Status || len(rec.Deliveries) != len(was.Deliveries) {
				t.Errorf("%s after reopen: seq %d status %s, was seq %d status %s", rec.ID, rec.Seq, rec.Status, was.Seq, was.Status)
				continue
			}
			for j, st := range rec.Deliveries {
				w := was.Deliveries[j]
				if st.Status != w.Status || st.RunAttempts != w.RunAttempts || st.Reason != w.Reason || !st.Due.Equal(w.Due) {
					t.Errorf("%s>%s after reopen = %+v, was %+v", rec.ID, st.Target, st, w)
				}
				sameAttempts(t, rec.ID+">"+st.Target, st.Attempts, w.Attempts)
			}
		}
	})
	t.Run("stats recounted", func(t *testing.T) {
		st := e.stats()
		if len(st) != 1 || st["app"].Pending != 3 || st["app"].Dead != 1 || !st["app"].OldestPending.Equal(t0) {
			t.Errorf("Stats = %v, want app: 3 pending since %s, 1 dead", st, fmtTime(t0))
		}
	})
	t.Run("dedup kept", func(t *testing.T) {
		for _, id := range []string{"p1", "p2", "r1", "dd", "ok", "u1"} {
			if rc := e.accept(Event(id, "app")); !rc.Duplicate {
				t.Errorf("%s accepted again after reopen", id)
			}
		}
	})
	t.Run("pending leasable", func(t *testing.T) {
		if got := deliveryIDs(e.lease("app", 10)); !slices.Equal(got, []string{"p1>app", "p2>app"}) {
			t.Fatalf("Lease after reopen = %v, want [p1>app p2>app] (p1's lease ended with the store)", got)
		}
		e.clock.Set(t0.Add(time.Hour))
		if d := e.leaseOne("app", "r1"); d.Attempts != 1 {
			t.Errorf("r1 counts %d attempts, want 1", d.Attempts)
		}
	})
}

// testClosed: every call after Close returns ErrClosed; closing twice is
// a no-op.
func (s *suite) testClosed(t *testing.T) {
	e := s.open(t, store.Policy{})
	e.acceptNew(Event("x", "app"))
	d := e.leaseOne("app", "x")
	if err := e.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := e.s.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	a := attempt(e.clock.Now(), 200, "")
	calls := []struct {
		name string
		call func() error
	}{
		{"Accept", func() error { _, err := e.s.Accept(bg, Event("y", "app")); return err }},
		{"Lease", func() error { _, err := e.s.Lease(bg, "app", 1); return err }},
		{"Ack", func() error { return e.s.Ack(bg, d, a) }},
		{"Retry", func() error { return e.s.Retry(bg, d, a, e.clock.Now()) }},
		{"Dead", func() error { return e.s.Dead(bg, d, a, "x") }},
		{"Get", func() error { _, err := e.s.Get(bg, Source, "x"); return err }},
		{"List", func() error { _, _, err := e.s.List(bg, store.ListFilter{}); return err }},
		{"Stats", func() error { _, err := e.s.Stats(bg); return err }},
		{"Delete", func() error { return e.s.Delete(bg, Source, "x") }},
		{"Requeue", func() error { return e.s.Requeue(bg, Source, "x", "") }},
		{"ReplayDead", func() error { _, err := e.s.ReplayDead(bg, "", nil, store.ReplayOptions{}); return err }},
		{"SetPaused", func() error { return e.s.SetPaused(bg, "app", true) }},
		{"Paused", func() error { _, err := e.s.Paused(bg); return err }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, c.name+" after Close", c.call(), store.ErrClosed)
		})
	}
	t.Run("Release and Watch do not fail", func(t *testing.T) {
		e.s.Release(d)
		_, stop := e.s.Watch("app")
		stop()
	})
}

// testClock: the store tells the time by the clock it was given.
func (s *suite) testClock(t *testing.T) {
	e := s.open(t, store.Policy{})
	if c, ok := e.s.Clock().(*Clock); !ok || c != e.clock {
		t.Fatalf("Clock() = %v, want the clock given to Open", e.s.Clock())
	}
	e.clock.Advance(42 * time.Minute)
	e.acceptNew(Event("x", "app"))
	sameTime(t, "received_at", e.get(Source, "x").ReceivedAt, Epoch.Add(42*time.Minute))
}
