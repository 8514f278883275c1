package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// testAccept: what Accept stores is what Get returns.
func (s *suite) testAccept(t *testing.T) {
	tests := []struct {
		name     string
		received time.Duration // from the clock's now; zero: left to the store
	}{
		{name: "receive time from the store clock"},
		{name: "receive time given", received: -time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := s.open(t, store.Policy{})
			ev := Event("e1", "app", "pager")
			want := *Event("e1", "app", "pager")
			want.ReceivedAt = e.clock.Now()
			if tc.received != 0 {
				ev.ReceivedAt = e.clock.Now().Add(tc.received)
				want.ReceivedAt = ev.ReceivedAt
			}
			e.acceptNew(ev)
			ev.Body[0], ev.Headers["Content-Type"] = 'X', "changed" // ev is not retained
			rec := e.get(Source, "e1")
			sameEvent(t, rec.Event, &want, true)
			if rec.Seq == 0 {
				t.Error("Seq = 0, want a sequence number")
			}
		})
	}

	t.Run("cancelled context", func(t *testing.T) {
		e := s.open(t, store.Policy{})
		ctx, cancel := context.WithCancel(bg)
		cancel()
		if _, err := e.s.Accept(ctx, Event("c1", "app")); !isErr(err, context.Canceled) {
			t.Fatalf("Accept with a cancelled context = %v, want context.Canceled", err)
		}
		// Stored or not, a retry by the sender is never lost.
		e.accept(Event("c1", "app"))
		e.get(Source, "c1")
		e.leaseOne("app", "c1")
	})

	t.Run("sequence numbers rise", func(t *testing.T) {
		e := s.open(t, store.Policy{})
		var last uint64
		for i := range 5 {
			id := fmt.Sprintf("s%d", i)
			e.acceptNew(Event(id, "app"))
			seq := e.get(Source, id).Seq
			if seq <= last {
				t.Fatalf("event %s has seq %d after seq %d", id, seq, last)
			}
			last = seq
		}
	})
}

// testDedup: one event per (source, id) within the dedup window.
func (s *suite) testDedup(t *testing.T) {
	other := func(id string) *store.Event { return SourceEvent("other", id, "app") }
	tests := []struct {
		name      string
		first     *store.Event
		second    *store.Event
		duplicate bool
	}{
		{name: "same source and id", first: Event("a", "app"), second: Event("a", "pager"), duplicate: true},
		{name: "same id, other source", first: Event("b", "app"), second: other("b")},
		{name: "other id", first: Event("c", "app"), second: Event("d", "app")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := s.open(t, store.Policy{})
			e.acceptNew(tc.first)
			if rc := e.accept(tc.second); rc.Duplicate != tc.duplicate {
				t.Fatalf("second Accept: Duplicate = %v, want %v", rc.Duplicate, tc.duplicate)
			}
			all := e.listAll(store.ListFilter{})
			queued := len(e.lease("app", 10)) + len(e.lease("pager", 10))
			wantEvents := 2
			if tc.duplicate {
				wantEvents = 1
				// Nothing of the duplicate was written: the first
				// event keeps its targets.
				if got := e.get(tc.first.Source, tc.first.ID).Targets; !slices.Equal(got, tc.first.Targets) {
					t.Errorf("targets after a duplicate = %v, want %v", got, tc.first.Targets)
				}
			}
			if len(all) != wantEvents || queued != wantEvents {
				t.Fatalf("%d events stored (%v) and %d queued, want %d of each", len(all), recordIDs(all), queued, wantEvents)
			}
		})
	}

	t.Run("after reopen", func(t *testing.T) {
		e := s.open(t, store.Policy{})
		e.acceptNew(Event("kept", "app"))
		e.reopen()
		if rc := e.accept(Event("kept", "app")); !rc.Duplicate {
			t.Fatal("event ID forgotten after Close and reopen")
		}
	})

	t.Run("concurrent duplicates", func(t *testing.T) {
		e := s.open(t, store.Policy{})
		const callers = 32
		var (
			wg         sync.WaitGroup
			start      = make(chan struct{})
			fresh, dup atomic.Int32
		)
		for range callers {
			wg.Go(func() {
				<-start
				rc, err := e.s.Accept(bg, Event("same", "app"))
				switch {
				case err != nil:
					t.Errorf("Accept: %v", err)
				case rc.Duplicate:
					dup.Add(1)
				default:
					fresh.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if fresh.Load() != 1 || dup.Load() != callers-1 {
			t.Fatalf("%d stored and %d duplicates, want 1 and %d", fresh.Load(), dup.Load(), callers-1)
		}
		if ds := e.lease("app", 100); len(ds) != 1 {
			t.Fatalf("%d queue entries, want 1", len(ds))
		}
	})

	t.Run("window expires, DedupUntil lasts longer", func(t *testing.T) {
		t.Parallel()
		u := s.ttlUnit()
		e := s.open(t, store.Policy{DedupWindow: u})
		e.acceptNew(Event("short", "app"))
		long := Event("long", "app")
		long.DedupUntil = e.clock.Now().Add(5 * u)
		e.acceptNew(long)
		if rc := e.accept(Event("short", "app")); !rc.Duplicate {
			t.Fatal("second Accept inside the window was not a duplicate")
		}
		e.clock.Advance(2 * u)
		e.eventually("event ID still remembered after the dedup window", func() bool {
			return !e.accept(Event("short", "app")).Duplicate
		})
		if rc := e.accept(Event("long", "app")); !rc.Duplicate {
			t.Error("an event with DedupUntil past the window was forgotten with the window")
		}
		if n := len(e.listAll(store.ListFilter{})); n != 3 {
			t.Errorf("%d events stored, want 3 (short twice, long once)", n)
		}
	})

	t.Run("SetPolicy shortens the window", func(t *testing.T) {
		t.Parallel()
		u := s.ttlUnit()
		e := s.open(t, store.Policy{})
		e.s.SetPolicy(store.Policy{DedupWindow: u})
		e.acceptNew(Event("short", "app"))
		e.clock.Advance(2 * u)
		e.eventually("the dedup window set by SetPolicy was not applied", func() bool {
			return !e.accept(Event("short", "app")).Duplicate
		})
	})
}

// testAtomicity: once Accept returns, the event, its states and its queue
// entries are all there; a refused event leaves nothing.
func (s *suite) testAtomicity(t *testing.T) {
	tests := []struct {
		name        string
		targets     []string
		wantTargets []string // in target-name order
	}{
		{name: "one target", targets: []string{"app"}, wantTargets: []string{"app"}},
		{name: "several targets", targets: []string{"pager", "app", "audit"}, wantTargets: []string{"app", "audit", "pager"}},
		{name: "repeated targets", targets: []string{"app", "pager", "app"}, wantTargets: []string{"app", "pager"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := s.open(t, store.Policy{})
			ev := Event("e1", tc.targets...)
			e.acceptNew(ev)
			recv := e.clock.Now()
			rec := e.get(Source, "e1")
			if rec.Status != store.StatusPending {
				t.Errorf("status %s, want pending", rec.Status)
			}
			if !slices.Equal(sorted(rec.Targets), tc.wantTargets) {
				t.Errorf("targets %v, want %v", rec.Targets, tc.wantTargets)
			}
			var got []string
			for _, d := range rec.Deliveries {
				got = append(got, d.Target)
				if d.Status != store.StatusPending || d.RunAttempts != 0 || len(d.Attempts) != 0 || d.Reason != "" {
					t.Errorf("state of %s = %+v, want pending and untried", d.Target, d)
				}
				sameTime(t, d.Target+" due", d.Due, recv)
				sameTime(t, d.Target+" since", d.Since, recv)
			}
			if !slices.Equal(got, tc.wantTargets) {
				t.Fatalf("deliveries for %v, want %v", got, tc.wantTargets)
			}
			for _, target := range tc.wantTargets {
				ds := e.lease(target, 10)
				if len(ds) != 1 {
					t.Fatalf("Lease(%s) = %v, want one entry", target, deliveryIDs(ds))
				}
				d := ds[0]
				if d.Target != target || d.Seq != rec.Seq || d.Attempts != 0 {
					t.Errorf("delivery = {Target:%s Seq:%d Attempts:%d}, want {%s %d 0}", d.Target, d.Seq, d.Attempts, target, rec.Seq)
				}
				sameEvent(t, d.Event, &store.Event{ID: ev.ID, Source: ev.Source, Type: ev.Type, ClientIP: ev.ClientIP,
					Headers: ev.Headers, Body: ev.Body, Targets: tc.wantTargets, ReceivedAt: recv}, true)
				sameTime(t, "delivery since", d.Since, recv)
				sameTime(t, "delivery due", d.Due, recv)
			}
			if st := e.stats(); len(st) != len(tc.wantTargets) {
				t.Errorf("Stats = %v, want one pending entry per target", st)
			}
		})
	}

	t.Run("unrouted", func(t *testing.T) {
		e := s.open(t, store.Policy{})
		e.acceptNew(Event("lost"))
		rec := e.get(Source, "lost")
		if rec.Status != store.StatusUnrouted || len(rec.Deliveries) != 0 {
			t.Fatalf("unrouted event: status %s, %d deliveries; want unrouted, none", rec.Status, len(rec.Deliveries))
		}
		if got := recordIDs(e.listAll(store.ListFilter{Status: store.StatusUnrouted})); !slices.Equal(got, []string{"lost"}) {
			t.Errorf("List(unrouted) = %v, want [lost]", got)
		}
		for _, target := range []string{"", "app"} {
			e.leaseNone(target)
		}
		if st := e.stats(); len(st) != 0 {
			t.Errorf("Stats = %v, want nothing", st)
		}
		if rc := e.accept(Event("lost")); !rc.Duplicate {
			t.Error("an unrouted event is deduplicated too")
		}
	})

	refused := []struct {
		name string
		ev   *store.Event
	}{
		{name: "empty id", ev: Event("", "app")},
		{name: "empty source", ev: SourceEvent("", "x", "app")},
	}
	for _, tc := range refused {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			e := s.open(t, store.Policy{})
			if _, err := e.s.Accept(bg, tc.ev); err == nil {
				t.Fatal("Accept succeeded, want an error")
			}
			if all := e.listAll(store.ListFilter{}); len(all) != 0 {
				t.Errorf("refused event stored: %v", recordIDs(all))
			}
			e.leaseNone("app")
		})
	}
}
