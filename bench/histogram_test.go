package main

import (
	"math"
	"testing"
	"time"
)

func TestBucketIndexRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		v    uint64
	}{
		{"zero", 0},
		{"exact range top", 255},
		{"first shifted bucket", 256},
		{"odd value in shifted bucket", 257},
		{"one microsecond", 1000},
		{"one millisecond", 1_000_000},
		{"thirteen ms", 13_900_000},
		{"one minute", uint64(time.Minute)},
		{"largest kept", 1<<maxValueBits - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := bucketIndex(tt.v)
			if i < 0 || i >= bucketCount {
				t.Fatalf("bucketIndex(%d) = %d, outside [0,%d)", tt.v, i, bucketCount)
			}
			lo, width := bucketRange(i)
			if tt.v < lo || tt.v >= lo+width {
				t.Fatalf("value %d not in bucket %d = [%d,%d)", tt.v, i, lo, lo+width)
			}
			if rel := float64(width) / float64(lo+1); tt.v >= 256 && rel > 1.0/subBucketCount+1e-9 {
				t.Fatalf("bucket %d too wide: width %d at %d", i, width, lo)
			}
		})
	}
}

func TestBucketIndexMonotonic(t *testing.T) {
	prev := 0
	for v := uint64(0); v < 1<<20; v++ {
		i := bucketIndex(v)
		if i != prev && i != prev+1 {
			t.Fatalf("bucketIndex(%d) = %d after %d: buckets must be contiguous", v, i, prev)
		}
		prev = i
	}
}

func TestPercentile(t *testing.T) {
	seq := func(from, to int, unit time.Duration) []time.Duration {
		var out []time.Duration
		for i := from; i <= to; i++ {
			out = append(out, time.Duration(i)*unit)
		}
		return out
	}
	tests := []struct {
		name   string
		values []time.Duration
		p      float64
		want   time.Duration
		relTol float64 // 0 means exact
	}{
		{"empty", nil, 50, 0, 0},
		{"single value", []time.Duration{42}, 99, 42, 0},
		{"median of 1..100 ns", seq(1, 100, 1), 50, 50, 0},
		{"p99 of 1..100 ns", seq(1, 100, 1), 99, 99, 0},
		{"p100 is the max", seq(1, 100, 1), 100, 100, 0},
		{"tiny p is the min", seq(1, 100, 1), 0.001, 1, 0},
		{"p50 of 1..1000 us", seq(1, 1000, time.Microsecond), 50, 500 * time.Microsecond, 1.0 / subBucketCount},
		{"p99 of 1..1000 us", seq(1, 1000, time.Microsecond), 99, 990 * time.Microsecond, 1.0 / subBucketCount},
		{"p99 of 1..200 ms", seq(1, 200, time.Millisecond), 99, 198 * time.Millisecond, 1.0 / subBucketCount},
		{"one outlier does not move p50", append(seq(1, 99, time.Nanosecond), time.Second), 50, 50, 0},
		{"one outlier is the max", append(seq(1, 99, time.Nanosecond), time.Second), 100, time.Second, 1.0 / subBucketCount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h histogram
			for _, v := range tt.values {
				h.Record(v)
			}
			got := h.Percentile(tt.p)
			if tt.relTol == 0 {
				if got != tt.want {
					t.Fatalf("Percentile(%v) = %v, want %v", tt.p, got, tt.want)
				}
				return
			}
			if rel := math.Abs(float64(got-tt.want)) / float64(tt.want); rel > tt.relTol {
				t.Fatalf("Percentile(%v) = %v, want %v within %.2f%%", tt.p, got, tt.want, tt.relTol*100)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	var a, b, all histogram
	for i := 1; i <= 50; i++ {
		a.Record(time.Duration(i) * time.Millisecond)
		all.Record(time.Duration(i) * time.Millisecond)
	}
	for i := 51; i <= 100; i++ {
		b.Record(time.Duration(i) * time.Millisecond)
		all.Record(time.Duration(i) * time.Millisecond)
	}
	a.Merge(&b)
	if a.Count() != 100 {
		t.Fatalf("Count() = %d after merge, want 100", a.Count())
	}
	for _, p := range []float64{1, 50, 90, 99, 100} {
		if got, want := a.Percentile(p), all.Percentile(p); got != want {
			t.Fatalf("merged Percentile(%v) = %v, want %v", p, got, want)
		}
	}
}
