package hnsw

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// checkGraph verifies the structural invariants: every link of a ready node
// on level l points to another ready node whose level is at least l, lists
// respect their capacity, and the entry point is a ready node of maximum
// level.
func checkGraph(t testing.TB, x *Index) {
	t.Helper()
	x.mu.Lock()
	defer x.mu.Unlock()
	maxLvl := -1
	for id := range x.capacity {
		if x.meta[id].state != stateReady {
			continue
		}
		maxLvl = max(maxLvl, int(x.meta[id].level))
		require.Len(t, x.upper[id], int(x.meta[id].level))
		for l := 0; l <= int(x.meta[id].level); l++ {
			links := x.linksAt(uint32(id), l)
			require.LessOrEqual(t, len(links), x.maxLinks(l))
			for _, nb := range links {
				require.Less(t, int(nb), x.capacity)
				require.Equal(t, stateReady, x.meta[nb].state, "node %d level %d links to non-ready %d", id, l, nb)
				require.NotEqual(t, uint32(id), nb)
				require.GreaterOrEqual(t, int(x.meta[nb].level), l)
			}
		}
	}
	ep, top, ok := unpackEntry(x.entry.Load())
	if maxLvl < 0 {
		require.False(t, ok)
		return
	}
	require.True(t, ok)
	require.Equal(t, stateReady, x.meta[ep].state)
	require.Equal(t, maxLvl, top)
	require.Equal(t, top, int(x.meta[ep].level))
}

func TestVacuum(t *testing.T) {
	n := testN / 2
	dim := testDim
	data := clustered(81, n, dim, 30)
	x := build(t, Config{Dim: dim, Metric: Euclidean, Seed: 5}, data)
	checkGraph(t, x)

	// Delete 40% at version 2 (the entry point included) and 5% at 4.
	r := rand.New(rand.NewPCG(82, 82))
	present := append([][]float32(nil), data...)
	ep, _, _ := unpackEntry(x.entry.Load())
	require.NoError(t, x.Delete(ep, 2))
	present[ep] = nil
	for id := range n {
		if present[id] == nil {
			continue
		}
		switch p := r.Float64(); {
		case p < 0.4:
			require.NoError(t, x.Delete(uint32(id), 2))
			present[id] = nil
		case p < 0.45:
			require.NoError(t, x.Delete(uint32(id), 4))
			present[id] = nil
		}
	}
	live, dead := x.Len(), x.Deleted()

	_, err := x.Vacuum(0)
	require.ErrorIs(t, err, ErrInvalidArgument)
	freed, err := x.Vacuum(3)
	require.NoError(t, err)
	removed := len(freed)
	require.True(t, slices.IsSorted(freed))
	require.Greater(t, removed, n/3)
	require.Equal(t, live, x.Len())
	require.Equal(t, dead-removed, x.Deleted(), "tombstones deleted after the horizon stay")
	checkGraph(t, x)
	again, err := x.Vacuum(3)
	require.NoError(t, err)
	require.Empty(t, again)

	qs := queries(83, data, testQueries)
	rc := meanRecall(t, x, Euclidean, present, qs, 10, SearchOptions{}, nil)
	t.Logf("recall@10 after vacuuming %d of %d nodes: %.4f", removed, n, rc)
	require.GreaterOrEqual(t, rc, 0.95)

	// Freed ids take new vectors.
	fresh := clustered(84, n, dim, 30)
	reinserted := 0
	for id := range n {
		if present[id] != nil {
			continue
		}
		err := x.Insert(uint32(id), fresh[id], 5)
		if x.insVerOf(uint32(id)) == 5 {
			require.NoError(t, err)
			present[id] = fresh[id]
			reinserted++
		} else {
			require.ErrorIs(t, err, ErrExists, "id %d deleted after the horizon keeps its slot", id)
		}
	}
	require.Equal(t, removed, reinserted)
	checkGraph(t, x)
	rc = meanRecall(t, x, Euclidean, present, qs, 10, SearchOptions{}, func(id uint32) bool { return x.Contains(id) })
	t.Logf("recall@10 after reinserting into freed ids: %.4f", rc)
	require.GreaterOrEqual(t, rc, 0.95)

	// The vacuumed graph survives a round trip.
	enc, err := x.MarshalBinary()
	require.NoError(t, err)
	var y Index
	require.NoError(t, y.UnmarshalBinary(enc))
	checkGraph(t, &y)
}

func TestVacuumEverything(t *testing.T) {
	data := clustered(85, 500, 8, 4)
	for _, m := range []Metric{Cosine, Dot} {
		t.Run(fmt.Sprint(m), func(t *testing.T) {
			x := build(t, Config{Dim: 8, Metric: m}, data)
			for id := range 500 {
				require.NoError(t, x.Delete(uint32(id), 9))
			}
			freed, err := x.Vacuum(9)
			require.NoError(t, err)
			require.Len(t, freed, 500)
			checkGraph(t, x)
			got, err := x.Search(data[0], 5, SearchOptions{})
			require.NoError(t, err)
			require.Empty(t, got)
			require.NoError(t, x.Insert(7, data[7], 10))
			got, err = x.Search(data[0], 5, SearchOptions{})
			require.NoError(t, err)
			require.Len(t, got, 1)
			checkGraph(t, x)
		})
	}
}

// insVerOf reads a node's insert version, or 0 for a free slot.
func (x *Index) insVerOf(id uint32) uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if int(id) >= x.capacity || x.meta[id].state != stateReady {
		return 0
	}
	return x.insVer[id]
}
