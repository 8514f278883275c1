package badger

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// seedMix stores four events in a known mix of states:
//
//	e1 app: delivered
//	e2 app: dead, pager: pending
//	e3 unrouted
//	e4 pager: pending
func seedMix(t *testing.T, in *Store, clock *testClock) {
	t.Helper()
	mustAccept(t, in, testEvent("e1", "app"))
	clock.Advance(time.Second)
	mustAccept(t, in, testEvent("e2", "app", "pager"))
	clock.Advance(time.Second)
	mustAccept(t, in, testEvent("e3"))
	clock.Advance(time.Second)
	mustAccept(t, in, testEvent("e4", "pager"))
	ds := mustLease(t, in, "app", clock.Now(), 10)
	if len(ds) != 2 {
		t.Fatalf("leased %d app entries, want 2", len(ds))
	}
	if err := in.Ack(bg, ds[0], store.Attempt{Status: 200}); err != nil {
		t.Fatal(err)
	}
	if err := in.Dead(bg, ds[1], store.Attempt{Status: 400}, "permanent status 400"); err != nil {
		t.Fatal(err)
	}
}

func TestListFilters(t *testing.T) {
	clock := newTestClock()
	in := openTest(t, "", Options{Clock: clock})
	seedMix(t, in, clock)
	tests := []struct {
		name    string
		filter  store.ListFilter
		want    []string
		wantErr bool
	}{
		{name: "everything", filter: store.ListFilter{}, want: []string{"e4", "e3", "e2", "e1"}},
		{name: "pending", filter: store.ListFilter{Status: store.StatusPending}, want: []string{"e4", "e2"}},
		{name: "delivered", filter: store.ListFilter{Status: store.StatusDelivered}, want: []string{"e1"}},
		{name: "dead", filter: store.ListFilter{Status: store.StatusDead}, want: []string{"e2"}},
		{name: "unrouted", filter: store.ListFilter{Status: store.StatusUnrouted}, want: []string{"e3"}},
		{name: "target app", filter: store.ListFilter{Target: "app"}, want: []string{"e2", "e1"}},
		{name: "target pager", filter: store.ListFilter{Target: "pager"}, want: []string{"e4", "e2"}},
		{name: "pending for app", filter: store.ListFilter{Status: store.StatusPending, Target: "app"}, want: nil},
		{name: "dead for app", filter: store.ListFilter{Status: store.StatusDead, Target: "app"}, want: []string{"e2"}},
		{name: "unrouted for a target", filter: store.ListFilter{Status: store.StatusUnrouted, Target: "app"}, want: nil},
		{name: "unknown status", filter: store.ListFilter{Status: "lost"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, next, err := in.List(bg, tc.filter)
			if tc.wantErr {
				if err == nil {
					t.Fatal("List succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(recs); !slices.Equal(got, tc.want) && len(got)+len(tc.want) > 0 {
				t.Fatalf("List = %v, want %v", got, tc.want)
			}
			if next != "" {
				t.Errorf("next cursor %q on a short page", next)
			}
			for _, r := range recs {
				if r.Body != nil {
					t.Errorf("%s: body loaded without WithBody", r.ID)
				}
			}
		})
	}
	recs, _, err := in.List(bg, store.ListFilter{Status: store.StatusDead, WithBody: true})
	if err != nil || len(recs) != 1 || len(recs[0].Body) == 0 {
		t.Fatalf("List(WithBody) = %d records, err %v; want a body", len(recs), err)
	}
	if recs[0].Status != store.StatusPending {
		t.Errorf("e2 summary status %s, want pending (pager still pending)", recs[0].Status)
	}
}

func TestListPagination(t *testing.T) {
	clock := newTestClock()
	in := openTest(t, "", Options{Clock: clock})
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("e%d", i)
		mustAccept(t, in, testEvent(id, "app"))
		want = append([]string{id}, want...)
		clock.Advance(time.Millisecond)
	}
	var got []string
	cursor, pages := "", 0
	for {
		recs, next, err := in.List(bg, store.ListFilter{Limit: 3, Cursor: cursor, Status: store.StatusPending})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ids(recs)...)
		pages++
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Fatalf("paged %v in %d pages, want %v in 3", got, pages, want)
	}

	bad := []struct {
		name   string
		cursor string
	}{
		{name: "not base64", cursor: "!!!"},
		{name: "wrong length", cursor: base64.RawURLEncoding.EncodeToString([]byte{1, 2, 3})},
		{name: "zero seq", cursor: base64.RawURLEncoding.EncodeToString(make([]byte, 8))},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := in.List(bg, store.ListFilter{Cursor: tc.cursor}); !errors.Is(err, store.ErrBadCursor) {
				t.Fatalf("List = %v, want store.ErrBadCursor", err)
			}
		})
	}
}

func TestListLimits(t *testing.T) {
	in := openTest(t, "", Options{})
	for i := range store.DefaultListLimit + 5 {
		mustAccept(t, in, testEvent(fmt.Sprintf("e%d", i), "app"))
	}
	tests := []struct {
		name  string
		limit int
		want  int
	}{
		{name: "default", limit: 0, want: store.DefaultListLimit},
		{name: "explicit", limit: 2, want: 2},
		{name: "over the maximum", limit: store.MaxListLimit + 1, want: store.DefaultListLimit + 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, _, err := in.List(bg, store.ListFilter{Limit: tc.limit})
			if err != nil || len(recs) != tc.want {
				t.Fatalf("List = %d records, %v; want %d", len(recs), err, tc.want)
			}
		})
	}
}

func TestStats(t *testing.T) {
	outer := t
	dir := t.TempDir()
	clock := newTestClock()
	t0 := clock.Now()
	in := openTest(t, dir, Options{Clock: clock})
	seedMix(t, in, clock)
	want := map[string]store.TargetStats{
		"app":   {Pending: 0, Dead: 1},
		"pager": {Pending: 2, OldestPending: t0.Add(time.Second)},
	}
	check := func(t *testing.T, in *Store) {
		t.Helper()
		got, err := in.Stats(bg)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("stats for %d targets, want %d: %+v", len(got), len(want), got)
		}
		for target, w := range want {
			g := got[target]
			if g.Pending != w.Pending || g.Dead != w.Dead || !g.OldestPending.Equal(w.OldestPending) {
				t.Errorf("%s: %+v, want %+v", target, g, w)
			}
		}
	}
	tests := []struct {
		name string
		run  func(t *testing.T) *Store
	}{
		{name: "live", run: func(*testing.T) *Store { return in }},
		{name: "after reopen", run: func(t *testing.T) *Store {
			if err := in.Close(); err != nil {
				t.Fatal(err)
			}
			// Owned by the outer test so it outlives this subtest.
			in = openTest(outer, dir, Options{Clock: clock})
			return in
		}},
		{name: "after replaying the dead letter", run: func(t *testing.T) *Store {
			if err := in.Requeue(bg, "", "e2", "app"); err != nil {
				t.Fatal(err)
			}
			want["app"] = store.TargetStats{Pending: 1, OldestPending: t0.Add(time.Second)}
			return in
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check(t, tc.run(t))
		})
	}
}

func TestListTargetsAndTimeRange(t *testing.T) {
	clock := newTestClock()
	t0 := clock.Now()
	in := openTest(t, "", Options{Clock: clock})
	seedMix(t, in, clock) // e1 at t0, e2 at +1s, e3 at +2s, e4 at +3s
	tests := []struct {
		name   string
		filter store.ListFilter
		want   []string
	}{
		{name: "any of two targets", filter: store.ListFilter{Targets: []string{"app", "pager"}}, want: []string{"e4", "e2", "e1"}},
		{name: "target plus targets", filter: store.ListFilter{Target: "app", Targets: []string{"pager"}}, want: []string{"e4", "e2", "e1"}},
		{name: "repeated target", filter: store.ListFilter{Targets: []string{"app", "app"}}, want: []string{"e2", "e1"}},
		{name: "pending for any", filter: store.ListFilter{Status: store.StatusPending, Targets: []string{"app", "pager"}}, want: []string{"e4", "e2"}},
		{name: "unknown targets", filter: store.ListFilter{Targets: []string{"nope"}}, want: nil},
		{name: "since", filter: store.ListFilter{Since: t0.Add(time.Second)}, want: []string{"e4", "e3", "e2"}},
		{name: "until (exclusive)", filter: store.ListFilter{Until: t0.Add(2 * time.Second)}, want: []string{"e2", "e1"}},
		{name: "since and until", filter: store.ListFilter{Since: t0.Add(time.Second), Until: t0.Add(3 * time.Second)}, want: []string{"e3", "e2"}},
		{name: "range with status", filter: store.ListFilter{Status: store.StatusPending, Since: t0.Add(2 * time.Second)}, want: []string{"e4"}},
		{name: "until before 1970", filter: store.ListFilter{Until: time.Unix(-5, 0)}, want: nil},
		{name: "empty range", filter: store.ListFilter{Since: t0.Add(time.Hour)}, want: nil},
		{name: "since past 2262 (int64 nanoseconds overflow)", filter: store.ListFilter{Since: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)}, want: nil},
		{name: "until past 2262", filter: store.ListFilter{Until: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)}, want: []string{"e4", "e3", "e2", "e1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, next, err := in.List(bg, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(recs); !slices.Equal(got, tc.want) {
				t.Fatalf("List = %v, want %v", got, tc.want)
			}
			if next != "" {
				t.Errorf("next cursor %q on a short page", next)
			}
		})
	}

	t.Run("until with a cursor takes the lower bound", func(t *testing.T) {
		recs, next, err := in.List(bg, store.ListFilter{Limit: 1})
		if err != nil || len(recs) != 1 || next == "" {
			t.Fatalf("first page: %v, %q, %v", ids(recs), next, err)
		}
		if next != cursor(recs[0].Seq) {
			t.Errorf("next cursor %q, want cursor(seq) %q", next, cursor(recs[0].Seq))
		}
		recs, _, err = in.List(bg, store.ListFilter{Cursor: next, Until: t0.Add(2 * time.Second)})
		if got := ids(recs); err != nil || !slices.Equal(got, []string{"e2", "e1"}) {
			t.Fatalf("List = %v, %v; want [e2 e1]", got, err)
		}
		recs, _, err = in.List(bg, store.ListFilter{Cursor: cursor(recs[0].Seq), Until: t0.Add(time.Hour)})
		if got := ids(recs); err != nil || !slices.Equal(got, []string{"e1"}) {
			t.Fatalf("List = %v, %v; want [e1]", got, err)
		}
	})
}

// TestListStatusAcrossTargets lists a status without a target, which merges
// every target's index: targets whose names prefix each other, and several
// events per target, must all be found once.
func TestListStatusAcrossTargets(t *testing.T) {
	clock := newTestClock()
	in := openTest(t, "", Options{Clock: clock})
	var want []string
	for i, targets := range [][]string{{"app"}, {"app2"}, {"b"}, {"app"}, {"app", "app2"}, {"app2"}} {
		id := fmt.Sprintf("e%d", i)
		mustAccept(t, in, testEvent(id, targets...))
		want = append([]string{id}, want...)
		clock.Advance(time.Millisecond)
	}
	recs, _, err := in.List(bg, store.ListFilter{Status: store.StatusPending})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(recs); !slices.Equal(got, want) {
		t.Fatalf("List(pending) = %v, want %v", got, want)
	}
	if n := countKeys(t, in, []byte("g/")); n != 0 {
		t.Errorf("%d g/ keys written for routed events; their status is indexed under s/ only", n)
	}
}
