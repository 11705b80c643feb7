package main

import (
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGroundTruthIsExact checks the kept top-k against a full sort of
// every distance, ties included (duplicated base vectors).
func TestGroundTruthIsExact(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	base := make([][]float32, 500)
	for i := range base {
		if i%50 == 49 {
			base[i] = base[i-1] // a tie, broken by id
			continue
		}
		base[i] = []float32{float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.NormFloat64())}
	}
	queries := isotropicQueries(base, 20, 3)
	gt := groundTruth(base, queries, 30)
	for q, got := range gt {
		ids := make([]int32, len(base))
		for i := range ids {
			ids[i] = int32(i)
		}
		slices.SortStableFunc(ids, func(a, b int32) int {
			da, db := l2(queries[q], base[a]), l2(queries[q], base[b])
			switch {
			case da < db:
				return -1
			case da > db:
				return 1
			}
			return 0
		})
		require.Equal(t, ids[:30], got, "query %d", q)
	}
}

// TestIsotropicQueriesMatchSpread checks that the queries sit at the base's
// centre and mean squared distance, on data that is anything but isotropic.
func TestIsotropicQueriesMatchSpread(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	base := make([][]float32, 2000)
	for i := range base {
		z := rng.NormFloat64() * 10 // one strong direction, offset from the origin
		base[i] = []float32{float32(5 + z), float32(5 + z), float32(rng.NormFloat64() * 0.1)}
	}
	spread := func(vs [][]float32) float64 {
		var s float64
		for _, v := range vs {
			s += math.Pow(float64(v[0])-5, 2) + math.Pow(float64(v[1])-5, 2) + math.Pow(float64(v[2]), 2)
		}
		return s / float64(len(vs))
	}
	qs := isotropicQueries(base, 2000, 3)
	require.InEpsilon(t, spread(base), spread(qs), 0.1)
	var corr float64 // isotropic: the base's strong direction is gone
	for _, q := range qs {
		corr += (float64(q[0]) - 5) * (float64(q[1]) - 5)
	}
	require.Less(t, math.Abs(corr/float64(len(qs))), 0.1*spread(qs))
}

// TestFilesRoundTrip checks the fvecs layout against decodeFvecs.
func TestFilesRoundTrip(t *testing.T) {
	vs := [][]float32{{1, 2, 3}, {-4, 5.5, 6}}
	p := filepath.Join(t.TempDir(), "v.fvecs")
	require.NoError(t, writeVecs(p, vs, math.Float32bits))
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	got, err := decodeFvecs(b)
	require.NoError(t, err)
	require.Equal(t, vs, got)
	_, err = decodeFvecs(b[:len(b)-2])
	require.Error(t, err)
}
