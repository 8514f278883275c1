package badger_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"github.com/webhookinbox/caddy-webhook-inbox/store/badger"
	"github.com/webhookinbox/caddy-webhook-inbox/store/storetest"
	"go.uber.org/zap"
)

type mutant struct {
	store.Store
	mode string
}

func (m mutant) Lease(ctx context.Context, target string, max int) ([]store.Delivery, error) {
	ds, err := m.Store.Lease(ctx, target, max)
	if m.mode == "reverse" {
		slices.Reverse(ds)
	}
	return ds, err
}
func (m mutant) Release(d store.Delivery) {
	if m.mode != "norelease" {
		m.Store.Release(d)
	}
}
func (m mutant) Get(ctx context.Context, source, id string) (*store.EventRecord, error) {
	if m.mode == "nosource" {
		source = ""
	}
	return m.Store.Get(ctx, source, id)
}
func (m mutant) Ack(ctx context.Context, d store.Delivery, a store.Attempt) error {
	if m.mode == "ackerr" {
		err := m.Store.Ack(ctx, d, a)
		if err != nil {
			return nil
		}
		return err
	}
	return m.Store.Ack(ctx, d, a)
}
func (m mutant) List(ctx context.Context, f store.ListFilter) ([]store.EventRecord, string, error) {
	if m.mode == "nosince" {
		f.Since = time.Time{}
	}
	return m.Store.List(ctx, f)
}

func TestMutants(t *testing.T) {
	mode := os.Getenv("MUTANT")
	storetest.Run(t, storetest.Harness{
		Open: func(t testing.TB, dir string, clock store.Clock, p store.Policy) store.Store {
			s, err := badger.Open(dir, badger.Options{Clock: clock, Logger: zap.NewNop(), Policy: p, SweepInterval: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			return mutant{s, mode}
		},
		NewDir:       func(t testing.TB) string { return t.TempDir() },
		WallClockTTL: true,
	})
}
