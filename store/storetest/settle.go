package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// testSettle: Ack, Retry and Dead move a delivery on and record its
// attempts.
func (s *suite) testSettle(t *testing.T) {
	long := strings.Repeat("é", store.MaxExcerpt) // 2 bytes a rune: cut at a rune boundary
	tests := []struct {
		name       string
		steps      []string // ack, retry, dead: one leased attempt each
		errText    string
		reason     string
		wantStatus store.Status
	}{
		{name: "ack", steps: []string{"ack"}, wantStatus: store.StatusDelivered},
		{name: "dead", steps: []string{"dead"}, reason: "status 400", wantStatus: store.StatusDead},
		{name: "retry", steps: []string{"retry"}, wantStatus: store.StatusPending},
		{name: "retry, retry, ack", steps: []string{"retry", "retry", "ack"}, wantStatus: store.StatusDelivered},
		{name: "retry, dead", steps: []string{"retry", "dead"}, reason: "max attempts", wantStatus: store.StatusDead},
		{name: "long texts excerpted", steps: []string{"retry", "dead"}, errText: long, reason: long, wantStatus: store.StatusDead},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := s.open(t, store.Policy{})
			e.acceptNew(Event("x", "app", "pager"))
			recv := e.clock.Now()
			var (
				want []store.Attempt
				next time.Time
			)
			for i, step := range tc.steps {
				e.clock.Advance(time.Minute)
				d := e.leaseOne("app", "x")
				if d.Attempts != i {
					t.Fatalf("step %d: delivery counts %d attempts, want %d", i, d.Attempts, i)
				}
				sameTime(t, "delivery since", d.Since, recv)
				a := store.Attempt{At: e.clock.Now(), Duration: time.Duration(i+1) * time.Millisecond,
					Status: 500 + i, Error: fmt.Sprintf("failure %d", i), Body: fmt.Sprintf("answer %d", i)}
				if tc.errText != "" {
					a.Error, a.Body = tc.errText, tc.errText
				}
				var err error
				switch step {
				case "ack":
					a.Status, a.Error = 204, ""
					err = e.s.Ack(bg, d, a)
				case "retry":
					next = e.clock.Now().Add(30 * time.Second)
					err = e.s.Retry(bg, d, a, next)
				case "dead":
					err = e.s.Dead(bg, d, a, tc.reason)
				}
				if err != nil {
					t.Fatalf("step %d (%s): %v", i, step, err)
				}
				a.Error, a.Body = store.Excerpt(a.Error), store.Excerpt(a.Body)
				want = append(want, a)
			}
			rec := e.get(Source, "x")
			if rec.Status != store.StatusPending {
				t.Errorf("event status %s, want pending (pager is untried)", rec.Status)
			}
			st := e.state(Source, "x", "app")
			if st.Status != tc.wantStatus || st.RunAttempts != len(tc.steps) {
				t.Errorf("app: status %s after %d attempts, want %s after %d", st.Status, st.RunAttempts, tc.wantStatus, len(tc.steps))
			}
			sameAttempts(t, "app", st.Attempts, want)
			if want := store.Excerpt(tc.reason); st.Reason != want {
				t.Errorf("reason %q, want %q", st.Reason, want)
			}
			wantDue := time.Time{}
			if tc.wantStatus == store.StatusPending {
				wantDue = next
			}
			sameTime(t, "due", st.Due, wantDue)
			sameTime(t, "since", st.Since, recv)
			sameTime(t, "updated_at", st.UpdatedAt, e.clock.Now())
			if p := e.state(Source, "x", "pager"); p.Status != store.StatusPending || p.RunAttempts != 0 || len(p.Attempts) != 0 {
				t.Errorf("pager's state changed with app's: %+v", p)
			}
		})
	}

	t.Run("retry waits for its due time", func(t *testing.T) {
		e := s.open(t, store.Policy{})
		e.acceptNew(Event("x", "app"))
		next := e.clock.Now().Add(time.Minute)
		e.retry(e.leaseOne("app", "x"), next)
		e.leaseNone("app")
		e.clock.Advance(59 * time.Second)
		e.leaseNone("app")
		e.clock.Advance(time.Second)
		d := e.leaseOne("app", "x")
		if d.Attempts != 1 {
			t.Errorf("delivery counts %d attempts, want 1", d.Attempts)
		}
		sameTime(t, "delivery due", d.Due, next)
		sameTime(t, "state due", e.state(Source, "x", "app").Due, next)
	})

	t.Run("attempt history capped", func(t *testing.T) {
		e := s.open(t, store.Policy{})
		e.acceptNew(Event("x", "app"))
		const n = store.MaxAttemptHistory + 5
		for range n {
			e.clock.Advance(time.Second)
			e.retry(e.leaseOne("app", "x"), e.clock.Now())
		}
		st := e.state(Source, "x", "app")
		if st.RunAttempts != n || len(st.Attempts) != store.MaxAttemptHistory {
			t.Fatalf("%d run attempts, %d kept; want %d and %d", st.RunAttempts, len(st.Attempts), n, store.MaxAttemptHistory)
		}
		// The oldest were dropped: the first kept is attempt number 6.
		sameTime(t, "first kept attempt", st.Attempts[0].At, Epoch.Add(6*time.Second))
		sameTime(t, "last attempt", st.Attempts[len(st.Attempts)-1].At, e.clock.Now())
	})

	ops := map[string]func(e *env, d store.Delivery) error{
		"ack": func(e *env, d store.Delivery) error { return e.s.Ack(bg, d, attempt(e.clock.Now(), 200, "")) },
		"retry": func(e *env, d store.Delivery) error {
			return e.s.Retry(bg, d, attempt(e.clock.Now(), 503, "x"), e.clock.Now())
		},
		"dead": func(e *env, d store.Delivery) error { return e.s.Dead(bg, d, attempt(e.clock.Now(), 400, "x"), "bad") },
	}
	twice := []struct{ first, second string }{
		{"ack", "ack"}, {"ack", "retry"}, {"ack", "dead"},
		{"dead", "ack"}, {"dead", "retry"}, {"dead", "dead"},
	}
	for _, tc := range twice {
		t.Run(tc.first+" then "+tc.second, func(t *testing.T) {
			e := s.open(t, store.Policy{})
			e.acceptNew(Event("x", "app"))
			d := e.leaseOne("app", "x")
			if err := ops[tc.first](e, d); err != nil {
				t.Fatalf("%s: %v", tc.first, err)
			}
			before := e.state(Source, "x", "app")
			wantErr(t, tc.second+" of a settled delivery", ops[tc.second](e, d), store.ErrNotPending)
			after := e.state(Source, "x", "app")
			if after.Status != before.Status || len(after.Attempts) != len(before.Attempts) || after.RunAttempts != before.RunAttempts {
				t.Errorf("state changed by a refused %s: %+v, was %+v", tc.second, after, before)
			}
		})
	}

	for _, op := range []string{"ack", "retry", "dead"} {
		t.Run(op+" of a deleted event", func(t *testing.T) {
			e := s.open(t, store.Policy{})
			e.acceptNew(Event("x", "app"))
			d := e.leaseOne("app", "x")
			if err := e.s.Delete(bg, Source, "x"); err != nil {
				t.Fatal(err)
			}
			wantErr(t, op+" of a deleted event", ops[op](e, d), store.ErrNotFound, store.ErrNotPending)
			if e.present(Source, "x") {
				t.Error("settling a deleted event brought it back")
			}
			e.leaseNone("app")
		})
	}

	sums := []struct {
		app, pager store.Status
		want       store.Status
	}{
		{store.StatusPending, store.StatusDelivered, store.StatusPending},
		{store.StatusPending, store.StatusDead, store.StatusPending},
		{store.StatusDelivered, store.StatusDead, store.StatusDead},
		{store.StatusDead, store.StatusDead, store.StatusDead},
		{store.StatusDelivered, store.StatusDelivered, store.StatusDelivered},
	}
	for _, tc := range sums {
		t.Run(fmt.Sprintf("event status of %s and %s", tc.app, tc.pager), func(t *testing.T) {
			e := s.open(t, store.Policy{})
			e.acceptNew(Event("x", "app", "pager"))
			for target, outcome := range map[string]store.Status{"app": tc.app, "pager": tc.pager} {
				switch outcome {
				case store.StatusDelivered:
					e.ack(e.leaseOne(target, "x"))
				case store.StatusDead:
					e.dead(e.leaseOne(target, "x"), "gave up")
				}
			}
			if got := e.get(Source, "x").Status; got != tc.want {
				t.Errorf("event status %s, want %s", got, tc.want)
			}
		})
	}
}
