package relay

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ceilingDelay is the backoff ceiling after n failures: first doubled n-1
// times, never above limit. It doubles step by step, stopping at the
// limit, so a large n can never overflow.
func ceilingDelay(n int, first, limit time.Duration) time.Duration {
	d := first
	for i := 1; i < n && d < limit; i++ {
		if d > limit/2 {
			return limit
		}
		d *= 2
	}
	return min(d, limit)
}

// backoffDelay is the delay before the attempt after the nth failure, with
// full jitter: a uniformly random share (jitter in [0,1)) of the ceiling,
// so retries of many events that failed together spread out instead of
// arriving at the target in waves.
func backoffDelay(n int, first, limit time.Duration, jitter float64) time.Duration {
	jitter = min(max(jitter, 0), 1)
	return time.Duration(jitter * float64(ceilingDelay(n, first, limit)))
}

// parseRetryAfter reads a Retry-After header value, either delta-seconds
// or an HTTP-date (RFC 9110, section 10.2.3), as a delay from now. A date
// in the past means no delay; a number too large for a Duration means the
// longest one (the caller floors and caps it). ok is false for a missing or malformed
// value, which the caller ignores in favour of its own backoff.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil || secs > math.MaxInt64/uint64(time.Second) {
			// Only overflow gets here: all digits, just too many.
			return math.MaxInt64, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
