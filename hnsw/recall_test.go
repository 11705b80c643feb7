package hnsw

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRecall(t *testing.T) {
	data := clustered(1, testN, testDim, 50)
	qs := queries(2, data, testQueries)
	for _, m := range []Metric{Euclidean, Cosine} {
		t.Run(m.String(), func(t *testing.T) {
			x := build(t, Config{Dim: testDim, Metric: m, Seed: 3}, data)
			require.Equal(t, testN, x.Len())
			checkGraph(t, x)
			r := meanRecall(t, x, m, data, qs, 10, SearchOptions{}, nil)
			t.Logf("recall@10 %s n=%d dim=%d: %.4f", m, testN, testDim, r)
			require.GreaterOrEqual(t, r, 0.95)
		})
	}
}

func TestFilteredRecall(t *testing.T) {
	data := clustered(4, testN, testDim, 50)
	qs := queries(5, data, testQueries/2)
	x := build(t, Config{Dim: testDim, Metric: Euclidean, Seed: 6}, data)
	for _, sel := range []float64{0.01, 0.10, 0.50} {
		r := rand.New(rand.NewPCG(uint64(sel*1000), 1))
		allowedSet := make([]bool, testN)
		var allowed []uint32
		for i := range allowedSet {
			if r.Float64() < sel {
				allowedSet[i] = true
				allowed = append(allowed, uint32(i))
			}
		}
		ok := func(id uint32) bool { return allowedSet[id] }
		t.Run(fmt.Sprintf("filter-%g", sel), func(t *testing.T) {
			rc := meanRecall(t, x, Euclidean, data, qs, 10, SearchOptions{Filter: ok}, ok)
			t.Logf("filtered recall@10 at %g (graph, Filter): %.4f", sel, rc)
			require.GreaterOrEqual(t, rc, 0.95)
		})
		t.Run(fmt.Sprintf("allowed-%g", sel), func(t *testing.T) {
			rc := meanRecall(t, x, Euclidean, data, qs, 10, SearchOptions{Allowed: allowed}, ok)
			t.Logf("filtered recall@10 at %g (Allowed, %d ids): %.4f", sel, len(allowed), rc)
			require.GreaterOrEqual(t, rc, 0.95)
		})
	}
}

func TestDeleteRecall(t *testing.T) {
	n := testN / 2
	data := clustered(7, testN, testDim, 50)
	x := build(t, Config{Dim: testDim, Metric: Cosine, Seed: 8}, data[:n])

	// Delete a seeded 20%.
	r := rand.New(rand.NewPCG(9, 9))
	present := make([][]float32, testN)
	copy(present, data[:n])
	deleted := make(map[uint32]bool)
	for len(deleted) < n/5 {
		id := uint32(r.IntN(n))
		if deleted[id] {
			continue
		}
		require.NoError(t, x.Delete(id, 2))
		deleted[id] = true
		present[id] = nil
	}
	require.Equal(t, n-n/5, x.Len())
	require.Equal(t, n/5, x.Deleted())

	// Then insert the second half.
	insertParallel(t, x, data, n, testN, 3)
	copy(present[n:], data[n:])

	qs := queries(10, data, testQueries)
	var sum float64
	for _, q := range qs {
		got, err := x.Search(q, 10, SearchOptions{})
		require.NoError(t, err)
		for _, res := range got {
			require.False(t, deleted[res.ID], "deleted id %d returned", res.ID)
		}
		sum += recall(got, exactTopK(Cosine, present, q, 10, nil))
	}
	rc := sum / float64(len(qs))
	t.Logf("recall@10 after deleting 20%% and inserting %d more: %.4f", testN-n, rc)
	require.GreaterOrEqual(t, rc, 0.95)
	checkGraph(t, x)

	// Old snapshot still sees the deleted nodes.
	q := data[0]
	if !deleted[0] {
		for id := range deleted {
			q = data[id]
			break
		}
	}
	got, err := x.Search(q, 1, SearchOptions{Snapshot: 1, Ef: 200})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.InDelta(t, 1, got[0].Score, 1e-4, "the exact vector is found at snapshot 1")
}

// TestRecallIsotropic guards graph quality where it is hardest: one
// isotropic Gaussian blob, whose intrinsic dimension is the full testDim, so
// there is no cluster structure for routing to exploit. The default ef is
// logged; a wider beam is required to reach high recall.
func TestRecallIsotropic(t *testing.T) {
	data := clustered(11, testHardN, testDim, 1)
	qs := queries(12, data, testQueries)
	x := build(t, Config{Dim: testDim, Metric: Euclidean, Seed: 13}, data)
	r64 := meanRecall(t, x, Euclidean, data, qs, 10, SearchOptions{}, nil)
	r128 := meanRecall(t, x, Euclidean, data, qs, 10, SearchOptions{Ef: 128}, nil)
	t.Logf("isotropic n=%d dim=%d recall@10: ef=64 %.4f, ef=128 %.4f", testHardN, testDim, r64, r128)
	require.GreaterOrEqual(t, r128, 0.93)
	require.GreaterOrEqual(t, r128, r64-0.005, "a wider beam does not lose recall")
}
