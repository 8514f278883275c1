package badger

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookinbox/caddy-webhook-inbox/store"
	"go.uber.org/zap"
)

// benchBody is a ~400-byte UniCraft-style payload.
var benchBody = []byte(`{"id":"evt_01JDQ6Z7M2R8K4P9X3V5T1N0BC","event":"request.completed","timestamp":"2026-11-28T12:00:00Z","data":{"request_id":"req_8f3a2b1c9d4e5f60","model":"unicraft-large-2","project":"proj_4411","user":"user_99812","input_tokens":1834,"output_tokens":912,"cost":0.04121,"currency":"USD","latency_ms":1840,"status":"ok","region":"eu-west-1","tags":["prod","batch"],"metadata":{"trace":"7f9c2ad1"}}}`)

func benchEvent() store.Event {
	return store.Event{
		Source:   "unicraft",
		Type:     "request.completed",
		ClientIP: "192.168.1.100",
		Headers:  map[string]string{"Content-Type": "application/json", "User-Agent": "UniCraft-Webhooks/1.0"},
		Body:     benchBody,
		Targets:  []string{"app"},
	}
}

// BenchmarkAccept measures durable accepts (real fsync) with unique IDs,
// one target and a ~400-byte body, at several concurrent writer counts.
func BenchmarkAccept(b *testing.B) {
	for _, writers := range []int{1, 16, 64} {
		b.Run("writers="+strconv.Itoa(writers), func(b *testing.B) {
			in := openTest(b, b.TempDir(), Options{Logger: zap.NewNop()})
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for w := range writers {
				wg.Go(func() {
					ev := benchEvent()
					for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
						ev.ID = "evt_" + strconv.Itoa(w) + "_" + strconv.FormatInt(n, 10)
						if _, err := in.Accept(context.Background(), &ev); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkLeaseAck measures how fast a backlog drains when workers lease
// batches and ack each delivery in its own synced transaction.
func BenchmarkLeaseAck(b *testing.B) {
	for _, workers := range []int{1, 16, 64} {
		b.Run("workers="+strconv.Itoa(workers), func(b *testing.B) {
			in := openTest(b, b.TempDir(), Options{Logger: zap.NewNop()})
			fill(b, in, b.N)
			var acked atomic.Int64
			var wg sync.WaitGroup
			now := time.Now().Add(time.Hour)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range workers {
				wg.Go(func() {
					for acked.Load() < int64(b.N) {
						ds, err := in.lease("app", now, 16, time.Minute)
						if err != nil {
							b.Error(err)
							return
						}
						for _, d := range ds {
							if err := in.Ack(bg, d, store.Attempt{At: now, Duration: time.Millisecond, Status: 200}); err != nil {
								b.Error(err)
								return
							}
							acked.Add(1)
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// fill stores n events with 64 concurrent writers.
func fill(b *testing.B, in *Store, n int) {
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

// BenchmarkRecordEncoding compares the binary event record with the JSON
// encoding it replaced.
func BenchmarkRecordEncoding(b *testing.B) {
	ev := benchEvent()
	ev.ID = "evt_01JDQ6Z7M2R8K4P9X3V5T1N0BC"
	ev.ReceivedAt = time.Now()
	type jsonRecord struct {
		store.Event
		Body []byte `json:"body"`
	}
	b.Run("binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rec := encodeEvent(&ev)
			if _, err := decodeEvent(rec, true); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rec, err := json.Marshal(jsonRecord{Event: ev, Body: ev.Body})
			if err != nil {
				b.Fatal(err)
			}
			var out jsonRecord
			if err := json.Unmarshal(rec, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
