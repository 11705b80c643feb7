package hnsw

import (
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewConfig(t *testing.T) {
	x, err := New(Config{Dim: 3, Metric: Dot})
	require.NoError(t, err)
	require.Equal(t, Config{Dim: 3, Metric: Dot, M: 16, EfConstruction: 200, EfSearch: 64}, x.Config())

	for _, cfg := range []Config{
		{Dim: 0, Metric: Cosine},
		{Dim: -1, Metric: Cosine},
		{Dim: 3},
		{Dim: 3, Metric: Dot + 1},
		{Dim: 3, Metric: Cosine, M: 1},
		{Dim: 3, Metric: Cosine, M: -4},
		{Dim: 3, Metric: Cosine, EfSearch: -1},
		{Dim: 3, Metric: Cosine, EfConstruction: -1},
	} {
		_, err := New(cfg)
		require.ErrorIs(t, err, ErrInvalidArgument, "%+v", cfg)
	}
}

func TestZeroIndex(t *testing.T) {
	var x Index
	require.ErrorIs(t, x.Insert(0, nil, 1), ErrInvalidArgument)
	_, err := x.Search(nil, 1, SearchOptions{})
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.ErrorIs(t, x.Delete(0, 1), ErrNotFound)
	freed, err := x.Vacuum(1)
	require.NoError(t, err)
	require.Empty(t, freed)
	_, err = x.MarshalBinary()
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.Zero(t, x.Len())
}

func TestBadInput(t *testing.T) {
	x, err := New(Config{Dim: 3, Metric: Cosine})
	require.NoError(t, err)
	nan, inf := float32(math.NaN()), float32(math.Inf(1))

	require.ErrorIs(t, x.Insert(0, []float32{1, 2}, 1), ErrDimension)
	require.ErrorIs(t, x.Insert(0, []float32{1, 2, 3, 4}, 1), ErrDimension)
	require.ErrorIs(t, x.Insert(0, nil, 1), ErrDimension)
	require.ErrorIs(t, x.Insert(0, []float32{1, nan, 3}, 1), ErrInvalidVector)
	require.ErrorIs(t, x.Insert(0, []float32{1, -inf, 3}, 1), ErrInvalidVector)
	require.ErrorIs(t, x.Insert(0, []float32{0, 0, 0}, 1), ErrInvalidVector)
	require.ErrorIs(t, x.Insert(0, []float32{3e38, 3e38, 0}, 1), ErrInvalidVector)
	require.ErrorIs(t, x.Insert(MaxID+1, []float32{1, 2, 3}, 1), ErrInvalidArgument)
	require.Equal(t, 0, x.Len())
	require.False(t, x.Contains(0))

	// Nothing was stored: the id is still free.
	require.NoError(t, x.Insert(0, []float32{1, 2, 3}, 1))
	require.ErrorIs(t, x.Insert(0, []float32{3, 2, 1}, 2), ErrExists)
	got, err := x.Search([]float32{1, 2, 3}, 1, SearchOptions{})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.InDelta(t, 1, got[0].Score, 1e-6, "the duplicate did not overwrite the vector")

	_, err = x.Search([]float32{1, 2, 3}, 0, SearchOptions{})
	require.ErrorIs(t, err, ErrInvalidArgument)
	_, err = x.Search([]float32{1, 2, 3}, -1, SearchOptions{})
	require.ErrorIs(t, err, ErrInvalidArgument)
	_, err = x.Search([]float32{1, 2, 3}, 1, SearchOptions{Ef: -1})
	require.ErrorIs(t, err, ErrInvalidArgument)
	_, err = x.Search([]float32{1, 2}, 1, SearchOptions{})
	require.ErrorIs(t, err, ErrDimension)
	_, err = x.Search([]float32{nan, 2, 3}, 1, SearchOptions{})
	require.ErrorIs(t, err, ErrInvalidVector)
	_, err = x.Search([]float32{0, 0, 0}, 1, SearchOptions{})
	require.ErrorIs(t, err, ErrInvalidVector)

	require.ErrorIs(t, x.Delete(1, 2), ErrNotFound)
	require.ErrorIs(t, x.Delete(1<<20, 2), ErrNotFound)
	require.ErrorIs(t, x.Delete(0, 0), ErrInvalidArgument)
	require.NoError(t, x.Insert(5, []float32{1, 0, 0}, 10))
	require.ErrorIs(t, x.Delete(5, 9), ErrInvalidArgument)
	require.True(t, x.Contains(5))
	require.NoError(t, x.Delete(5, 10))
	require.ErrorIs(t, x.Delete(5, 11), ErrNotFound)
	require.False(t, x.Contains(5))
	require.ErrorIs(t, x.Insert(5, []float32{1, 0, 0}, 12), ErrExists)
	require.Equal(t, 1, x.Len())
	require.Equal(t, 1, x.Deleted())

	// Dot and Euclidean accept the zero vector.
	for _, m := range []Metric{Dot, Euclidean} {
		y, err := New(Config{Dim: 2, Metric: m})
		require.NoError(t, err)
		require.NoError(t, y.Insert(0, []float32{0, 0}, 1))
		_, err = y.Search([]float32{0, 0}, 1, SearchOptions{})
		require.NoError(t, err)
	}
}

func TestEmptyAndScores(t *testing.T) {
	x, err := New(Config{Dim: 2, Metric: Euclidean})
	require.NoError(t, err)
	got, err := x.Search([]float32{1, 1}, 3, SearchOptions{})
	require.NoError(t, err)
	require.Empty(t, got)

	require.NoError(t, x.Insert(0, []float32{0, 0}, 1))
	require.NoError(t, x.Insert(1, []float32{3, 4}, 1))
	require.NoError(t, x.Insert(2, []float32{1, 0}, 1))
	got, err = x.Search([]float32{0, 0}, 5, SearchOptions{})
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Equal(t, []uint32{0, 2, 1}, []uint32{got[0].ID, got[1].ID, got[2].ID})
	require.InDelta(t, 0, got[0].Score, 1e-6)
	require.InDelta(t, -1, got[1].Score, 1e-6)
	require.InDelta(t, -5, got[2].Score, 1e-5, "Euclidean score is the negative distance")

	y, err := New(Config{Dim: 2, Metric: Dot})
	require.NoError(t, err)
	require.NoError(t, y.Insert(0, []float32{1, 0}, 1))
	require.NoError(t, y.Insert(1, []float32{5, 0}, 1))
	got, err = y.Search([]float32{2, 1}, 2, SearchOptions{})
	require.NoError(t, err)
	require.Equal(t, Result{ID: 1, Score: 10}, got[0])
	require.Equal(t, Result{ID: 0, Score: 2}, got[1])

	z, err := New(Config{Dim: 2, Metric: Cosine})
	require.NoError(t, err)
	require.NoError(t, z.Insert(0, []float32{10, 0}, 1))
	require.NoError(t, z.Insert(1, []float32{0, 3}, 1))
	got, err = z.Search([]float32{2, 2}, 2, SearchOptions{})
	require.NoError(t, err)
	require.InDelta(t, math.Sqrt2/2, got[0].Score, 1e-6)

	// Empty non-nil Allowed returns nothing.
	got, err = z.Search([]float32{2, 2}, 2, SearchOptions{Allowed: []uint32{}})
	require.NoError(t, err)
	require.Empty(t, got)
	// Out-of-range and duplicate allowed ids are ignored.
	got, err = z.Search([]float32{2, 2}, 5, SearchOptions{Allowed: []uint32{1, 1, 99, 1}})
	require.NoError(t, err)
	require.Equal(t, []Result{{ID: 1, Score: got[0].Score}}, got)
}

// TestSnapshot checks that a search at version s sees exactly the nodes
// inserted at or before s and not deleted at or before s.
func TestSnapshot(t *testing.T) {
	const n, dim, versions = 600, 8, 20
	r := rand.New(rand.NewPCG(21, 21))
	x, err := New(Config{Dim: dim, Metric: Euclidean, Seed: 1})
	require.NoError(t, err)
	data := clustered(22, n, dim, 5)
	ins := make([]uint64, n)
	del := make([]uint64, n)
	all := make([]uint32, n)
	for i := range n {
		ins[i] = uint64(1 + r.IntN(versions))
		all[i] = uint32(i)
	}
	// Insert in version order, as a database would.
	order := append([]uint32(nil), all...)
	sort.Slice(order, func(a, b int) bool { return ins[order[a]] < ins[order[b]] })
	for _, id := range order {
		require.NoError(t, x.Insert(id, data[id], ins[id]))
	}
	for i := range n {
		if r.IntN(3) == 0 {
			del[i] = ins[i] + uint64(r.IntN(versions))
			require.NoError(t, x.Delete(uint32(i), del[i]))
		}
	}
	visibleAt := func(id uint32, s uint64) bool {
		if s == 0 {
			return del[id] == 0
		}
		return ins[id] <= s && (del[id] == 0 || del[id] > s)
	}
	for s := uint64(0); s <= 2*versions; s++ {
		want := map[uint32]bool{}
		for i := range n {
			if visibleAt(uint32(i), s) {
				want[uint32(i)] = true
			}
		}
		q := data[r.IntN(n)]
		// Exact path: Allowed over every id.
		got, err := x.Search(q, n, SearchOptions{Snapshot: s, Allowed: all})
		require.NoError(t, err)
		gotSet := map[uint32]bool{}
		for _, res := range got {
			gotSet[res.ID] = true
		}
		require.Equal(t, want, gotSet, "snapshot %d", s)

		// Graph path with a beam as wide as the index returns the same set.
		got, err = x.Search(q, n, SearchOptions{Snapshot: s, Ef: n})
		require.NoError(t, err)
		gotSet = map[uint32]bool{}
		for _, res := range got {
			gotSet[res.ID] = true
		}
		require.Equal(t, want, gotSet, "snapshot %d (graph)", s)

		// And a top-10 graph search returns only visible nodes.
		got, err = x.Search(q, 10, SearchOptions{Snapshot: s})
		require.NoError(t, err)
		require.Len(t, got, min(10, len(want)))
		for i, res := range got {
			require.True(t, want[res.ID], "snapshot %d returned invisible %d", s, res.ID)
			if i > 0 {
				require.GreaterOrEqual(t, got[i-1].Score, res.Score)
			}
		}
	}
}

func TestFilterAndDeleteCombined(t *testing.T) {
	data := clustered(31, 2000, 16, 10)
	x := build(t, Config{Dim: 16, Metric: Euclidean, Seed: 2}, data)
	for i := 0; i < 2000; i += 2 {
		require.NoError(t, x.Delete(uint32(i), 5))
	}
	even := func(id uint32) bool { return id%2 == 0 }
	got, err := x.Search(data[0], 10, SearchOptions{Filter: even})
	require.NoError(t, err)
	require.Empty(t, got, "every even id is deleted")
	got, err = x.Search(data[0], 10, SearchOptions{Filter: even, Snapshot: 4})
	require.NoError(t, err)
	require.Len(t, got, 10)
	require.Equal(t, uint32(0), got[0].ID)
	for _, res := range got {
		require.True(t, even(res.ID))
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	errs := []error{ErrDimension, ErrInvalidVector, ErrInvalidArgument, ErrNotFound, ErrExists, ErrCorrupt}
	for i, a := range errs {
		for j, b := range errs {
			require.Equal(t, i == j, errors.Is(a, b))
		}
	}
}
