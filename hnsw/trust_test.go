package hnsw

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A search that trusts every node it reaches (no tombstone, nothing newer
// than its snapshot when it starts) can still meet a node inserted or
// deleted while it walks. The race is made here by setting the counters
// the search reads at its start to what they were before the writes.
func TestTrustedWalkChecksResults(t *testing.T) {
	const n, dim = 2000, 8
	data := clustered(41, n, dim, 8)
	x, err := New(Config{Dim: dim, Metric: Euclidean, Seed: 3})
	require.NoError(t, err)
	for i := range n - 10 {
		require.NoError(t, x.Insert(uint32(i), data[i], 5))
	}
	// Inserted after the search's snapshot (10) but applied "during" it.
	for i := n - 10; i < n; i++ {
		require.NoError(t, x.Insert(uint32(i), data[i], 20))
	}
	// Deleted at or before the snapshot, but "after" the search looked.
	require.NoError(t, x.Delete(7, 9))
	x.maxIns.Store(5)
	x.deleted.Store(0)

	for _, id := range []uint32{n - 1, n - 5, 7} {
		got, err := x.Search(data[id], 10, SearchOptions{Snapshot: 10, Ef: 40})
		require.NoError(t, err)
		require.Len(t, got, 10)
		for _, r := range got {
			require.NotEqual(t, id, r.ID, "query %d: returned a node invisible at the snapshot", id)
			require.Less(t, r.ID, uint32(n-10))
			require.NotEqual(t, uint32(7), r.ID)
		}
		for i := 1; i < len(got); i++ {
			require.GreaterOrEqual(t, got[i-1].Score, got[i].Score)
		}
	}
	// Latest (snapshot 0) hides only the deleted node.
	got, err := x.Search(data[7], 5, SearchOptions{Ef: 40})
	require.NoError(t, err)
	for _, r := range got {
		require.NotEqual(t, uint32(7), r.ID)
	}
}

// With nothing to hide, a trusted walk returns what a checked one does.
func TestTrustedWalkSameResults(t *testing.T) {
	const n, dim = 3000, 16
	data := clustered(42, n, dim, 10)
	x := build(t, Config{Dim: dim, Metric: Euclidean, Seed: 4}, data)
	for _, q := range queries(43, data, 50) {
		trusted, err := x.Search(q, 10, SearchOptions{Snapshot: 1})
		require.NoError(t, err)
		x.maxIns.Store(2) // above the snapshot: the walk checks every node
		checked, err := x.Search(q, 10, SearchOptions{Snapshot: 1})
		x.maxIns.Store(1)
		require.NoError(t, err)
		require.Equal(t, checked, trusted)
	}
}
