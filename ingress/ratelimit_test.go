package ingress

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2024, 1, 20, 10, 30, 0, 0, time.UTC)

// within reports whether got is within 1ms of want: the bucket works in
// float64 tokens, so durations come back a few nanoseconds off.
func within(got, want time.Duration) bool {
	d := got - want
	return d > -time.Millisecond && d < time.Millisecond
}

func TestRateLimiterBurstThenDeny(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		window time.Duration
	}{
		{name: "10 per second", n: 10, window: time.Second},
		{name: "100 per second", n: 100, window: time.Second},
		{name: "5 per minute", n: 5, window: time.Minute},
		{name: "1 per hour", n: 1, window: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewRateLimiter(tt.n, tt.window, 100)
			for i := range tt.n {
				if ok, _ := l.Allow("10.0.0.1", t0); !ok {
					t.Fatalf("request %d of the burst denied", i+1)
				}
			}
			perToken := tt.window / time.Duration(tt.n)
			// Denials must not push the bucket further into debt: every
			// retry at the same instant sees the same wait.
			for i := range 3 {
				ok, retry := l.Allow("10.0.0.1", t0)
				if ok {
					t.Fatalf("request %d past the burst allowed", tt.n+i+1)
				}
				if !within(retry, perToken) {
					t.Errorf("retryAfter = %v, want about %v", retry, perToken)
				}
			}
			// Halfway to the next token the wait has halved.
			if ok, retry := l.Allow("10.0.0.1", t0.Add(perToken/2)); ok || !within(retry, perToken/2) {
				t.Errorf("half a token later: ok=%v retryAfter=%v, want denied with about %v", ok, retry, perToken/2)
			}
		})
	}
}

func TestRateLimiterRefill(t *testing.T) {
	const n = 10
	l := NewRateLimiter(n, time.Second, 100)
	drain := func(at time.Time) int {
		allowed := 0
		for range 3 * n {
			if ok, _ := l.Allow("ip", at); ok {
				allowed++
			}
		}
		return allowed
	}
	steps := []struct {
		name string
		at   time.Time
		want int
	}{
		{name: "initial burst", at: t0, want: n},
		{name: "same instant", at: t0, want: 0},
		{name: "one token later", at: t0.Add(100 * time.Millisecond), want: 1},
		{name: "just short of the next token", at: t0.Add(199 * time.Millisecond), want: 0},
		{name: "four tokens later", at: t0.Add(500 * time.Millisecond), want: 4},
		{name: "a full window later", at: t0.Add(1500 * time.Millisecond), want: n},
		{name: "a long idle caps at the burst", at: t0.Add(time.Hour), want: n},
		{name: "clock going backwards gives nothing", at: t0.Add(time.Hour - time.Minute), want: 0},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if got := drain(st.at); got != st.want {
				t.Errorf("allowed %d, want %d", got, st.want)
			}
		})
	}
}

func TestRateLimiterKeysIndependent(t *testing.T) {
	l := NewRateLimiter(2, time.Second, 100)
	tests := []struct {
		name string
		key  string
		want bool
	}{
		{name: "a first", key: "192.0.2.1", want: true},
		{name: "a second", key: "192.0.2.1", want: true},
		{name: "a exhausted", key: "192.0.2.1", want: false},
		{name: "b unaffected", key: "192.0.2.2", want: true},
		{name: "ipv6 unaffected", key: "2001:db8::1", want: true},
		{name: "b second", key: "192.0.2.2", want: true},
		{name: "b exhausted", key: "192.0.2.2", want: false},
		{name: "a still exhausted", key: "192.0.2.1", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ok, _ := l.Allow(tt.key, t0); ok != tt.want {
				t.Errorf("Allow(%s) = %v, want %v", tt.key, ok, tt.want)
			}
		})
	}
}

func TestRateLimiterMemoryBound(t *testing.T) {
	tests := []struct {
		name    string
		maxKeys int
	}{
		{name: "many shards", maxKeys: 1000},
		{name: "fewer keys than shards", maxKeys: 5},
		{name: "one key", maxKeys: 1},
		{name: "uneven split", maxKeys: 101},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewRateLimiter(1, time.Minute, tt.maxKeys)
			for i := range 10 * tt.maxKeys {
				key := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
				if ok, _ := l.Allow(key, t0); !ok {
					t.Fatalf("new key %s denied", key)
				}
				if got := l.Len(); got > tt.maxKeys {
					t.Fatalf("Len = %d after %d keys, want at most %d", got, i+1, tt.maxKeys)
				}
			}
		})
	}
}

func TestRateLimiterDefaultMaxKeys(t *testing.T) {
	l := NewRateLimiter(1, time.Second, 0)
	total := 0
	for i := range l.shards {
		total += l.shards[i].capacity
	}
	if total != DefaultRateLimitKeys {
		t.Errorf("capacity = %d, want %d", total, DefaultRateLimitKeys)
	}
}

func TestRateLimiterEvictsLeastRecentlyUsed(t *testing.T) {
	// A busy client that is being limited must keep its (empty) bucket while
	// a flood of new addresses churns through the limiter; otherwise it
	// would get a fresh burst every time it was evicted.
	l := NewRateLimiter(1, time.Hour, 64)
	if ok, _ := l.Allow("busy", t0); !ok {
		t.Fatal("first request denied")
	}
	for i := range 10_000 {
		if ok, _ := l.Allow("busy", t0); ok {
			t.Fatalf("busy client allowed again after %d other keys: its bucket was evicted", i)
		}
		l.Allow(fmt.Sprintf("flood-%d", i), t0)
	}
	// A key that went quiet is evicted and starts over with a full bucket.
	l.Allow("quiet", t0)
	for i := range 10_000 {
		l.Allow(fmt.Sprintf("flood2-%d", i), t0)
	}
	if ok, _ := l.Allow("quiet", t0); !ok {
		t.Error("idle key kept its empty bucket through 10k newer keys")
	}
}

func TestRateLimiterDisabled(t *testing.T) {
	tests := []struct {
		name       string
		n          int
		window     time.Duration
		nilLimiter bool
	}{
		{name: "zero events", n: 0, window: time.Second},
		{name: "negative events", n: -1, window: time.Second},
		{name: "zero window", n: 10, window: 0},
		{name: "nil limiter", n: 10, window: time.Second, nilLimiter: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewRateLimiter(tt.n, tt.window, 10)
			if tt.nilLimiter {
				l = nil
			}
			for range 1000 {
				if ok, retry := l.Allow("ip", t0); !ok || retry != 0 {
					t.Fatalf("disabled limiter denied (retryAfter %v)", retry)
				}
			}
			if l.Len() != 0 {
				t.Errorf("Len = %d, want 0", l.Len())
			}
		})
	}
}

func TestRateLimiterConcurrent(t *testing.T) {
	t.Run("one key grants exactly the burst", func(t *testing.T) {
		const n = 100
		l := NewRateLimiter(n, time.Hour, 10)
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 200 {
					if ok, _ := l.Allow("shared", t0); ok {
						allowed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if got := allowed.Load(); got != n {
			t.Errorf("allowed %d, want exactly %d", got, n)
		}
		// Concurrent denials must not have left the bucket in debt.
		if ok, retry := l.Allow("shared", t0); ok || !within(retry, time.Hour/n) {
			t.Errorf("after the storm: ok=%v retryAfter=%v, want denied with about %v", ok, retry, time.Hour/n)
		}
	})
	t.Run("many keys with eviction", func(t *testing.T) {
		const maxKeys = 50
		l := NewRateLimiter(5, time.Second, maxKeys)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 2000 {
					now := t0.Add(time.Duration(i) * time.Millisecond)
					l.Allow(fmt.Sprintf("key-%d", (g*7919+i)%300), now)
				}
			})
		}
		wg.Wait()
		if got := l.Len(); got > maxKeys {
			t.Errorf("Len = %d, want at most %d", got, maxKeys)
		}
	})
}

func BenchmarkRateLimiterAllow(b *testing.B) {
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("10.0.%d.%d", i>>8, i&255)
	}
	tests := []struct {
		name    string
		maxKeys int
	}{
		// Every key fits: the steady state for a known set of senders.
		{name: "fits", maxKeys: DefaultRateLimitKeys},
		// Ten times more keys than buckets: a flood that evicts constantly.
		{name: "evicting", maxKeys: len(keys) / 10},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			l := NewRateLimiter(100, time.Second, tt.maxKeys)
			var next atomic.Uint64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(7919))
				for pb.Next() {
					l.Allow(keys[i%len(keys)], time.Now())
					i++
				}
			})
		})
	}
}
