package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// testGet: Get finds an event by (source, id) with its body and states.
func (s *suite) testGet(t *testing.T) {
	e := s.open(t, store.Policy{})
	e.acceptNew(Event("x", "app"))
	tests := []struct {
		name       string
		source, id string
		found      bool
	}{
		{name: "by source and id", source: Source, id: "x", found: true},
		{name: "by id alone", id: "x", found: true},
		{name: "unknown id", id: "nope"},
		{name: "unknown id with source", source: Source, id: "nope"},
		{name: "other source", source: "other", id: "x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := e.s.Get(bg, tc.source, tc.id)
			if !tc.found {
				wantErr(t, "Get", err, store.ErrNotFound)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Event("x", "app")
			want.ReceivedAt = Epoch
			sameEvent(t, rec.Event, want, true)
			if len(rec.Deliveries) != 1 || rec.Deliveries[0].Target != "app" {
				t.Errorf("deliveries %+v, want app's", rec.Deliveries)
			}
		})
	}
}

// listFixture stores five events a minute apart, newest last:
//
//	e1 unicraft type a  [app]         app delivered
//	e2 unicraft type b  [app pager]   app dead, pager pending
//	e3 other    type a  [pager]       pending
//	e4 other    type b  unrouted
//	e5 unicraft type a  [app]         pending
func (s *suite) listFixture(t *testing.T) *env {
	e := s.open(t, store.Policy{})
	mk := func(source, id, typ string, targets ...string) *store.Event {
		ev := SourceEvent(source, id, targets...)
		ev.Type = typ
		return ev
	}
	e.deliver(mk(Source, "e1", "a", "app"), store.StatusDelivered)
	e.clock.Advance(time.Minute)
	e.acceptNew(mk(Source, "e2", "b", "app", "pager"))
	e.dead(e.leaseOne("app", "e2"), "gave up")
	e.clock.Advance(time.Minute)
	e.acceptNew(mk("other", "e3", "a", "pager"))
	e.clock.Advance(time.Minute)
	e.acceptNew(mk("other", "e4", "b"))
	e.clock.Advance(time.Minute)
	e.acceptNew(mk(Source, "e5", "a", "app"))
	return e
}

// testList: newest first, filters, cursors and limits.
func (s *suite) testList(t *testing.T) {
	e := s.listFixture(t)
	at := func(m int) time.Time { return Epoch.Add(time.Duration(m) * time.Minute) }
	tests := []struct {
		name   string
		filter store.ListFilter
		want   []string
	}{
		{name: "all, newest first", want: []string{"e5", "e4", "e3", "e2", "e1"}},
		{name: "status pending", filter: store.ListFilter{Status: store.StatusPending}, want: []string{"e5", "e3", "e2"}},
		{name: "status delivered", filter: store.ListFilter{Status: store.StatusDelivered}, want: []string{"e1"}},
		{name: "status dead", filter: store.ListFilter{Status: store.StatusDead}, want: []string{"e2"}},
		{name: "status unrouted", filter: store.ListFilter{Status: store.StatusUnrouted}, want: []string{"e4"}},
		{name: "target", filter: store.ListFilter{Target: "app"}, want: []string{"e5", "e2", "e1"}},
		{name: "target and status", filter: store.ListFilter{Target: "app", Status: store.StatusPending}, want: []string{"e5"}},
		{name: "other target and status", filter: store.ListFilter{Target: "pager", Status: store.StatusPending}, want: []string{"e3", "e2"}},
		{name: "target, unrouted", filter: store.ListFilter{Target: "app", Status: store.StatusUnrouted}},
		{name: "unknown target", filter: store.ListFilter{Target: "nobody"}},
		{name: "targets", filter: store.ListFilter{Targets: []string{"pager", "nobody"}}, want: []string{"e3", "e2"}},
		{name: "targets and target", filter: store.ListFilter{Targets: []string{"pager"}, Target: "app"}, want: []string{"e5", "e3", "e2", "e1"}},
		{name: "targets and status", filter: store.ListFilter{Targets: []string{"app", "pager"}, Status: store.StatusDead}, want: []string{"e2"}},
		{name: "source", filter: store.ListFilter{Source: "other"}, want: []string{"e4", "e3"}},
		{name: "type", filter: store.ListFilter{Type: "a"}, want: []string{"e5", "e3", "e1"}},
		{name: "source and type", filter: store.ListFilter{Source: Source, Type: "b"}, want: []string{"e2"}},
		{name: "source and status", filter: store.ListFilter{Source: Source, Status: store.StatusPending}, want: []string{"e5", "e2"}},
		{name: "since (inclusive)", filter: store.ListFilter{Since: at(2)}, want: []string{"e5", "e4", "e3"}},
		{name: "until (exclusive)", filter: store.ListFilter{Until: at(2)}, want: []string{"e2", "e1"}},
		{name: "since and until", filter: store.ListFilter{Since: at(1), Until: at(4)}, want: []string{"e4", "e3", "e2"}},
		{name: "until before everything", filter: store.ListFilter{Until: at(-1)}},
		{name: "since far ahead", filter: store.ListFilter{Since: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}},
		{name: "until far ahead", filter: store.ListFilter{Until: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)},
			want: []string{"e5", "e4", "e3", "e2", "e1"}},
		{name: "since long ago", filter: store.ListFilter{Since: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)},
			want: []string{"e5", "e4", "e3", "e2", "e1"}},
		{name: "everything, paged by one", filter: store.ListFilter{Limit: 1}, want: []string{"e5", "e4", "e3", "e2", "e1"}},
		{name: "source, paged by one", filter: store.ListFilter{Source: Source, Limit: 1}, want: []string{"e5", "e2", "e1"}},
		{name: "status, paged by two", filter: store.ListFilter{Status: store.StatusPending, Limit: 2}, want: []string{"e5", "e3", "e2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := *e
			e.t = t
			got := recordIDs(e.listAll(tc.filter))
			if !slices.Equal(got, tc.want) && (len(got) > 0 || len(tc.want) > 0) {
				t.Fatalf("List(%+v) = %v, want %v", tc.filter, got, tc.want)
			}
		})
	}

	t.Run("limit", func(t *testing.T) {
		recs, next, err := e.s.List(bg, store.ListFilter{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if got := recordIDs(recs); !slices.Equal(got, []string{"e5", "e4"}) || next == "" {
			t.Fatalf("List(limit 2) = %v, cursor %q; want [e5 e4] and a cursor", got, next)
		}
	})

	t.Run("records carry states, body on demand", func(t *testing.T) {
		e := *e
		e.t = t
		for _, withBody := range []bool{false, true} {
			for _, rec := range e.listAll(store.ListFilter{WithBody: withBody}) {
				want := e.get(rec.Source, rec.ID)
				if rec.Seq != want.Seq || rec.Status != want.Status || len(rec.Deliveries) != len(want.Deliveries) {
					t.Errorf("listed %s = {Seq:%d Status:%s %d deliveries}, Get has {%d %s %d}", rec.ID,
						rec.Seq, rec.Status, len(rec.Deliveries), want.Seq, want.Status, len(want.Deliveries))
				}
				// Without WithBody a backend may still load the body;
				// with it, it must.
				sameEvent(t, rec.Event, &want.Event, withBody)
			}
		}
	})

	badCursors := []string{"garbage!", "AAAAAAAAAAA", "%%%", "e5"}
	for _, c := range badCursors {
		t.Run(fmt.Sprintf("bad cursor %q", c), func(t *testing.T) {
			_, _, err := e.s.List(bg, store.ListFilter{Cursor: c})
			wantErr(t, "List", err, store.ErrBadCursor)
		})
	}

	t.Run("cursor holds while events arrive", func(t *testing.T) {
		e := *e
		e.t = t
		recs, next, err := e.s.List(bg, store.ListFilter{Limit: 2})
		if err != nil || next == "" {
			t.Fatalf("List = %v, %q, %v", recordIDs(recs), next, err)
		}
		e.clock.Advance(time.Minute)
		e.acceptNew(Event("e6", "app"))
		rest := e.listAll(store.ListFilter{Limit: 2, Cursor: next})
		if got := recordIDs(rest); !slices.Equal(got, []string{"e3", "e2", "e1"}) {
			t.Fatalf("pages after the cursor = %v, want [e3 e2 e1]", got)
		}
	})

	t.Run("default and maximum page", s.testListLimits)

	// The handler stamps an event when its request starts; concurrent
	// requests commit in another order. The contract (store.ListFilter)
	// lets the bounds follow either the receive times or the store's
	// order, in which the event stored second counts as received just
	// after the first; either way every event is listed once.
	t.Run("since and until of receive times out of order", func(t *testing.T) {
		e := s.open(t, store.Policy{})
		for _, ev := range outOfOrder() {
			e.acceptNew(ev)
		}
		mid := Epoch.Add(90 * time.Second)
		since := recordIDs(e.listAll(store.ListFilter{Since: mid}))
		until := recordIDs(e.listAll(store.ListFilter{Until: mid}))
		byReceipt := slices.Equal(since, []string{"late"}) && slices.Equal(until, []string{"early"})
		byStoreOrder := slices.Equal(since, []string{"early", "late"}) && len(until) == 0
		if !byReceipt && !byStoreOrder {
			t.Errorf("List(since %s) = %v and List(until) = %v; want [late] and [early] (receive times) or [early late] and [] (store order)",
				fmtTime(mid), since, until)
		}
	})
}

// outOfOrder returns two events, the later received stored first.
func outOfOrder() []*store.Event {
	late, early := Event("late", "app"), Event("early", "app")
	late.ReceivedAt, early.ReceivedAt = Epoch.Add(2*time.Minute), Epoch.Add(time.Minute)
	return []*store.Event{late, early}
}

// testListLimits needs more events than a page holds.
func (s *suite) testListLimits(t *testing.T) {
	e := s.open(t, store.Policy{})
	evs := make([]*store.Event, store.MaxListLimit+1)
	for i := range evs {
		evs[i] = Event(fmt.Sprintf("l%04d", i), "app")
		evs[i].Body = []byte("{}")
	}
	acceptAll(e, evs)
	tests := []struct {
		limit, want int
	}{
		{limit: 0, want: store.DefaultListLimit},
		{limit: store.MaxListLimit + 500, want: store.MaxListLimit},
	}
	for _, tc := range tests {
		recs, next, err := e.s.List(bg, store.ListFilter{Limit: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != tc.want || next == "" {
			t.Errorf("List(limit %d) = %d events, cursor %q; want %d and a cursor", tc.limit, len(recs), next, tc.want)
		}
	}
	all := e.listAll(store.ListFilter{Limit: 300})
	seen := make(map[string]bool, len(all))
	for i, rec := range all {
		if seen[rec.ID] {
			t.Fatalf("%s listed twice", rec.ID)
		}
		seen[rec.ID] = true
		if i > 0 && rec.Seq >= all[i-1].Seq {
			t.Fatalf("%s (seq %d) listed after %s (seq %d): not newest first", rec.ID, rec.Seq, all[i-1].ID, all[i-1].Seq)
		}
	}
	if len(seen) != len(evs) {
		t.Errorf("paging listed %d events, want %d", len(seen), len(evs))
	}
}

// testAddressing: events are addressed by (source, id); an ID alone is
// ambiguous when two sources hold it.
func (s *suite) testAddressing(t *testing.T) {
	setup := func(t *testing.T) *env {
		e := s.open(t, store.Policy{})
		e.deliver(SourceEvent("zeta", "x", "app"), store.StatusDead)
		e.deliver(SourceEvent("alpha", "x", "app"), store.StatusDead)
		e.acceptNew(SourceEvent("alpha", "y", "app"))
		return e
	}
	ambiguous := []struct {
		name string
		call func(e *env) error
	}{
		{name: "get", call: func(e *env) error { _, err := e.s.Get(bg, "", "x"); return err }},
		{name: "delete", call: func(e *env) error { return e.s.Delete(bg, "", "x") }},
		{name: "requeue", call: func(e *env) error { return e.s.Requeue(bg, "", "x", "") }},
		{name: "requeue one target", call: func(e *env) error { return e.s.Requeue(bg, "", "x", "app") }},
	}
	for _, tc := range ambiguous {
		t.Run(tc.name+" without source is ambiguous", func(t *testing.T) {
			e := setup(t)
			var amb *store.AmbiguousError
			if err := tc.call(e); !errors.As(err, &amb) {
				t.Fatalf("%s(\"\", x) = %v, want *store.AmbiguousError", tc.name, err)
			}
			if amb.ID != "x" || !slices.Equal(amb.Sources, []string{"alpha", "zeta"}) {
				t.Errorf("AmbiguousError = %+v, want ID x, sources [alpha zeta]", amb)
			}
			for _, src := range []string{"alpha", "zeta"} {
				if st := e.state(src, "x", "app"); st.Status != store.StatusDead {
					t.Errorf("%s/x is %s after an ambiguous call, want dead still", src, st.Status)
				}
			}
		})
	}

	t.Run("each source's event", func(t *testing.T) {
		e := setup(t)
		for _, src := range []string{"alpha", "zeta"} {
			if rec := e.get(src, "x"); rec.Source != src {
				t.Errorf("Get(%s, x) returned %s's event", src, rec.Source)
			}
		}
		if rec := e.get("", "y"); rec.Source != "alpha" {
			t.Errorf("Get(\"\", y) returned %s's event, want alpha's", rec.Source)
		}
		_, err := e.s.Get(bg, "zeta", "y")
		wantErr(t, "Get(zeta, y)", err, store.ErrNotFound)
	})

	t.Run("requeue with source", func(t *testing.T) {
		e := setup(t)
		if err := e.s.Requeue(bg, "alpha", "x", ""); err != nil {
			t.Fatal(err)
		}
		if st := e.state("alpha", "x", "app"); st.Status != store.StatusPending {
			t.Errorf("alpha/x is %s, want pending", st.Status)
		}
		if st := e.state("zeta", "x", "app"); st.Status != store.StatusDead {
			t.Errorf("zeta/x is %s, want dead still", st.Status)
		}
	})

	t.Run("delete with source", func(t *testing.T) {
		e := setup(t)
		if err := e.s.Delete(bg, "zeta", "x"); err != nil {
			t.Fatal(err)
		}
		if e.present("zeta", "x") {
			t.Error("zeta/x still there")
		}
		if rec := e.get("", "x"); rec.Source != "alpha" {
			t.Errorf("Get(\"\", x) after deleting zeta's = %s's event, want alpha's", rec.Source)
		}
		if rc := e.accept(SourceEvent("alpha", "x", "app")); !rc.Duplicate {
			t.Error("alpha/x accepted again: deleting zeta's event dropped alpha's dedup marker")
		}
		if rc := e.accept(SourceEvent("zeta", "x", "app")); rc.Duplicate {
			t.Error("zeta/x refused as a duplicate after it was deleted")
		}
	})
}

// testStats: per-target pending and dead counts, oldest pending.
func (s *suite) testStats(t *testing.T) {
	e := s.open(t, store.Policy{})
	if st := e.stats(); len(st) != 0 {
		t.Fatalf("Stats of an empty store = %v, want none", st)
	}
	t0 := e.clock.Now()
	e.deliver(Event("d1", "app"), store.StatusDelivered) // settled first: not the oldest pending
	e.deliver(Event("x1", "app", "pager", "audit"), store.StatusDead)
	e.deliver(Event("x2", "pager"), store.StatusDead)
	e.deliver(Event("ok", "done"), store.StatusDelivered)
	e.clock.Advance(time.Minute)
	e.acceptNew(Event("p1", "app", "pager"))
	e.clock.Advance(time.Minute)
	e.acceptNew(Event("p2", "app"))
	e.acceptNew(Event("u1")) // unrouted: counted nowhere
	want := map[string]store.TargetStats{
		"app":   {Pending: 2, Dead: 1, OldestPending: t0.Add(time.Minute)},
		"pager": {Pending: 1, Dead: 2, OldestPending: t0.Add(time.Minute)},
		"audit": {Dead: 1},
	}
	check := func(t *testing.T, e *env, want map[string]store.TargetStats) {
		t.Helper()
		got := e.stats()
		for target, w := range want {
			g, ok := got[target]
			if !ok || g.Pending != w.Pending || g.Dead != w.Dead || !g.OldestPending.Equal(w.OldestPending) {
				t.Errorf("Stats[%s] = %+v (present %v), want %+v", target, g, ok, w)
			}
		}
		for target := range got {
			if _, ok := want[target]; !ok {
				t.Errorf("Stats lists %s (%+v), which has nothing pending or dead", target, got[target])
			}
		}
	}
	t.Run("counts", func(t *testing.T) { check(t, e, want) })

	// As for List's bounds, OldestPending may follow the receive times or
	// the store's order (see store.TargetStats).
	t.Run("oldest pending of receive times out of order", func(t *testing.T) {
		e := s.open(t, store.Policy{})
		for _, ev := range outOfOrder() {
			e.acceptNew(ev)
		}
		got := e.stats()["app"]
		if got.Pending != 2 || (!got.OldestPending.Equal(Epoch.Add(time.Minute)) && !got.OldestPending.Equal(Epoch.Add(2*time.Minute))) {
			t.Errorf("Stats[app] = %+v, want 2 pending, the oldest received at %s (receive times) or %s (store order)",
				got, fmtTime(Epoch.Add(time.Minute)), fmtTime(Epoch.Add(2*time.Minute)))
		}
	})

	t.Run("oldest pending of events received together", func(t *testing.T) {
		e := s.open(t, store.Policy{})
		e.deliver(Event("first", "app"), store.StatusDelivered)
		e.acceptNew(Event("second", "app")) // same instant
		got := e.stats()["app"]
		if got.Pending != 1 || got.OldestPending.Before(Epoch) || got.OldestPending.After(Epoch.Add(time.Millisecond)) {
			t.Errorf("Stats[app] = %+v, want 1 pending received at %s (to within the store's ordering)", got, fmtTime(Epoch))
		}
	})

	t.Run("follow settling and replay", func(t *testing.T) {
		e := *e
		e.t = t
		e.ack(e.leaseOne("pager", "p1"))
		if err := e.s.Requeue(bg, Source, "x1", "audit"); err != nil {
			t.Fatal(err)
		}
		e.ack(e.leaseOne("audit", "x1"))
		check(t, &e, map[string]store.TargetStats{
			"app":   {Pending: 2, Dead: 1, OldestPending: t0.Add(time.Minute)},
			"pager": {Dead: 2},
		})
	})
}
