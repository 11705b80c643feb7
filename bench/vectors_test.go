package bench

import (
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/inmem-db/inmem/bench/internal/annset"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
	"github.com/viterin/vek/vek32"
)

// BenchmarkVectorSearch is a top-10 search of 100k x 128 vectors
// (INMEM_BENCH_VECTORS sets the count) drawn as the shared annbench data
// set is: inmem's HNSW (M=16, EfConstruction=200, searched with ef=64)
// against an exact scan of the same vectors with vek32's SIMD distance,
// the floor every approximate index must beat. Both report recall@10
// against the exact answer; bench/ann measures the index more fully.
func BenchmarkVectorSearch(b *testing.B) {
	d := loadVectors(b)
	b.Run("inmem", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			m, err := d.vs.Search("v", d.queries[i%len(d.queries)], vecK, inmem.Ef(vecEf))
			if err != nil || len(m) != vecK {
				b.Fatalf("search: %d matches, %v", len(m), err)
			}
		}
		b.StopTimer()
		b.ReportMetric(d.recall, "recall@10")
	})
	b.Run("exact", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if ids := exactTopK(d.base, d.queries[i%len(d.queries)], vecK); len(ids) != vecK {
				b.Fatal(len(ids))
			}
		}
		b.StopTimer()
		b.ReportMetric(1, "recall@10")
	})
}

const (
	vecDim     = 128
	vecQueries = 200
	vecK       = 10
	vecEf      = 64
)

type vecData struct {
	base, queries [][]float32
	vs            *inmem.Vectors
	recall        float64
}

var (
	vecOnce sync.Once
	vecSet  *vecData
	vecErr  error
)

// loadVectors builds the collection once per process, from GOMAXPROCS
// goroutines, and measures the index's recall on every query.
func loadVectors(b *testing.B) *vecData {
	vecOnce.Do(func() {
		n := 100_000
		if s := os.Getenv("INMEM_BENCH_VECTORS"); s != "" {
			if n, vecErr = strconv.Atoi(s); vecErr != nil {
				return
			}
		}
		d := &vecData{}
		d.base, d.queries = genVectors(n, vecQueries, vecDim)
		db, err := inmem.OpenInMemory()
		if err != nil {
			vecErr = err
			return
		}
		d.vs = db.Shared(inmem.Namespace{Tenant: "bench"}).Vectors()
		if vecErr = d.vs.CreateCollection("v", inmem.VectorConfig{Dim: vecDim, Metric: inmem.Euclidean}); vecErr != nil {
			return
		}
		g := runtime.GOMAXPROCS(0)
		errs := make([]error, g)
		var wg sync.WaitGroup
		for w := 0; w < g; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n && errs[w] == nil; i += g {
					errs[w] = d.vs.Upsert("v", strconv.Itoa(i), d.base[i], nil)
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				vecErr = err
				return
			}
		}
		hits := 0
		for _, q := range d.queries {
			want := exactTopK(d.base, q, vecK)
			got, err := d.vs.Search("v", q, vecK, inmem.Ef(vecEf))
			if err != nil {
				vecErr = err
				return
			}
			for _, m := range got {
				id, _ := strconv.Atoi(m.Key)
				if slices.Contains(want, id) {
					hits++
				}
			}
		}
		d.recall = float64(hits) / float64(vecK*len(d.queries))
		vecSet = d
	})
	if vecErr != nil {
		b.Fatal(vecErr)
	}
	return vecSet
}

// genVectors draws n base vectors and nq queries of the rank-16 set.
func genVectors(n, nq, d int) (base, queries [][]float32) { return annset.Structured(n, nq, d, 16) }

// exactTopK returns the ids of the k base vectors nearest q by L2, nearest
// first, keeping the best k in a sorted array (k is small).
func exactTopK(base [][]float32, q []float32, k int) []int {
	ids := make([]int, 0, k+1)
	dist := make([]float32, 0, k+1)
	for id, v := range base {
		d := vek32.Distance(v, q)
		if len(dist) == k && d >= dist[k-1] {
			continue
		}
		at, _ := slices.BinarySearch(dist, d)
		dist = slices.Insert(dist, at, d)
		ids = slices.Insert(ids, at, id)
		if len(dist) > k {
			dist, ids = dist[:k], ids[:k]
		}
	}
	return ids
}

// TestExactTopK checks the exact scan against sorting every distance.
func TestExactTopK(t *testing.T) {
	base, queries := genVectors(500, 5, 16)
	for _, q := range queries {
		all := make([]int, len(base))
		for i := range all {
			all[i] = i
		}
		slices.SortFunc(all, func(a, b int) int {
			da, db := vek32.Distance(base[a], q), vek32.Distance(base[b], q)
			switch {
			case da < db:
				return -1
			case da > db:
				return 1
			}
			return a - b
		})
		require.Equal(t, all[:10], exactTopK(base, q, 10))
	}
}
