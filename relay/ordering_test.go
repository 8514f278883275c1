package relay

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// TestOrderedDelivery: the dispatcher attempts each key's deliveries one
// at a time in receive order, a retry holding its key back, while other
// keys and unordered events proceed; a dead letter releases its key.
func TestOrderedDelivery(t *testing.T) {
	tests := []struct {
		name string
		// fail answers an event's hit-th arrival with 503 (retry) or 400
		// (dead) instead of 200.
		fail     func(id string, hit int) int
		wantDead []string
	}{
		{name: "first attempt of every k0 event fails", fail: func(id string, hit int) int {
			if id[:2] == "k0" && hit == 1 {
				return http.StatusServiceUnavailable
			}
			return 0
		}},
		{name: "a poison event dead-letters and releases its key", fail: func(id string, _ int) int {
			if id == "k1-0" {
				return http.StatusBadRequest
			}
			return 0
		}, wantDead: []string{"k1-0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu    sync.Mutex
				order = map[string][]string{} // key -> event IDs as they arrived
			)
			rv := newReceiver(t, func(w http.ResponseWriter, r *http.Request, hit int) {
				id := r.Header.Get(headerEventID)
				mu.Lock()
				order[id[:2]] = append(order[id[:2]], id)
				mu.Unlock()
				if code := tc.fail(id, hit); code != 0 {
					w.WriteHeader(code)
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			h := newHarness(t, "", DispatcherOptions{PollInterval: 50 * time.Millisecond})
			cfg := target("app", rv.URL)
			cfg.Concurrency, cfg.BackoffFirst, cfg.BackoffCap = 8, time.Second, time.Second
			var ids []string
			for i := range 4 {
				for k := range 3 {
					ev := testEvent(fmt.Sprintf("k%d-%d", k, i), "app")
					ev.OrderKeys = map[string]string{"app": fmt.Sprintf("k%d", k)}
					mustAccept(t, h.in, ev)
					ids = append(ids, ev.ID)
					h.clock.Advance(time.Millisecond)
				}
				mustAccept(t, h.in, testEvent(fmt.Sprintf("un-%d", i), "app"))
				ids = append(ids, fmt.Sprintf("un-%d", i))
			}
			h.d.SetTargets([]TargetConfig{cfg})
			advanceUntil(t, h.clock, 100*time.Millisecond, "every delivery settled", func() bool {
				for _, id := range ids {
					if h.statusIs(id, "app", store.StatusPending)() {
						return false
					}
				}
				return true
			})
			mu.Lock()
			defer mu.Unlock()
			for k := range 3 {
				key := fmt.Sprintf("k%d", k)
				var want []string
				for i := range 4 {
					id := fmt.Sprintf("%s-%d", key, i)
					want = append(want, id)
					if tc.fail(id, 1) == http.StatusServiceUnavailable {
						want = append(want, id)
					}
				}
				if !slices.Equal(order[key], want) {
					t.Errorf("key %s arrived as %v, want %v", key, order[key], want)
				}
			}
			if len(order["un"]) != 4 {
				t.Errorf("unordered events arrived %d times, want 4", len(order["un"]))
			}
			for _, id := range tc.wantDead {
				if !h.statusIs(id, "app", store.StatusDead)() {
					t.Errorf("%s is not dead", id)
				}
			}
		})
	}
}
