package annset

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStructuredHasItsRank: the drawn vectors lie near a subspace of the
// given rank: projected off the span of rank of them, what is left is
// about the noise (deviation 0.1 per coordinate); and the draw is the same
// every time (the benchmarks' figures depend on it).
func TestStructuredHasItsRank(t *testing.T) {
	const n, d, rank = 200, 24, 4
	base, queries := Structured(n, 10, d, rank)
	require.Len(t, base, n)
	require.Len(t, queries, 10)
	again, _ := Structured(n, 10, d, rank)
	require.Equal(t, base, again)
	// Gram-Schmidt over the first vectors until rank directions are found.
	var basis [][]float64
	for _, v := range base {
		if len(basis) == rank {
			break
		}
		u := make([]float64, d)
		for i, x := range v {
			u[i] = float64(x)
		}
		for _, b := range basis {
			var dot float64
			for i := range u {
				dot += u[i] * b[i]
			}
			for i := range u {
				u[i] -= dot * b[i]
			}
		}
		var norm float64
		for _, x := range u {
			norm += x * x
		}
		norm = math.Sqrt(norm)
		for i := range u {
			u[i] /= norm
		}
		basis = append(basis, u)
	}
	var resid float64
	for _, v := range base[rank:] {
		u := make([]float64, d)
		for i, x := range v {
			u[i] = float64(x)
		}
		for _, b := range basis {
			var dot float64
			for i := range u {
				dot += u[i] * b[i]
			}
			for i := range u {
				u[i] -= dot * b[i]
			}
		}
		for _, x := range u {
			resid += x * x
		}
	}
	perCoord := math.Sqrt(resid / float64((n-rank)*(d-rank)))
	require.Less(t, perCoord, 0.5, "the vectors are near a rank-%d subspace", rank)
	require.Greater(t, perCoord, 0.05, "with the noise on top")
}
