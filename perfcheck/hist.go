package main

import (
	"math"
	"math/bits"
	"time"
)

// Histogram is a log-linear (HDR-style) histogram of durations in
// nanoseconds. Values below 256 ns are counted exactly; above, every power
// of two is split into 128 equal buckets, so a reported quantile is within
// 1/128 (0.8%) of the true value at any magnitude, from nanoseconds to
// hours, in a fixed 59 KB array with no allocation per record.
//
// A handful of lines of our own instead of an HDR histogram package: the
// library module stays free of dependencies that only its tooling uses.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    uint64
	min    uint64
	max    uint64
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits // buckets per power of two
	// histBuckets covers every uint64: the largest shift is 64-(subBits+1).
	histBuckets = histSub*(64-histSubBits) + histSub
)

// histIndex is the bucket of v: with shift = the number of low bits
// dropped so that v>>shift < 256, bucket 128*shift + v>>shift. For v < 256
// that is v itself; above, each shift adds one power of two of 128 buckets.
func histIndex(v uint64) int {
	shift := 0
	if l := bits.Len64(v); l > histSubBits+1 {
		shift = l - (histSubBits + 1)
	}
	return histSub*shift + int(v>>shift)
}

// histHigh is the largest value counted in bucket i.
func histHigh(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	shift := i/histSub - 1
	m := uint64(i - histSub*shift)
	return (m+1)<<shift - 1
}

// Record counts one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[histIndex(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += v
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Mean is the exact mean of the recorded values.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / h.n)
}

// Max is the largest recorded value, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Quantile returns the value at quantile q in [0, 1]: the upper bound of
// the bucket holding the ceil(q*n)-th smallest value, clamped to the
// recorded maximum. Upper bounds err on the slow side, the safe side for a
// latency target.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(histHigh(i), h.max))
		}
	}
	return time.Duration(h.max)
}

// Merge adds every value recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}
