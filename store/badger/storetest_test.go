package badger_test

import (
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"github.com/webhookinbox/caddy-webhook-inbox/store/badger"
	"github.com/webhookinbox/caddy-webhook-inbox/store/storetest"
	"go.uber.org/zap/zaptest"
)

// TestConformance runs the storage contract's suite against Badger.
// Badger's TTLs (dedup markers, unrouted events) follow the wall clock;
// settled events' retention follows the injected clock, applied by the
// sweeper, which runs often here so the retention cases need not wait.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		Open: func(t testing.TB, dir string, clock store.Clock, p store.Policy) store.Store {
			t.Helper()
			s, err := badger.Open(dir, badger.Options{
				Clock:         clock,
				Logger:        zaptest.NewLogger(t),
				Policy:        p,
				SweepInterval: 20 * time.Millisecond,
				// Small tables: the suite opens many stores.
				MemTableSize:   1 << 20,
				BlockCacheSize: 1 << 20,
			})
			if err != nil {
				t.Fatalf("opening the Badger store: %v", err)
			}
			return s
		},
		NewDir:       func(t testing.TB) string { return t.TempDir() },
		WallClockTTL: true,
	})
}
