package hnsw

import (
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestConfigBounds: M from 2 to 1024 and ef values from 1 are accepted;
// one past either end of M is refused.
func TestConfigBounds(t *testing.T) {
	for _, cfg := range []Config{
		{Dim: 2, Metric: Euclidean, M: 2},
		{Dim: 2, Metric: Euclidean, M: 1024},
		{Dim: 2, Metric: Euclidean, EfConstruction: 1, EfSearch: 1},
	} {
		x, err := New(cfg)
		require.NoError(t, err, "%+v", cfg)
		require.NoError(t, x.Insert(0, []float32{1, 2}, 1))
	}
	_, err := New(Config{Dim: 2, Metric: Euclidean, M: 1025})
	require.ErrorIs(t, err, ErrInvalidArgument)
}

// TestBytesCountsTheLayout: Bytes is the flat per-node arrays up to the
// largest id used (vector, level-0 list, insert version, node record), a
// slice header per slot of capacity for the upper levels, and each upper
// list at M links.
func TestBytesCountsTheLayout(t *testing.T) {
	const dim, m = 5, 4
	x, err := New(Config{Dim: dim, Metric: Euclidean, M: m, Seed: 1})
	require.NoError(t, err)
	require.Zero(t, x.Bytes())
	data := clustered(3, 300, dim, 3)
	for id := range 300 {
		require.NoError(t, x.Insert(uint32(id), data[id], 1))
	}
	var upper int64
	for id := range 300 {
		upper += int64(x.meta[id].level) * (24 + 4*m)
	}
	require.Positive(t, upper, "some nodes have upper levels")
	flat := int64(4*dim + 4*(1+2*m) + 8 + int(unsafe.Sizeof(nodeMeta{})))
	x.mu.RLock()
	capacity := int64(x.capacity)
	x.mu.RUnlock()
	require.Equal(t, 300*flat+capacity*24+upper, x.Bytes())
}

// TestBruteForceLimit: an Allowed set is searched exactly up to 2·ef·M ids,
// or a sixteenth of the index when that is more.
func TestBruteForceLimit(t *testing.T) {
	x, err := New(Config{Dim: 2, Metric: Euclidean, M: 8})
	require.NoError(t, err)
	require.Equal(t, 2*64*8, x.bruteForceLimit(64, 0))
	require.Equal(t, 2*64*8, x.bruteForceLimit(64, 16*2*64*8))
	require.Equal(t, 100_000/16, x.bruteForceLimit(64, 100_000))
}

// TestHeaps: the min-heap pops in ascending distance, the max-heap in
// descending, and drainSorted empties the max-heap into ascending order,
// for heaps of every size up to a few levels deep, ties included.
func TestHeaps(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for n := range 70 {
		var mn minHeap
		var mx maxHeap
		var want []float32
		for i := range n {
			d := float32(r.IntN(20)) // ties
			mn.push(item{d, uint32(i)})
			mx.push(item{d, uint32(i)})
			want = append(want, d)
		}
		slices.Sort(want)
		var got []float32
		for len(mn) > 0 {
			got = append(got, mn.pop().d)
		}
		require.Equal(t, want, got, "min-heap of %d", n)
		sorted := mx.drainSorted(nil)
		require.Empty(t, mx)
		got = got[:0]
		for _, it := range sorted {
			got = append(got, it.d)
		}
		require.Equal(t, want, got, "drained max-heap of %d", n)
		for i := range n {
			mx.push(item{want[i], uint32(i)})
		}
		got = got[:0]
		for len(mx) > 0 {
			got = append(got, mx.pop().d)
		}
		slices.Reverse(got)
		require.Equal(t, want, got, "max-heap of %d", n)
	}
}
