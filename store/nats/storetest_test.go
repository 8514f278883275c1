package nats

import (
	"go.uber.org/zap/zaptest"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testnats"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"github.com/webhookinbox/caddy-webhook-inbox/store/storetest"
)

// harness runs the conformance suite on ts, one stream per store.
func harness(ts *testnats.Servers) storetest.Harness {
	return storetest.Harness{
		Open: func(t testing.TB, prefix string, c store.Clock, p store.Policy) store.Store {
			o := testOptions(ts, prefix, c)
			o.Policy = p
			o.Logger = zaptest.NewLogger(t)
			s, err := Open(o)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return s
		},
		NewDir: func(testing.TB) string { return newPrefix() },
		// Dedup markers expire by the servers' per-message TTLs, in
		// whole seconds of wall time; retention follows the store clock.
		WallClockTTL: true,
		Patience:     10 * time.Second,
	}
}

func TestConformanceSingle(t *testing.T) {
	t.Parallel()
	storetest.Run(t, harness(testnats.Start(t, 1)))
}

func TestConformanceCluster(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("a 3-node cluster: not with -short")
	}
	storetest.Run(t, harness(testnats.Start(t, 3)))
}
