package hnsw

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConcurrent runs inserts, deletes and searches at once. Run with -race.
// Ids are inserted at version 1 and deleted at version 2, so at any moment
// a search at Snapshot 1 sees exactly the inserted ids, deleted or not, and
// a latest search must never return an id whose delete finished before the
// search started.
func TestConcurrent(t *testing.T) {
	n := testN / 2
	const dim = 16
	data := clustered(41, n, dim, 20)
	x, err := New(Config{Dim: dim, Metric: Cosine, Seed: 4, EfConstruction: 64})
	require.NoError(t, err)

	// Half is loaded first so deletes and searches have work to do.
	insertParallel(t, x, data, 0, n/2, 1)

	var deletedBefore [1 << 16]atomic.Bool // indexed by id; n is smaller
	require.Less(t, n, len(deletedBefore))
	var wg sync.WaitGroup
	var stop atomic.Bool
	fail := make(chan string, 16)

	// Inserters: the second half, ids interleaved across goroutines.
	const inserters = 3
	for w := range inserters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := n/2 + w; i < n; i += inserters {
				if err := x.Insert(uint32(i), data[i], 1); err != nil {
					fail <- err.Error()
					return
				}
			}
		}()
	}
	// Deleter: every fifth id of the first half.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n/2; i += 5 {
			if err := x.Delete(uint32(i), 2); err != nil {
				fail <- err.Error()
				return
			}
			deletedBefore[i].Store(true)
		}
	}()
	// A vacuum midway through: removes whatever is deleted by then.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !deletedBefore[n/4/5*5].Load() && !stop.Load() {
			runtime.Gosched()
		}
		if _, err := x.Vacuum(2); err != nil {
			fail <- err.Error()
		}
	}()
	// Searchers.
	var searches atomic.Int64
	var swg sync.WaitGroup
	for w := range 2 {
		swg.Add(1)
		go func() {
			defer swg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 5))
			for !stop.Load() {
				q := data[r.IntN(n)]
				var gone []uint32
				for i := 0; i < n/2; i += 5 {
					if deletedBefore[i].Load() {
						gone = append(gone, uint32(i))
					}
				}
				opts := SearchOptions{}
				if r.IntN(2) == 0 {
					opts.Filter = func(id uint32) bool { return id%3 != 0 }
				}
				got, err := x.Search(q, 10, opts)
				if err != nil {
					fail <- err.Error()
					return
				}
				for _, res := range got {
					for _, g := range gone {
						if res.ID == g {
							fail <- "deleted id returned"
							return
						}
					}
					if opts.Filter != nil && !opts.Filter(res.ID) {
						fail <- "filtered id returned"
						return
					}
				}
				if _, err := x.Search(q, 5, SearchOptions{Snapshot: 1, Allowed: []uint32{0, 1, 2, 3}}); err != nil {
					fail <- err.Error()
					return
				}
				searches.Add(1)
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	swg.Wait()
	close(fail)
	for msg := range fail {
		t.Fatal(msg)
	}
	require.Positive(t, searches.Load())
	require.Equal(t, n-n/10, x.Len())
	checkGraph(t, x)

	// The graph built under contention is still good.
	present := make([][]float32, n)
	copy(present, data)
	for i := 0; i < n/2; i += 5 {
		present[i] = nil
	}
	qs := queries(42, data, testQueries/2)
	var sum float64
	for _, q := range qs {
		got, err := x.Search(q, 10, SearchOptions{})
		require.NoError(t, err)
		sum += recall(got, exactTopK(Cosine, present, q, 10, nil))
	}
	rc := sum / float64(len(qs))
	t.Logf("recall@10 after concurrent build (%d searches ran alongside): %.4f", searches.Load(), rc)
	require.GreaterOrEqual(t, rc, 0.9)
}

// TestConcurrentDuplicateInsert races inserts of the same ids: exactly one
// wins each id.
func TestConcurrentDuplicateInsert(t *testing.T) {
	const n, dim = 300, 4
	data := clustered(43, n, dim, 3)
	x, err := New(Config{Dim: dim, Metric: Euclidean})
	require.NoError(t, err)
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				err := x.Insert(uint32(i), data[i], 1)
				if err == nil {
					wins.Add(1)
				} else if !errors.Is(err, ErrExists) {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int64(n), wins.Load())
	require.Equal(t, n, x.Len())
	checkGraph(t, x)
}
