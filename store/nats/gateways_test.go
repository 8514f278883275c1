package nats

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testnats"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"github.com/webhookinbox/caddy-webhook-inbox/store/storetest"
)

// Tests of what the suite cannot see: several stores on one stream (one
// per gateway), a gateway that dies, a cluster that loses its quorum.

var bg = context.Background()

func event(id string, targets ...string) *store.Event {
	return &store.Event{ID: id, Source: "unicraft", Body: []byte(`{"id":"` + id + `"}`), Targets: targets}
}

// crash ends s as a killed process would: no goodbye, leases left behind.
func crash(s *Store) {
	s.life.Lock()
	s.closed = true
	s.life.Unlock()
	_ = s.shutdown()
}

// eventually polls cond every 20 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestGateways(t *testing.T) {
	t.Parallel()
	ts := testnats.Start(t, 3)
	clock := storetest.NewClock(time.Time{})

	t.Run("one event, many gateways racing", func(t *testing.T) {
		prefix := newPrefix()
		gws := []*Store{
			openStore(t, testOptions(ts, prefix, clock)),
			openStore(t, testOptions(ts, prefix, clock)),
			openStore(t, testOptions(ts, prefix, clock)),
		}
		const posts = 90
		var (
			wg         sync.WaitGroup
			mu         sync.Mutex
			fresh, dup int
		)
		start := make(chan struct{})
		for i := range posts {
			wg.Go(func() {
				<-start
				rc, err := gws[i%len(gws)].Accept(bg, event("same", "app", "audit"))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					t.Errorf("Accept: %v", err)
				case rc.Duplicate:
					dup++
				default:
					fresh++
				}
			})
		}
		close(start)
		wg.Wait()
		if fresh != 1 || dup != posts-1 {
			t.Fatalf("%d stored, %d duplicates; want 1 and %d", fresh, dup, posts-1)
		}
		for _, gw := range gws {
			recs, _, err := gw.List(bg, store.ListFilter{})
			if err != nil || len(recs) != 1 || len(recs[0].Deliveries) != 2 {
				t.Fatalf("List on a gateway = %d events, %v; want one with two deliveries", len(recs), err)
			}
			st, err := gw.Stats(bg)
			if err != nil || st["app"].Pending != 1 || st["audit"].Pending != 1 {
				t.Fatalf("Stats on a gateway = %v, %v; want one pending per target", st, err)
			}
		}
	})

	t.Run("each entry to one gateway", func(t *testing.T) {
		prefix := newPrefix()
		a := openStore(t, testOptions(ts, prefix, clock))
		b := openStore(t, testOptions(ts, prefix, clock))
		const n = 40
		for i := range n {
			if _, err := a.Accept(bg, event(fmt.Sprintf("e%02d", i), "app")); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]int{}
		for _, gw := range []*Store{a, b, a, b, a, b, a, b} {
			ds, err := gw.Lease(bg, "app", 7)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				seen[d.Event.ID]++
				if err := gw.Ack(bg, d, store.Attempt{At: clock.Now(), Status: 200}); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, gw := range []*Store{a, b} {
			for {
				ds, err := gw.Lease(bg, "app", 10)
				if err != nil {
					t.Fatal(err)
				}
				if len(ds) == 0 {
					break
				}
				for _, d := range ds {
					seen[d.Event.ID]++
					_ = gw.Ack(bg, d, store.Attempt{At: clock.Now(), Status: 200})
				}
			}
		}
		if len(seen) != n {
			t.Fatalf("%d events leased, want %d", len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Errorf("%s leased %d times", id, c)
			}
		}
	})

	t.Run("one key's line across gateways", func(t *testing.T) {
		prefix := newPrefix()
		a := openStore(t, testOptions(ts, prefix, clock))
		b := openStore(t, testOptions(ts, prefix, clock))
		for _, spec := range [][2]string{{"k1", "K"}, {"k2", "K"}, {"k3", "K"}, {"l1", "L"}} {
			ev := event(spec[0], "app")
			ev.OrderKeys = map[string]string{"app": spec[1]}
			if _, err := a.Accept(bg, ev); err != nil {
				t.Fatal(err)
			}
		}
		ds, err := a.Lease(bg, "app", 10)
		if err != nil || len(ds) != 2 || ds[0].Event.ID != "k1" || ds[1].Event.ID != "l1" || ds[0].OrderKey != "K" {
			t.Fatalf("Lease on a = %v, %v; want k1 (key K) and l1", leasedIDs(ds), err)
		}
		ch, stop := b.Watch("app")
		defer stop()
		if got, err := b.Lease(bg, "app", 10); err != nil || len(got) != 0 {
			t.Fatalf("Lease on b while a holds k1 = %v, %v; want nothing", leasedIDs(got), err)
		}
		if err := a.Ack(bg, ds[0], store.Attempt{At: clock.Now(), Status: 200}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatal("no signal on gateway b when a's ack let k2 to the front")
		}
		var got []store.Delivery
		eventually(t, 5*time.Second, "b never leased k2", func() bool {
			got, err = b.Lease(bg, "app", 10)
			return err != nil || len(got) > 0
		})
		if err != nil || len(got) != 1 || got[0].Event.ID != "k2" {
			t.Fatalf("Lease on b after a's ack = %v, %v; want just k2", leasedIDs(got), err)
		}
	})

	t.Run("a watcher hears another gateway", func(t *testing.T) {
		prefix := newPrefix()
		a := openStore(t, testOptions(ts, prefix, clock))
		b := openStore(t, testOptions(ts, prefix, clock))
		ch, stop := b.Watch("app")
		defer stop()
		if _, err := a.Accept(bg, event("w", "app")); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatal("no signal on gateway b for an event accepted on a")
		}
	})

	t.Run("what one gateway does, another sees", func(t *testing.T) {
		prefix := newPrefix()
		a := openStore(t, testOptions(ts, prefix, clock))
		b := openStore(t, testOptions(ts, prefix, clock))
		if err := a.SetPaused(bg, "app", true); err != nil {
			t.Fatal(err)
		}
		if p, err := b.Paused(bg); err != nil || !p["app"] {
			t.Fatalf("Paused on b = %v, %v; want app paused", p, err)
		}
		for _, id := range []string{"dead", "gone"} {
			if _, err := a.Accept(bg, event(id, "app")); err != nil {
				t.Fatal(err)
			}
		}
		ds, err := a.Lease(bg, "app", 10)
		if err != nil || len(ds) != 2 {
			t.Fatalf("Lease on a = %d, %v", len(ds), err)
		}
		for _, d := range ds {
			if d.Event.ID == "dead" {
				if err := a.Dead(bg, d, store.Attempt{At: clock.Now(), Status: 400}, "bad request"); err != nil {
					t.Fatal(err)
				}
			}
		}
		if n, err := b.ReplayDead(bg, "app", nil, store.ReplayOptions{}); err != nil || n != 1 {
			t.Fatalf("ReplayDead on b = %d, %v; want 1", n, err)
		}
		if rec, err := a.Get(bg, "unicraft", "dead"); err != nil || rec.Status != store.StatusPending {
			t.Fatalf("Get on a after b's replay = %v, %v; want pending", rec, err)
		}
		if err := b.Delete(bg, "unicraft", "gone"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Get(bg, "unicraft", "gone"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get on a after b's delete = %v, want ErrNotFound", err)
		}
		for _, d := range ds {
			if d.Event.ID == "gone" {
				if err := a.Ack(bg, d, store.Attempt{At: clock.Now(), Status: 200}); !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrNotPending) {
					t.Fatalf("Ack on a of an event b deleted = %v", err)
				}
			}
		}
		if rc, err := a.Accept(bg, event("gone", "app")); err != nil || rc.Duplicate {
			t.Fatalf("Accept on a after b's delete = %+v, %v; want a new event", rc, err)
		}
	})

	t.Run("a closed gateway's leases are free at once", func(t *testing.T) {
		prefix := newPrefix()
		a := openStore(t, testOptions(ts, prefix, clock))
		b := openStore(t, testOptions(ts, prefix, clock))
		if _, err := a.Accept(bg, event("x", "app")); err != nil {
			t.Fatal(err)
		}
		if ds, err := a.Lease(bg, "app", 1); err != nil || len(ds) != 1 {
			t.Fatalf("Lease on a = %d, %v", len(ds), err)
		}
		if ds, _ := b.Lease(bg, "app", 1); len(ds) != 0 {
			t.Fatal("b leased what a holds")
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		eventually(t, 2*time.Second, "b could not lease a's entry after a closed", func() bool {
			ds, err := b.Lease(bg, "app", 1)
			return err == nil && len(ds) == 1
		})
	})

	t.Run("a dead gateway's leases are taken over after the lease TTL", func(t *testing.T) {
		prefix := newPrefix()
		a := openStore(t, testOptions(ts, prefix, clock))
		b := openStore(t, testOptions(ts, prefix, clock))
		if _, err := a.Accept(bg, event("x", "app")); err != nil {
			t.Fatal(err)
		}
		ds, err := a.Lease(bg, "app", 1)
		if err != nil || len(ds) != 1 {
			t.Fatalf("Lease on a = %d, %v", len(ds), err)
		}
		held := ds[0]
		crash(a)
		died := time.Now()
		if ds, _ := b.Lease(bg, "app", 1); len(ds) != 0 {
			t.Fatal("b leased a's entry before the lease TTL")
		}
		var took store.Delivery
		eventually(t, 3*a.opts.LeaseTTL, "b never took a's lease over", func() bool {
			ds, err := b.Lease(bg, "app", 1)
			if err == nil && len(ds) == 1 {
				took = ds[0]
				return true
			}
			return false
		})
		if since := time.Since(died); since < a.opts.LeaseTTL/2 {
			t.Errorf("taken over %s after the crash, before the lease TTL %s", since, a.opts.LeaseTTL)
		}
		if err := b.Ack(bg, took, store.Attempt{At: clock.Now(), Status: 200}); err != nil {
			t.Fatalf("Ack on b: %v", err)
		}
		// The dead holder's result, had it arrived, is refused.
		if err := b.Ack(bg, held, store.Attempt{At: clock.Now(), Status: 200}); !errors.Is(err, store.ErrNotPending) {
			t.Fatalf("Ack of the taken-over lease = %v, want ErrNotPending", err)
		}
	})
}

// TestOrphanedLeaseReleased: a lease this store no longer tracks (a
// settle that failed while the cluster was unreachable, as the dispatcher
// sees it) is released by the store itself, so the entry is leased again.
func TestOrphanedLeaseReleased(t *testing.T) {
	t.Parallel()
	ts := testnats.Start(t, 1)
	s := openStore(t, testOptions(ts, newPrefix(), store.WallClock))
	if _, err := s.Accept(bg, event("x", "app")); err != nil {
		t.Fatal(err)
	}
	ds, err := s.Lease(bg, "app", 1)
	if err != nil || len(ds) != 1 {
		t.Fatalf("Lease = %d, %v", len(ds), err)
	}
	if ds, _ := s.Lease(bg, "app", 1); len(ds) != 0 {
		t.Fatal("a held lease was handed out again")
	}
	s.disown(ds[0].Handle.(*handle).key, "app") // what a failed Ack leaves
	eventually(t, 5*time.Second, "the orphaned lease was never released", func() bool {
		ds, err := s.Lease(bg, "app", 1)
		return err == nil && len(ds) == 1
	})
}

func TestQuorumLoss(t *testing.T) {
	t.Parallel()
	ts := testnats.Start(t, 3)
	o := testOptions(ts, newPrefix(), store.WallClock)
	o.OpTimeout = 2 * time.Second
	s := openStore(t, o)
	if _, err := s.Accept(bg, event("before", "app")); err != nil {
		t.Fatal(err)
	}
	ts.Stop(1)
	ts.Stop(2)

	start := time.Now()
	_, err := s.Accept(bg, event("during", "app"))
	took := time.Since(start)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Accept without quorum = %v, want ErrUnavailable", err)
	}
	if limit := 3 * o.OpTimeout; took > limit {
		t.Errorf("Accept without quorum took %s, want at most %s", took, limit)
	}
	if _, err := s.Stats(bg); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Stats without quorum = %v, want ErrUnavailable", err)
	}

	ts.Restart(1)
	ts.Restart(2)
	eventually(t, 30*time.Second, "Accept still failing after the nodes came back", func() bool {
		_, err := s.Accept(bg, event("after", "app"))
		return err == nil
	})
	rc, err := s.Accept(bg, event("before", "app"))
	if err != nil || !rc.Duplicate {
		t.Errorf("Accept of an event from before the outage = %+v, %v; want a duplicate", rc, err)
	}
	eventually(t, 10*time.Second, "pending entries not leasable after the outage", func() bool {
		ds, err := s.Lease(bg, "app", 10)
		return err == nil && len(ds) >= 1
	})
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	ts := testnats.Start(t, 1)
	for range 3 {
		s, err := Open(testOptions(ts, newPrefix(), store.WallClock))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Accept(bg, event("x", "app")); err != nil {
			t.Fatal(err)
		}
		_, stop := s.Watch("app")
		stop()
		if len(clientGoroutines()) == 0 {
			t.Fatal("no client goroutines while the store is open: the check below would prove nothing")
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Accept(bg, event("y", "app")); !errors.Is(err, store.ErrClosed) {
			t.Fatalf("Accept after Close = %v, want ErrClosed", err)
		}
	}
	// The in-process server keeps goroutines per stream; count the
	// client's and the store's.
	var left []string
	eventually(t, 5*time.Second, "goroutines left after Close", func() bool {
		left = clientGoroutines()
		return len(left) == 0
	})
}

// clientGoroutines returns the stacks of goroutines running the NATS
// client or this package's code, but for the calling test's.
func clientGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "TestCloseLeavesNoGoroutines") || strings.Contains(g, "testing.tRunner") {
			continue
		}
		if strings.Contains(g, "nats-io/nats.go") || strings.Contains(g, "store/nats.(*Store)") {
			out = append(out, g)
		}
	}
	return out
}

func TestSecretsStayOutOfErrors(t *testing.T) {
	const password = "s3cret-Pa55"
	ts := testnats.StartWith(t, server.Options{Username: "inbox", Password: "right"})
	tests := []struct {
		name string
		opts Options
	}{
		{name: "wrong password", opts: Options{Servers: ts.URLs(), Replicas: 1, User: "inbox", Password: password}},
		{name: "password in the URL", opts: Options{Servers: []string{"nats://inbox:" + password + "@127.0.0.1:1"}, Replicas: 1, OpTimeout: time.Second}},
		{name: "token", opts: Options{Servers: ts.URLs(), Replicas: 1, Token: password}},
	}
	t.Run("credentials in the URL are used", func(t *testing.T) {
		u := strings.Replace(ts.URLs()[0], "nats://", "nats://inbox:right@", 1)
		s, err := Open(Options{Servers: []string{u}, Replicas: 1})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if d := s.Describe()["servers"]; strings.Contains(d, "right") {
			t.Errorf("Describe shows the password: %s", d)
		}
		_ = s.Close()
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.opts)
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded with wrong credentials")
			}
			if strings.Contains(err.Error(), password) {
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
}

// leasedIDs are the event IDs of ds, for messages.
func leasedIDs(ds []store.Delivery) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.Event.ID
	}
	return ids
}
