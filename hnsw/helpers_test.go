package hnsw

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// clustered returns n seeded vectors drawn from Gaussian clusters: centers
// spread wide, members spread narrow, like embeddings of a few topics.
func clustered(seed uint64, n, dim, clusters int) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	centers := make([][]float32, clusters)
	for i := range centers {
		c := make([]float32, dim)
		for j := range c {
			c[j] = float32(r.NormFloat64() * 2)
		}
		centers[i] = c
	}
	out := make([][]float32, n)
	for i := range out {
		c := centers[r.IntN(clusters)]
		v := make([]float32, dim)
		for j := range v {
			v[j] = c[j] + float32(r.NormFloat64()*0.6)
		}
		out[i] = v
	}
	return out
}

// exactDist is a float64 reference distance, lower is better.
func exactDist(m Metric, a, b []float32) float64 {
	var dot, na, nb, l2 float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
		l2 += (x - y) * (x - y)
	}
	switch m {
	case Cosine:
		return 1 - dot/math.Sqrt(na*nb)
	case Dot:
		return -dot
	}
	return l2
}

// exactTopK returns the ids of the k nearest vectors among those ok accepts.
func exactTopK(m Metric, data [][]float32, q []float32, k int, ok func(uint32) bool) []uint32 {
	type cand struct {
		d  float64
		id uint32
	}
	var cs []cand
	for i, v := range data {
		if v == nil || (ok != nil && !ok(uint32(i))) {
			continue
		}
		cs = append(cs, cand{exactDist(m, q, v), uint32(i)})
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	if len(cs) > k {
		cs = cs[:k]
	}
	ids := make([]uint32, len(cs))
	for i, c := range cs {
		ids[i] = c.id
	}
	return ids
}

// recall is |got ∩ want| / |want|.
func recall(got []Result, want []uint32) float64 {
	if len(want) == 0 {
		return 1
	}
	set := make(map[uint32]bool, len(want))
	for _, id := range want {
		set[id] = true
	}
	hit := 0
	for _, r := range got {
		if set[r.ID] {
			hit++
		}
	}
	return float64(hit) / float64(len(want))
}

// build inserts data[i] as id i at version 1 from several goroutines.
func build(t testing.TB, cfg Config, data [][]float32) *Index {
	t.Helper()
	x, err := New(cfg)
	require.NoError(t, err)
	insertParallel(t, x, data, 0, len(data), 1)
	return x
}

func insertParallel(t testing.TB, x *Index, data [][]float32, from, to int, version uint64) {
	t.Helper()
	workers := max(runtime.GOMAXPROCS(0), 2)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := from + w; i < to; i += workers {
				if err := x.Insert(uint32(i), data[i], version); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// queries returns query vectors near the data: perturbed data points.
func queries(seed uint64, data [][]float32, n int) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 11))
	out := make([][]float32, n)
	for i := range out {
		src := data[r.IntN(len(data))]
		q := make([]float32, len(src))
		for j := range q {
			q[j] = src[j] + float32(r.NormFloat64()*0.3)
		}
		out[i] = q
	}
	return out
}

// meanRecall runs every query and averages recall@k against brute force.
func meanRecall(t testing.TB, x *Index, m Metric, data, qs [][]float32, k int, opts SearchOptions, ok func(uint32) bool) float64 {
	t.Helper()
	var sum float64
	for _, q := range qs {
		got, err := x.Search(q, k, opts)
		require.NoError(t, err)
		sum += recall(got, exactTopK(m, data, q, k, ok))
	}
	return sum / float64(len(qs))
}
