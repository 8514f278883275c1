package nats

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/webhookinbox/caddy-webhook-inbox/internal/testnats"
	"github.com/webhookinbox/caddy-webhook-inbox/store"
)

// BenchmarkAccept measures Accept of new events with one target, from
// parallel callers as the handler makes them, on one server and on a
// 3-node R3 cluster, all on this machine.
func BenchmarkAccept(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			ts := testnats.Start(b, nodes)
			s := openStore(b, testOptions(ts, newPrefix(), store.WallClock))
			var n atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Accept(bg, event(fmt.Sprint(n.Add(1)), "app")); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
