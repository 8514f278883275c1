package badger

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

func TestLease(t *testing.T) {
	clock := newTestClock()
	t0 := clock.Now()
	in := openTest(t, "", Options{Clock: clock})
	for i := range 3 {
		mustAccept(t, in, testEvent(fmt.Sprintf("e%d", i), "app"))
	}
	mustAccept(t, in, testEvent("other", "pager"))

	tests := []struct {
		name     string
		target   string
		now      time.Time
		max      int
		leaseFor time.Duration
		want     []string
	}{
		{name: "nothing due before receive time", target: "app", now: t0.Add(-time.Second), max: 10, want: nil},
		{name: "max caps the batch, oldest first", target: "app", now: t0, max: 2, leaseFor: time.Minute, want: []string{"e0", "e1"}},
		{name: "leased entries are skipped", target: "app", now: t0, max: 10, leaseFor: time.Minute, want: []string{"e2"}},
		{name: "all leased", target: "app", now: t0, max: 10, leaseFor: time.Minute, want: nil},
		{name: "expired leases are handed out again", target: "app", now: t0.Add(2 * time.Minute), max: 10, leaseFor: time.Minute, want: []string{"e0", "e1", "e2"}},
		{name: "targets have separate queues", target: "pager", now: t0, max: 10, want: []string{"other"}},
		{name: "unknown target", target: "nope", now: t0, max: 10, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := in.lease(tc.target, tc.now, tc.max, tc.leaseFor)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range ds {
				got = append(got, d.Event.ID)
				if d.Target != tc.target || d.Attempts != 0 || len(d.Event.Body) == 0 {
					t.Errorf("%s: target %q attempts %d body %d bytes", d.Event.ID, d.Target, d.Attempts, len(d.Event.Body))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("leased %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRetryMovesDue(t *testing.T) {
	clock := newTestClock()
	in := openTest(t, "", Options{Clock: clock})
	mustAccept(t, in, testEvent("flaky", "app"))
	t0 := clock.Now()
	d := mustLease(t, in, "app", t0, 1)[0]
	next := t0.Add(10 * time.Second)
	if err := in.Retry(bg, d, store.Attempt{At: t0, Duration: 30 * time.Millisecond, Status: 503, Error: "503 Service Unavailable"}, next); err != nil {
		t.Fatal(err)
	}
	if ds := mustLease(t, in, "app", t0.Add(5*time.Second), 1); len(ds) != 0 {
		t.Fatalf("leased %d entries before the retry was due", len(ds))
	}
	ds := mustLease(t, in, "app", next, 1)
	if len(ds) != 1 || ds[0].Attempts != 1 || !ds[0].Due.Equal(next) {
		t.Fatalf("leased %+v, want one entry with 1 attempt due %v", ds, next)
	}
	rec := mustGet(t, in, "flaky")
	st := deliveryOf(t, rec, "app")
	if st.Status != store.StatusPending || !st.Due.Equal(next) || len(st.Attempts) != 1 || st.Attempts[0].Status != 503 {
		t.Errorf("state %+v, want pending, due %v, one 503 attempt", st, next)
	}
	if n := countKeys(t, in, []byte("q/")); n != 1 {
		t.Errorf("%d queue entries, want 1", n)
	}
}

func TestSettle(t *testing.T) {
	tests := []struct {
		name    string
		targets []string
		settle  func(in *Store, d store.Delivery) error
		status  store.Status
		settled bool // all targets settled, so retention applies
	}{
		{name: "ack, single target", targets: []string{"app"}, status: store.StatusDelivered, settled: true,
			settle: func(in *Store, d store.Delivery) error { return in.Ack(bg, d, store.Attempt{Status: 200}) }},
		{name: "dead, single target", targets: []string{"app"}, status: store.StatusDead, settled: true,
			settle: func(in *Store, d store.Delivery) error {
				return in.Dead(bg, d, store.Attempt{Status: 410}, "permanent status 410")
			}},
		{name: "ack, other target still pending", targets: []string{"app", "pager"}, status: store.StatusDelivered, settled: false,
			settle: func(in *Store, d store.Delivery) error { return in.Ack(bg, d, store.Attempt{Status: 204}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newTestClock()
			in := openTest(t, "", Options{Clock: clock, Policy: store.Policy{Retention: time.Hour}})
			mustAccept(t, in, testEvent("ev", tc.targets...))
			d := mustLease(t, in, "app", clock.Now(), 1)[0]
			if err := tc.settle(in, d); err != nil {
				t.Fatal(err)
			}
			rec := mustGet(t, in, "ev")
			st := deliveryOf(t, rec, "app")
			if st.Status != tc.status || len(st.Attempts) != 1 || st.RunAttempts != 1 {
				t.Fatalf("app state %+v, want %s with one attempt", st, tc.status)
			}
			if ds := mustLease(t, in, "app", clock.Now().Add(time.Hour), 10); len(ds) != 0 {
				t.Errorf("settled delivery still leasable")
			}
			until := retainedUntil(t, in, rec.Seq)
			if want := clock.Now().Add(time.Hour); tc.settled && !until.Equal(want) {
				t.Errorf("retained until %v, want %v (settled + 1h retention)", until, want)
			} else if !tc.settled && !until.IsZero() {
				t.Errorf("event retained until %v while a target is pending", until)
			}
			for _, key := range [][]byte{eventKey(rec.Seq), idKey("ev", rec.Seq), stateKey(rec.Seq, "app"), statusKey(mustCode(tc.status), "app", rec.Seq)} {
				if e := expiry(t, in, key); e != 0 {
					t.Errorf("key %q has a Badger TTL (%d); the sweeper deletes settled events", key, e)
				}
			}
			if err := tc.settle(in, d); !errors.Is(err, store.ErrNotPending) {
				t.Errorf("settling twice = %v, want store.ErrNotPending", err)
			}
		})
	}
}

func mustCode(s store.Status) byte {
	c, _ := codeOf(s)
	return c
}

func TestDeadLetterAndRequeue(t *testing.T) {
	clock := newTestClock()
	in := openTest(t, "", Options{Clock: clock})
	mustAccept(t, in, testEvent("gone", "app", "pager"))
	t0 := clock.Now()
	for _, target := range []string{"app", "pager"} {
		d := mustLease(t, in, target, t0, 1)[0]
		if err := in.Dead(bg, d, store.Attempt{Status: 404, Body: "not found"}, "permanent status 404"); err != nil {
			t.Fatal(err)
		}
	}
	recs, _, err := in.List(bg, store.ListFilter{Status: store.StatusDead, Target: "app"})
	if err != nil || len(recs) != 1 || recs[0].ID != "gone" {
		t.Fatalf("List(dead, app) = %v, %v", ids(recs), err)
	}
	if st := deliveryOf(t, &recs[0], "app"); st.Reason != "permanent status 404" {
		t.Errorf("reason %q", st.Reason)
	}
	if until := retainedUntil(t, in, recs[0].Seq); until.IsZero() {
		t.Fatal("dead event not filed for retention")
	}

	t1 := clock.Advance(time.Hour)
	if err := in.Requeue(bg, "", "gone", "app"); err != nil {
		t.Fatal(err)
	}
	rec := mustGet(t, in, "gone")
	app, pager := deliveryOf(t, rec, "app"), deliveryOf(t, rec, "pager")
	if rec.Status != store.StatusPending || app.Status != store.StatusPending || pager.Status != store.StatusDead {
		t.Fatalf("after replay: event %s, app %s, pager %s", rec.Status, app.Status, pager.Status)
	}
	if app.RunAttempts != 0 || len(app.Attempts) != 1 || !app.Since.Equal(t1) || app.Reason != "" {
		t.Errorf("replayed app state %+v, want a fresh run keeping the history", app)
	}
	if exp := expiry(t, in, eventKey(rec.Seq)); exp != 0 {
		t.Errorf("replayed event still expires at %d", exp)
	}
	if exp := expiry(t, in, stateKey(rec.Seq, "pager")); exp != 0 {
		t.Errorf("replayed event's pager state still expires at %d", exp)
	}
	ds := mustLease(t, in, "app", t1, 10)
	if len(ds) != 1 || ds[0].Attempts != 0 || !ds[0].Since.Equal(t1) {
		t.Fatalf("leased %+v after replay", ds)
	}
	if err := in.Requeue(bg, "", "gone", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Requeue(unknown target) = %v, want store.ErrNotFound", err)
	}
	if err := in.Requeue(bg, "", "missing", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Requeue(unknown id) = %v, want store.ErrNotFound", err)
	}
	// Replaying all targets revives pager too; app, already pending and
	// leased, just becomes due now.
	if err := in.Requeue(bg, "", "gone", ""); err != nil {
		t.Fatal(err)
	}
	if ds := mustLease(t, in, "pager", t1, 10); len(ds) != 1 {
		t.Errorf("pager leased %d after replay-all, want 1", len(ds))
	}
	if n := countKeys(t, in, []byte("q/")); n != 2 {
		t.Errorf("%d queue entries, want one per target", n)
	}
	if err := in.Ack(bg, ds[0], store.Attempt{Status: 200}); err != nil {
		t.Fatalf("Ack after the entry was replayed while leased: %v", err)
	}
	if n := countKeys(t, in, []byte("q/")); n != 1 {
		t.Errorf("%d queue entries after ack, want 1", n)
	}
}

func TestReopenRedeliversUnsettled(t *testing.T) {
	dir := t.TempDir()
	clock := newTestClock()
	in := openTest(t, dir, Options{Clock: clock})
	for i := range 4 {
		mustAccept(t, in, testEvent(fmt.Sprintf("e%d", i), "app"))
	}
	ds := mustLease(t, in, "app", clock.Now(), 3)
	if err := in.Ack(bg, ds[0], store.Attempt{Status: 200}); err != nil {
		t.Fatal(err)
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	in = openTest(t, dir, Options{Clock: clock})
	got := mustLease(t, in, "app", clock.Now(), 10)
	var leased []string
	for _, d := range got {
		leased = append(leased, d.Event.ID)
	}
	if fmt.Sprint(leased) != "[e1 e2 e3]" {
		t.Fatalf("leased %v after reopen, want [e1 e2 e3]", leased)
	}
	// A clock step back must not reuse keys of events stored before.
	clock.Advance(-24 * time.Hour)
	mustAccept(t, in, testEvent("after-step-back", "app"))
	rec := mustGet(t, in, "after-step-back")
	if last := got[len(got)-1].Seq; rec.Seq <= last {
		t.Errorf("seq %d after a clock step back, want above %d", rec.Seq, last)
	}
}

func TestConcurrentLeaseAck(t *testing.T) {
	clock := newTestClock()
	in := openTest(t, "", Options{Clock: clock})
	const events, workers = 300, 8
	for i := range events {
		mustAccept(t, in, testEvent(fmt.Sprintf("e%d", i), "app"))
	}
	var (
		mu   sync.Mutex
		seen = make(map[string]int)
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for {
				ds, err := in.lease("app", clock.Now(), 5, time.Hour)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ds) == 0 {
					return
				}
				for _, d := range ds {
					mu.Lock()
					seen[d.Event.ID]++
					mu.Unlock()
					if err := in.Ack(bg, d, store.Attempt{Status: 200}); err != nil {
						t.Errorf("Ack(%s): %v", d.Event.ID, err)
					}
				}
			}
		})
	}
	wg.Wait()
	if len(seen) != events {
		t.Errorf("%d events delivered, want %d", len(seen), events)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s leased %d times", id, n)
		}
	}
	stats, err := in.Stats(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 0 {
		t.Errorf("stats after draining: %+v", stats)
	}
}
