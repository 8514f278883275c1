package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// testConcurrentReplays: many replays of one event at once, while its
// deliveries and others' are being settled. Every call succeeds (a
// backend retries its own conflicts; none reaches the caller) and every
// settled attempt is on record, so an attempt is never made twice for
// want of its record.
func (s *suite) testConcurrentReplays(t *testing.T) {
	const (
		replays = 50
		rounds  = 3
		others  = 8
	)
	tests := []struct {
		name   string
		target string // replayed target; empty replays all
	}{
		{name: "replay every target"},
		{name: "replay one target", target: "app"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := s.open(t, store.Policy{})
			e.acceptNew(Event("hot", "app", "pager"))
			for i := range others {
				e.acceptNew(Event(fmt.Sprintf("cold%d", i), "app"))
			}
			for round := range rounds {
				leased := append(e.lease("app", 100), e.lease("pager", 100)...)
				if want := others + 2; len(leased) != want {
					t.Fatalf("round %d: leased %d deliveries, want %d", round, len(leased), want)
				}
				errs := make(chan error, replays+len(leased))
				start := make(chan struct{})
				var wg sync.WaitGroup
				for range replays {
					wg.Go(func() {
						<-start
						errs <- e.s.Requeue(bg, Source, "hot", tc.target)
					})
				}
				for _, d := range leased {
					wg.Go(func() {
						<-start
						errs <- e.s.Retry(bg, d, attempt(e.clock.Now(), 503, "busy"), e.clock.Now())
					})
				}
				close(start)
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Fatalf("round %d: %v", round, err)
					}
				}
			}
			for _, id := range []string{"hot", "cold0", fmt.Sprintf("cold%d", others-1)} {
				for _, d := range e.get(Source, id).Deliveries {
					if d.Status != store.StatusPending || len(d.Attempts) != rounds {
						t.Errorf("%s to %s: %s with %d attempts on record, want pending with %d",
							id, d.Target, d.Status, len(d.Attempts), rounds)
					}
				}
			}
		})
	}
}
