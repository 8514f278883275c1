package nats

import (
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"github.com/webhookinbox/caddy-webhook-inbox/store/storetest"
)

// harness runs the conformance suite on ts, one stream per store.
func harness(ts *testServers) storetest.Harness {
	return storetest.Harness{
		Open: func(t testing.TB, prefix string, c store.Clock, p store.Policy) store.Store {
			o := testOptions(ts, prefix, c)
			o.Policy = p
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
	storetest.Run(t, harness(startServers(t, 1)))
}

func TestConformanceCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3-node cluster: not with -short")
	}
	storetest.Run(t, harness(startServers(t, 3)))
}
