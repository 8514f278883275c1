package relay

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"github.com/webhookinbox/caddy-webhook-inbox/store/badger"
	"go.uber.org/zap"
)

func TestDeliveredEventsExpire(t *testing.T) {
	rv := newReceiver(t, status(http.StatusOK))
	// Badger's TTLs follow the wall clock, so this test uses it too.
	in := openTest(t, "", badger.Options{Logger: zap.NewNop(), Policy: store.Policy{Retention: time.Second, DedupWindow: time.Second},
		SweepInterval: 50 * time.Millisecond})
	d := NewDispatcher(in, DispatcherOptions{Logger: zap.NewNop()})
	t.Cleanup(func() { _ = d.Close() })
	d.SetTargets([]TargetConfig{target("app", rv.URL)})
	const events = 20
	for i := range events {
		mustAccept(t, in, testEvent(fmt.Sprintf("e%d", i), "app"))
	}
	waitFor(t, "every event gone after its retention", func() bool {
		for i := range events {
			if _, err := in.Get(bg, "", fmt.Sprintf("e%d", i)); !errors.Is(err, store.ErrNotFound) {
				return false
			}
		}
		return true
	})
	if recs, _, err := in.List(bg, store.ListFilter{}); err != nil || len(recs) != 0 {
		t.Errorf("List after retention = %d events, %v; want none", len(recs), err)
	}
	if n := rv.total.Load(); n != events {
		t.Errorf("%d deliveries, want %d", n, events)
	}
}
