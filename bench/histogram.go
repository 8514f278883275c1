package main

import (
	"math/bits"
	"time"
)

// Latencies are kept in a log-linear histogram rather than a sorted
// sample: recording is one array increment (the generator shares the CPU
// with the server it measures), memory is fixed however long the run, and
// per-worker histograms merge by adding counts.
const (
	// subBucketBits sets the precision: 2^7 = 128 sub-buckets per power of
	// two, so a reported percentile is within 0.4% of the true value.
	subBucketBits  = 7
	subBucketCount = 1 << subBucketBits
	// maxValueBits caps recorded values at 2^40 ns (about 18 minutes);
	// longer values are clamped into the last bucket.
	maxValueBits = 40
	bucketCount  = (maxValueBits-subBucketBits+1)*subBucketCount + subBucketCount
)

// histogram counts durations in nanoseconds. Values below 256 ns are kept
// exactly; above that each bucket spans 1/128 of its power of two.
type histogram struct {
	counts [bucketCount]uint64
	total  uint64
}

// bucketIndex maps a value to its bucket.
func bucketIndex(v uint64) int {
	if v >= 1<<maxValueBits {
		v = 1<<maxValueBits - 1
	}
	if v < 2*subBucketCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBucketBits - 1
	return (shift+1)<<subBucketBits + int(v>>shift) - subBucketCount
}

// bucketRange returns the lowest value of bucket i and its width.
func bucketRange(i int) (lo, width uint64) {
	if i < 2*subBucketCount {
		return uint64(i), 1
	}
	shift := i>>subBucketBits - 1
	mantissa := uint64(i&(subBucketCount-1) + subBucketCount)
	return mantissa << shift, 1 << shift
}

// Record adds one duration; negative durations count as zero.
func (h *histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketIndex(uint64(d))]++
	h.total++
}

// Count is the number of recorded values.
func (h *histogram) Count() uint64 { return h.total }

// Merge adds every count of o into h.
func (h *histogram) Merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100): the
// smallest recorded value such that at least p% of values are at or below
// it, reported as the middle of its bucket. It is 0 when h is empty.
func (h *histogram) Percentile(p float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(p / 100 * float64(h.total))
	if float64(rank) < p/100*float64(h.total) {
		rank++ // ceil without float rounding surprises on exact ranks
	}
	if rank < 1 {
		rank = 1
	}
	if rank > h.total {
		rank = h.total
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, width := bucketRange(i)
			return time.Duration(lo + (width-1)/2)
		}
	}
	return 0 // unreachable: total equals the sum of counts
}
