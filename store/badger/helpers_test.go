package badger

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"go.uber.org/zap/zaptest"
)

// testClock is an injectable clock the tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// openTest opens an inbox in dir (a fresh temp dir when empty) and closes
// it when the test ends.
func openTest(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if opts.Logger == nil {
		if tt, ok := t.(*testing.T); ok {
			opts.Logger = zaptest.NewLogger(tt)
		}
	}
	in, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = in.Close() })
	return in
}

func testEvent(id string, targets ...string) *store.Event {
	return &store.Event{
		ID:       id,
		Source:   "unicraft",
		Type:     "request.completed",
		ClientIP: "192.168.1.100",
		Headers:  map[string]string{"X-Unicraft-Event-Id": id, "Content-Type": "application/json"},
		Body:     []byte(fmt.Sprintf(`{"id":%q,"event":"request.completed","data":{"cost":0.25}}`, id)),
		Targets:  targets,
	}
}

func mustAccept(t testing.TB, in *Store, ev *store.Event) store.Receipt {
	t.Helper()
	rc, err := in.Accept(context.Background(), ev)
	if err != nil {
		t.Fatalf("Accept(%s): %v", ev.ID, err)
	}
	return rc
}

func mustLease(t testing.TB, in *Store, target string, now time.Time, max int) []store.Delivery {
	t.Helper()
	ds, err := in.lease(target, now, max, time.Minute)
	if err != nil {
		t.Fatalf("Lease(%s): %v", target, err)
	}
	return ds
}

func mustGet(t testing.TB, in *Store, id string) *store.EventRecord {
	t.Helper()
	rec, err := in.Get(bg, "", id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return rec
}

func deliveryOf(t testing.TB, rec *store.EventRecord, target string) store.TargetState {
	t.Helper()
	for _, d := range rec.Deliveries {
		if d.Target == target {
			return d
		}
	}
	t.Fatalf("event %s has no target %s", rec.ID, target)
	return store.TargetState{}
}

// expiry returns the Badger expiry (Unix seconds, 0 = none) of a key, or
// fails when the key is missing.
func expiry(t testing.TB, in *Store, key []byte) uint64 {
	t.Helper()
	var exp uint64
	err := in.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		exp = item.ExpiresAt()
		return nil
	})
	if err != nil {
		t.Fatalf("reading key %q: %v", key, err)
	}
	return exp
}

// countKeys counts live keys under a prefix.
// retainedUntil returns when the sweeper may delete event seq, or the zero
// time when the event is not in the retention index.
func retainedUntil(t testing.TB, in *Store, seq uint64) time.Time {
	t.Helper()
	var until time.Time
	err := in.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: appendNS(nil, nsRetain)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			u, s, err := parseRetainKey(it.Item().Key())
			if err != nil {
				return err
			}
			if s == seq {
				until = u
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading the retention index: %v", err)
	}
	return until
}

func countKeys(t testing.TB, in *Store, prefix []byte) int {
	t.Helper()
	n := 0
	err := in.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("counting keys: %v", err)
	}
	return n
}

func ids(recs []store.EventRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

// runtimeGosched yields while a test polls for a state another goroutine
// reaches without a signal of its own.
func runtimeGosched() {
	runtime.Gosched()
}

// bg is the context of the tests' store calls.
var bg = context.Background()

// NewTimer makes testClock a store.Clock; the store itself never asks for
// a timer, so it follows the wall clock.
func (c *testClock) NewTimer(d time.Duration) store.Timer {
	return store.WallClock.NewTimer(d)
}
