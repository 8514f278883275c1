package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// testRequeue: Requeue replays one event to one or all of its targets with
// a fresh run, keeping the attempt history.
func (s *suite) testRequeue(t *testing.T) {
	// setup stores x with app delivered, pager dead and audit pending in
	// backoff after two attempts, then moves the clock an hour on.
	setup := func(t *testing.T) *env {
		e := s.open(t, store.Policy{})
		e.acceptNew(Event("x", "app", "pager", "audit"))
		e.ack(e.leaseOne("app", "x"))
		e.dead(e.leaseOne("pager", "x"), "gave up")
		e.retry(e.leaseOne("audit", "x"), e.clock.Now())
		e.retry(e.leaseOne("audit", "x"), e.clock.Now().Add(24*time.Hour))
		e.clock.Advance(time.Hour)
		return e
	}
	all := []string{"app", "audit", "pager"}
	tests := []struct {
		name     string
		target   string
		replayed []string // targets pending with a fresh run afterwards
	}{
		{name: "all targets", replayed: all},
		{name: "delivered target", target: "app", replayed: []string{"app"}},
		{name: "dead target", target: "pager", replayed: []string{"pager"}},
		{name: "pending target in backoff", target: "audit", replayed: []string{"audit"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t)
			before := e.get(Source, "x")
			if err := e.s.Requeue(bg, Source, "x", tc.target); err != nil {
				t.Fatalf("Requeue: %v", err)
			}
			now := e.clock.Now()
			after := e.get(Source, "x")
			for i, st := range after.Deliveries {
				was := before.Deliveries[i]
				if !slices.Contains(tc.replayed, st.Target) {
					if st.Status != was.Status || st.RunAttempts != was.RunAttempts || !st.Due.Equal(was.Due) {
						t.Errorf("%s changed: %+v, was %+v", st.Target, st, was)
					}
					continue
				}
				if st.Status != store.StatusPending || st.Reason != "" {
					t.Errorf("%s after Requeue: status %s, reason %q; want pending, none", st.Target, st.Status, st.Reason)
				}
				sameTime(t, st.Target+" due", st.Due, now)
				sameAttempts(t, st.Target+" history", st.Attempts, was.Attempts)
				d := e.leaseOne(st.Target, "x")
				if was.Status == store.StatusPending {
					// Whether a pending target's run restarts too is the
					// case "pending target restarts its run".
					continue
				}
				if st.RunAttempts != 0 || d.Attempts != 0 {
					t.Errorf("%s: %d run attempts, delivery counts %d; want 0 (a fresh retry budget)", st.Target, st.RunAttempts, d.Attempts)
				}
				sameTime(t, st.Target+" since (max_age restarts)", st.Since, now)
				sameTime(t, st.Target+" delivery since", d.Since, now)
			}
			if after.Status != store.StatusPending {
				t.Errorf("event status %s, want pending", after.Status)
			}
		})
	}

	// The contract: "pending again, due now, with a fresh retry budget
	// and max_age", for a target that was pending too.
	t.Run("pending target restarts its run", func(t *testing.T) {
		e := setup(t)
		if err := e.s.Requeue(bg, Source, "x", "audit"); err != nil {
			t.Fatalf("Requeue: %v", err)
		}
		now := e.clock.Now()
		st := e.state(Source, "x", "audit")
		d := e.leaseOne("audit", "x")
		if st.RunAttempts != 0 || d.Attempts != 0 {
			t.Errorf("requeued pending target: %d run attempts, delivery counts %d; want 0 (a fresh retry budget)", st.RunAttempts, d.Attempts)
		}
		sameTime(t, "since (max_age restarts)", st.Since, now)
		sameTime(t, "delivery since", d.Since, now)
	})

	missing := []struct {
		name, source, id, target string
	}{
		{name: "unknown target", source: Source, id: "x", target: "nobody"},
		{name: "unknown event", source: Source, id: "nope"},
		{name: "unknown event, no source", id: "nope"},
		{name: "other source", source: "other", id: "x"},
	}
	for _, tc := range missing {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t)
			before := e.get(Source, "x")
			wantErr(t, "Requeue", e.s.Requeue(bg, tc.source, tc.id, tc.target), store.ErrNotFound)
			for i, st := range e.get(Source, "x").Deliveries {
				if was := before.Deliveries[i]; st.Status != was.Status || st.RunAttempts != was.RunAttempts {
					t.Errorf("%s changed by a failed Requeue: %+v, was %+v", st.Target, st, was)
				}
			}
		})
	}
}

// testReplayDead: bulk replay of dead letters by target and predicate,
// dry run and pacing.
func (s *suite) testReplayDead(t *testing.T) {
	// setup stores dead letters d1, d2, d3 for app (d2 of type b) and d4
	// for pager, an event delivered and one pending.
	setup := func(t *testing.T) *env {
		e := s.open(t, store.Policy{})
		for _, id := range []string{"d1", "d2", "d3"} {
			ev := Event(id, "app")
			if id == "d2" {
				ev.Type = "b"
			}
			e.deliver(ev, store.StatusDead)
			e.clock.Advance(time.Second)
		}
		e.deliver(Event("d4", "pager"), store.StatusDead)
		e.deliver(Event("ok", "app"), store.StatusDelivered)
		e.acceptNew(Event("p1", "app"))
		e.ack(e.leaseOne("app", "p1")) // p1 becomes pending again below
		if err := e.s.Requeue(bg, Source, "p1", ""); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Hour)
		return e
	}
	typeA := func(rec *store.EventRecord) bool { return rec.Type != "b" }
	tests := []struct {
		name   string
		target string
		match  func(*store.EventRecord) bool
		dryRun bool
		want   []string // dead letters replayed (or counted), as id>target
	}{
		{name: "all", want: []string{"d1>app", "d2>app", "d3>app", "d4>pager"}},
		{name: "one target", target: "app", want: []string{"d1>app", "d2>app", "d3>app"}},
		{name: "other target", target: "pager", want: []string{"d4>pager"}},
		{name: "unknown target", target: "nobody"},
		{name: "predicate", match: typeA, want: []string{"d1>app", "d3>app", "d4>pager"}},
		{name: "predicate and target", target: "app", match: typeA, want: []string{"d1>app", "d3>app"}},
		{name: "predicate sees the body", match: func(rec *store.EventRecord) bool {
			return bytes.Contains(rec.Body, []byte(`"d3"`)) && len(rec.Deliveries) == 1
		}, want: []string{"d3>app"}},
		{name: "predicate matches nothing", match: func(*store.EventRecord) bool { return false }},
		{name: "dry run", dryRun: true, want: []string{"d1>app", "d2>app", "d3>app", "d4>pager"}},
		{name: "dry run with predicate", dryRun: true, target: "app", match: typeA, want: []string{"d1>app", "d3>app"}},
	}
	dead := []string{"d1>app", "d2>app", "d3>app", "d4>pager"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t)
			statsBefore := e.stats()
			n, err := e.s.ReplayDead(bg, tc.target, tc.match, store.ReplayOptions{DryRun: tc.dryRun})
			if err != nil || n != len(tc.want) {
				t.Fatalf("ReplayDead = %d, %v; want %d", n, err, len(tc.want))
			}
			now := e.clock.Now()
			for _, dl := range dead {
				id, target, _ := strings.Cut(dl, ">")
				st := e.state(Source, id, target)
				if tc.dryRun || !slices.Contains(tc.want, dl) {
					if st.Status != store.StatusDead {
						t.Errorf("%s is %s, want dead still", dl, st.Status)
					}
					continue
				}
				if st.Status != store.StatusPending || st.RunAttempts != 0 || len(st.Attempts) != 1 {
					t.Errorf("%s: %s, %d run attempts, %d kept; want pending, 0, the 1 attempt kept",
						dl, st.Status, st.RunAttempts, len(st.Attempts))
				}
				sameTime(t, dl+" due", st.Due, now)
				sameTime(t, dl+" since", st.Since, now)
			}
			if tc.dryRun {
				if got := e.stats(); fmt.Sprint(got) != fmt.Sprint(statsBefore) {
					t.Errorf("Stats after a dry run = %v, want %v", got, statsBefore)
				}
				e.leaseOne("app", "p1")
				e.leaseNone("pager")
				return
			}
			var leased []string
			for _, target := range []string{"app", "pager"} {
				for _, d := range e.lease(target, 10) {
					if d.Event.ID != "p1" {
						leased = append(leased, d.Event.ID+">"+d.Target)
					}
				}
			}
			if slices.Sort(leased); !slices.Equal(leased, tc.want) {
				t.Errorf("leasable after the replay: %v, want %v", leased, tc.want)
			}
		})
	}

	t.Run("paced", func(t *testing.T) {
		e := setup(t)
		const interval, offset = time.Minute, 2
		start := e.clock.Now()
		dry, err := e.s.ReplayDead(bg, "", nil, store.ReplayOptions{DryRun: true, Interval: interval, Offset: offset})
		if err != nil || dry != len(dead) {
			t.Fatalf("paced dry run = %d, %v; want %d", dry, err, len(dead))
		}
		n, err := e.s.ReplayDead(bg, "", nil, store.ReplayOptions{Interval: interval, Offset: offset})
		if err != nil || n != len(dead) {
			t.Fatalf("paced ReplayDead = %d, %v; want %d", n, err, len(dead))
		}
		// The n-th replayed is due (Offset+n) intervals from now, its run
		// starting then; which dead letter is n-th is the backend's choice.
		var dues []time.Time
		for _, dl := range dead {
			id, target, _ := strings.Cut(dl, ">")
			st := e.state(Source, id, target)
			sameTime(t, dl+" since", st.Since, st.Due)
			dues = append(dues, st.Due)
		}
		slices.SortFunc(dues, func(a, b time.Time) int { return a.Compare(b) })
		for i, due := range dues {
			sameTime(t, fmt.Sprintf("due time %d", i), due, start.Add(time.Duration(offset+i)*interval))
		}
		e.leaseOne("app", "p1") // due before the replay: not held back
		leasable := func() int { return len(e.lease("app", 10)) + len(e.lease("pager", 10)) }
		steps := []struct {
			at   time.Duration
			want int
		}{{0, 0}, {offset*interval - time.Second, 0}, {offset * interval, 1}, {(offset + 1) * interval, 1}, {time.Hour, 2}}
		for _, st := range steps {
			e.clock.Set(start.Add(st.at))
			if got := leasable(); got != st.want {
				t.Fatalf("%d newly leasable at now+%s, want %d", got, st.at, st.want)
			}
		}
	})
}
