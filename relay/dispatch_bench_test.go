package relay

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"github.com/webhookinbox/caddy-webhook-inbox/store/badger"
	"go.uber.org/zap"
)

var backlogSize = flag.Int("relay.backlog", 100_000, "events in BenchmarkDrainBacklog's backlog")

// benchApp is a trivial downstream app that counts requests.
func benchApp(b *testing.B) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	return srv, &n
}

func waitCount(b *testing.B, n *atomic.Int64, want int64) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for n.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("delivered %d of %d", n.Load(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkDeliverEndToEnd measures accept-to-delivery throughput: 64
// writers accept signed ~400-byte events while the dispatcher (64
// workers) delivers them to a local app. Each op is a batch of 10,000
// events, so -benchtime=1x is still a meaningful run.
func BenchmarkDeliverEndToEnd(b *testing.B) {
	const batch = 10_000
	srv, got := benchApp(b)
	in := openTest(b, b.TempDir(), badger.Options{Logger: zap.NewNop()})
	d := NewDispatcher(in, DispatcherOptions{Logger: zap.NewNop()})
	b.Cleanup(func() { _ = d.Close() })
	d.SetTargets([]TargetConfig{{Name: "app", URL: srv.URL, Secret: []byte("bench-secret"), Concurrency: 64}})

	var seq atomic.Int64
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 64 {
			wg.Go(func() {
				ev := benchEvent()
				for next.Add(1) <= batch {
					ev.ID = "e2e_" + strconv.FormatInt(seq.Add(1), 10)
					if _, err := in.Accept(context.Background(), &ev); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		waitCount(b, got, int64(i+1)*batch)
	}
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkDrainBacklog measures how fast a pre-filled backlog (100,000
// events unless -relay.backlog says otherwise) drains to a local app, per
// op. Filling is not timed.
func BenchmarkDrainBacklog(b *testing.B) {
	for _, workers := range []int{8, 64} {
		b.Run("concurrency="+strconv.Itoa(workers), func(b *testing.B) {
			srv, got := benchApp(b)
			n := *backlogSize
			var elapsed time.Duration
			for range b.N {
				b.StopTimer()
				got.Store(0)
				in := openTest(b, b.TempDir(), badger.Options{Logger: zap.NewNop()})
				fill(b, in, n)
				d := NewDispatcher(in, DispatcherOptions{Logger: zap.NewNop()})
				b.StartTimer()
				start := time.Now()
				d.SetTargets([]TargetConfig{{Name: "app", URL: srv.URL, Secret: []byte("bench-secret"), Concurrency: workers}})
				waitCount(b, got, int64(n))
				waitDrained(b, in)
				elapsed += time.Since(start)
				b.StopTimer()
				_ = d.Close()
				_ = in.Close()
			}
			b.ReportMetric(float64(b.N*n)/elapsed.Seconds(), "events/s")
		})
	}
}

// waitDrained waits until every delivery is settled (acked), not just
// received.
func waitDrained(b *testing.B, in *badger.Store) {
	b.Helper()
	for {
		st, err := in.Stats(bg)
		if err != nil {
			b.Fatal(err)
		}
		if st["app"].Pending == 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// benchEvent is a ~400-byte UniCraft-style event routed to "app", as
// store/badger's benchmarks accept it.
func benchEvent() store.Event {
	return store.Event{
		Source:   "unicraft",
		Type:     "request.completed",
		ClientIP: "192.168.1.100",
		Headers:  map[string]string{"Content-Type": "application/json", "User-Agent": "UniCraft-Webhooks/1.0"},
		Body:     []byte(`{"id":"evt_01JDQ6Z7M2R8K4P9X3V5T1N0BC","event":"request.completed","timestamp":"2026-11-28T12:00:00Z","data":{"request_id":"req_8f3a2b1c9d4e5f60","model":"unicraft-large-2","project":"proj_4411","user":"user_99812","input_tokens":1834,"output_tokens":912,"cost":0.04121,"currency":"USD","latency_ms":1840,"status":"ok","region":"eu-west-1","tags":["prod","batch"],"metadata":{"trace":"7f9c2ad1"}}}`),
		Targets:  []string{"app"},
	}
}

// fill accepts n unique benchEvents with 64 writers; it is not timed.
func fill(b *testing.B, in store.Store, n int) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			ev := benchEvent()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				ev.ID = fmt.Sprintf("fill_%d", i)
				if _, err := in.Accept(context.Background(), &ev); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
