package relay

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		first  time.Duration
		limit  time.Duration
		jitter float64
		want   time.Duration
	}{
		{name: "first failure", n: 1, first: time.Second, limit: time.Hour, jitter: 1, want: time.Second},
		{name: "doubles", n: 4, first: time.Second, limit: time.Hour, jitter: 1, want: 8 * time.Second},
		{name: "full jitter scales", n: 4, first: time.Second, limit: time.Hour, jitter: 0.25, want: 2 * time.Second},
		{name: "jitter zero retries at once", n: 9, first: time.Second, limit: time.Hour, jitter: 0, want: 0},
		{name: "capped", n: 20, first: time.Second, limit: time.Hour, jitter: 1, want: time.Hour},
		{name: "huge attempt count does not overflow", n: math.MaxInt32, first: time.Second, limit: time.Hour, jitter: 0.5, want: 30 * time.Minute},
		{name: "cap below an odd doubling", n: 3, first: 3 * time.Second, limit: 10 * time.Second, jitter: 1, want: 10 * time.Second},
		{name: "jitter out of range is clamped", n: 1, first: time.Second, limit: time.Hour, jitter: 7, want: time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := backoffDelay(tc.n, tc.first, tc.limit, tc.jitter); got != tc.want {
				t.Errorf("backoffDelay(%d, %s, %s, %v) = %s, want %s", tc.n, tc.first, tc.limit, tc.jitter, got, tc.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		value  string
		want   time.Duration
		wantOK bool
	}{
		{name: "seconds", value: "7", want: 7 * time.Second, wantOK: true},
		{name: "zero", value: "0", want: 0, wantOK: true},
		{name: "surrounding space", value: " 120 ", want: 2 * time.Minute, wantOK: true},
		{name: "overflowing seconds", value: "99999999999999999999999", want: math.MaxInt64, wantOK: true},
		{name: "seconds just past a Duration", value: "9223372037", want: math.MaxInt64, wantOK: true},
		{name: "IMF-fixdate", value: "Sat, 28 Nov 2026 12:00:30 GMT", want: 30 * time.Second, wantOK: true},
		{name: "RFC 850 date", value: "Saturday, 28-Nov-26 12:01:00 GMT", want: time.Minute, wantOK: true},
		{name: "asctime date", value: "Sat Nov 28 12:00:05 2026", want: 5 * time.Second, wantOK: true},
		{name: "date in the past", value: "Sat, 28 Nov 2026 11:00:00 GMT", want: 0, wantOK: true},
		{name: "empty", value: ""},
		{name: "negative", value: "-5"},
		{name: "plus sign", value: "+5"},
		{name: "fraction", value: "1.5"},
		{name: "words", value: "soon"},
		{name: "date with a bad zone", value: "Sat, 28 Nov 2026 12:00:30 CEST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseRetryAfter(tc.value, now)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("parseRetryAfter(%q) = %s, %v; want %s, %v", tc.value, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"7", "0", "", "soon", "-1", now.Add(time.Hour).Format(http.TimeFormat)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("parseRetryAfter(%q) = %s, a negative delay", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("parseRetryAfter(%q) rejected the value but returned %s", v, d)
		}
		if ok && isDigits(strings.TrimSpace(v)) {
			if secs := d / time.Second; d != math.MaxInt64 && d != secs*time.Second {
				t.Fatalf("parseRetryAfter(%q) = %s, not whole seconds", v, d)
			}
		}
	})
}
