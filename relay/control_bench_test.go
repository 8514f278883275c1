package relay

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"github.com/webhookinbox/caddy-webhook-inbox/store/badger"
	"go.uber.org/zap"
)

// BenchmarkDeliverControl measures what order_by and rate_limit cost the
// delivery rate: a backlog of 20,000 events in a real Badger store drains
// to a local app with 64 workers, unordered, ordered over many or few
// keys, and under a rate limit far above the achievable rate (the
// pacer's bookkeeping alone) and one that binds. Filling is not timed.
func BenchmarkDeliverControl(b *testing.B) {
	const n = 20_000
	cases := []struct {
		name      string
		keys      int // 0: unordered
		rateLimit int // attempts per second; 0: none
	}{
		{name: "unordered"},
		{name: "order_by/10000-keys", keys: 10_000},
		{name: "order_by/1000-keys", keys: 1000},
		{name: "order_by/64-keys", keys: 64},
		{name: "order_by/8-keys", keys: 8},
		{name: "rate_limit/100000-per-s", rateLimit: 100_000},
		{name: "rate_limit/5000-per-s", rateLimit: 5000},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			srv, got := benchApp(b)
			var elapsed time.Duration
			for range b.N {
				b.StopTimer()
				got.Store(0)
				in := openTest(b, b.TempDir(), badger.Options{Logger: zap.NewNop()})
				fillOrdered(b, in, n, tc.keys)
				d := NewDispatcher(in, DispatcherOptions{Logger: zap.NewNop()})
				cfg := TargetConfig{Name: "app", URL: srv.URL, Secret: []byte("bench-secret"), Concurrency: 64}
				if tc.rateLimit > 0 {
					cfg.RateLimit, cfg.RateWindow = tc.rateLimit, time.Second
				}
				b.StartTimer()
				start := time.Now()
				d.SetTargets([]TargetConfig{cfg})
				waitCount(b, got, n)
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

// fillOrdered accepts n benchEvents, the i-th with order key i mod keys
// (unordered when keys is 0), in order, with 16 writers.
func fillOrdered(b *testing.B, in store.Store, n, keys int) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			ev := benchEvent()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				ev.ID = fmt.Sprintf("ord_%d", i)
				if keys > 0 {
					ev.OrderKeys = map[string]string{"app": "user_" + strconv.FormatInt(i%int64(keys), 10)}
				}
				if _, err := in.Accept(context.Background(), &ev); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
