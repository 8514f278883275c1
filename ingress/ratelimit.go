package ingress

import (
	"container/list"
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultRateLimitKeys is the default number of client buckets a RateLimiter
// keeps. At under 200 bytes per bucket it bounds the limiter to about 20 MB
// however many addresses a flood comes from.
const DefaultRateLimitKeys = 100_000

// rateLimitShards is how many independently locked LRUs a RateLimiter splits
// its keys over, so concurrent requests from different clients rarely wait on
// the same mutex.
const rateLimitShards = 16

// RateLimiter is a per-key (client IP) token bucket allowing n events per
// window with a burst of n. It keeps at most maxKeys buckets, split over a few
// independently locked shards; a full shard forgets its least recently used
// bucket, so memory stays bounded under a flood from many addresses. A
// forgotten client starts again with a full bucket, so maxKeys should
// comfortably exceed the number of distinct senders active within one window.
// A RateLimiter is safe for concurrent use; a nil one allows everything.
type RateLimiter struct {
	limit  rate.Limit
	burst  int
	seed   maphash.Seed
	shards []rateShard
}

// rateShard is one LRU of buckets: the front of order is the most recently
// used key, the back is evicted first.
type rateShard struct {
	mu       sync.Mutex
	capacity int
	buckets  map[string]*list.Element // value *rateBucket
	order    list.List
}

// rateBucket is one client's token bucket.
type rateBucket struct {
	key string
	lim *rate.Limiter
}

// NewRateLimiter returns a RateLimiter allowing n events per window per key,
// holding at most maxKeys buckets (maxKeys <= 0 means DefaultRateLimitKeys).
// n <= 0 or window <= 0 returns a limiter that allows everything, so a handler
// without rate_limit can still call Allow unconditionally.
func NewRateLimiter(n int, window time.Duration, maxKeys int) *RateLimiter {
	if n <= 0 || window <= 0 {
		return &RateLimiter{}
	}
	if maxKeys <= 0 {
		maxKeys = DefaultRateLimitKeys
	}
	nShards := min(rateLimitShards, maxKeys)
	l := &RateLimiter{
		limit:  rate.Limit(float64(n) / window.Seconds()),
		burst:  n,
		seed:   maphash.MakeSeed(),
		shards: make([]rateShard, nShards),
	}
	for i := range l.shards {
		// Spread the remainder so the shard capacities sum to exactly maxKeys.
		capacity := maxKeys / nShards
		if i < maxKeys%nShards {
			capacity++
		}
		l.shards[i].capacity = capacity
		l.shards[i].buckets = make(map[string]*list.Element)
	}
	return l
}

// Allow reports whether key may send one more event at now, taking a token if
// so. If not, retryAfter is how long until a token will be available; the
// caller rounds it up to whole seconds for Retry-After (at least 1).
func (l *RateLimiter) Allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if l == nil || len(l.shards) == 0 {
		return true, 0
	}
	s := &l.shards[maphash.String(l.seed, key)%uint64(len(l.shards))]
	// The shard lock is held across the bucket arithmetic, not just the
	// lookup: a denied request reserves and then cancels a token, and two
	// interleaved reserve/cancel pairs on one bucket can leave it in debt.
	s.mu.Lock()
	defer s.mu.Unlock()
	lim := s.bucket(key, l.limit, l.burst)
	if lim.AllowN(now, 1) {
		return true, 0
	}
	// Reserving then cancelling asks the bucket itself when the next token is
	// due, instead of duplicating its refill arithmetic here.
	r := lim.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	r.CancelAt(now)
	return false, delay
}

// bucket returns key's limiter, creating it (and evicting the least recently
// used bucket if the shard is full) when key is new. s.mu must be held.
func (s *rateShard) bucket(key string, limit rate.Limit, burst int) *rate.Limiter {
	if e, ok := s.buckets[key]; ok {
		s.order.MoveToFront(e)
		return e.Value.(*rateBucket).lim
	}
	// Clone so a long-lived bucket never pins a larger string the key was
	// sliced from.
	key = strings.Clone(key)
	lim := rate.NewLimiter(limit, burst)
	if s.order.Len() >= s.capacity {
		// Reuse the evicted element and bucket to avoid two allocations per
		// new key while a flood keeps the shard full.
		e := s.order.Back()
		b := e.Value.(*rateBucket)
		delete(s.buckets, b.key)
		b.key, b.lim = key, lim
		s.buckets[key] = e
		s.order.MoveToFront(e)
		return lim
	}
	s.buckets[key] = s.order.PushFront(&rateBucket{key: key, lim: lim})
	return lim
}

// Len returns the number of buckets the limiter currently holds.
func (l *RateLimiter) Len() int {
	if l == nil {
		return 0
	}
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += s.order.Len()
		s.mu.Unlock()
	}
	return n
}
