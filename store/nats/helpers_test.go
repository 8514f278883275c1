package nats

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testnats"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

func contextTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

var prefixes atomic.Int64

// newPrefix is a fresh stream for one test.
func newPrefix() string { return fmt.Sprintf("t%d", prefixes.Add(1)) }

// testOptions are options for a store on ts under prefix.
func testOptions(ts *testnats.Servers, prefix string, clock store.Clock) Options {
	return Options{
		Servers: ts.URLs(), Replicas: min(3, ts.Len()), Prefix: prefix, Clock: clock,
		LeaseTTL: 3 * time.Second, SweepInterval: 50 * time.Millisecond, OpTimeout: 3 * time.Second,
	}
}

func openStore(t testing.TB, o Options) *Store {
	t.Helper()
	s, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
