package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHistogramBuckets(t *testing.T) {
	// Every value lands in a bucket whose upper bound is at least the
	// value, and the bucket below ends before it.
	vals := []uint64{0, 1, 127, 128, 255, 256, 257, 383, 384, 511, 512, 1000, 1 << 20, 1<<20 + 1, 123456789, 1<<63 - 1, 1<<64 - 1}
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 10000; i++ {
		vals = append(vals, r.Uint64()>>r.IntN(64))
	}
	for _, v := range vals {
		i := histIndex(v)
		require.Less(t, i, histBuckets, "value %d", v)
		require.GreaterOrEqual(t, histHigh(i), v, "value %d bucket %d", v, i)
		if i > 0 {
			require.Less(t, histHigh(i-1), v, "value %d bucket %d", v, i)
		}
	}
	// Buckets are contiguous: each starts right after the previous one.
	for i := 1; i < histBuckets; i++ {
		require.Equal(t, i, histIndex(histHigh(i-1)+1), "bucket %d", i)
	}
}

func TestHistogramExactBelow256(t *testing.T) {
	var h Histogram
	for v := 0; v < 256; v++ {
		h.Record(time.Duration(v))
	}
	require.Equal(t, uint64(256), h.Count())
	require.Equal(t, time.Duration(127), h.Quantile(0.5))
	require.Equal(t, time.Duration(253), h.Quantile(0.99))
	require.Equal(t, time.Duration(0), h.Quantile(0))
	require.Equal(t, time.Duration(255), h.Quantile(1))
	require.Equal(t, time.Duration(255), h.Max())
	require.Equal(t, time.Duration(127), h.Mean())
}

func TestHistogramRelativeError(t *testing.T) {
	// Log-uniform values from 1 ns to ~1 s: every quantile is at least the
	// exact one and within 1/128 above it.
	r := rand.New(rand.NewPCG(2, 2))
	var h Histogram
	exact := make([]time.Duration, 200000)
	for i := range exact {
		exact[i] = time.Duration(1) << r.IntN(30) * time.Duration(1+r.IntN(1000)) / 1000
		h.Record(exact[i])
	}
	slices.Sort(exact)
	for _, q := range []float64{0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1} {
		want := exact[max(0, int(q*float64(len(exact))+0.999999)-1)]
		got := h.Quantile(q)
		require.GreaterOrEqual(t, got, want, "q=%v", q)
		require.LessOrEqual(t, float64(got), float64(want)*(1+1.0/histSub)+1, "q=%v", q)
	}
}

func TestHistogramMergeAndEmpty(t *testing.T) {
	var a, b, all, empty Histogram
	require.Equal(t, time.Duration(0), empty.Quantile(0.99))
	require.Equal(t, time.Duration(0), empty.Mean())
	r := rand.New(rand.NewPCG(3, 3))
	for i := 0; i < 5000; i++ {
		d := time.Duration(r.IntN(1 << 24))
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
		all.Record(d)
	}
	a.Merge(&b)
	a.Merge(&empty)
	require.Equal(t, all, a)
	empty.Merge(&all)
	require.Equal(t, all, empty)
	var neg Histogram
	neg.Record(-time.Second)
	require.Equal(t, time.Duration(0), neg.Max())
}
