// Package annset draws the benchmarks' vector data sets: SIFT-like
// vectors on a random linear structure plus noise, from a fixed seed, so
// that every program that measures vector search (bench's tests and
// benchmarks, cmd/anngen's files) reads the same vectors. The order of the
// draws fixes the data: changing it changes every figure measured on it.
package annset

import "math/rand"

// Structured draws n base vectors and nq queries on a random linear
// structure of the given rank in d dimensions, plus Gaussian noise of
// deviation 0.1, from seed 42: the structure's matrix first, then each
// vector's rank coordinates and its noise in turn (the order fixes the
// data, so it must not change).
func Structured(n, nq, d, rank int) (base, queries [][]float32) {
	const noise, seed = 0.1, 42
	rng := rand.New(rand.NewSource(seed))
	w := make([]float64, d*rank)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	draw := func(count int) [][]float32 {
		vs := make([][]float32, count)
		z := make([]float64, rank)
		for i := range vs {
			for j := range z {
				z[j] = rng.NormFloat64()
			}
			v := make([]float32, d)
			for r := range v {
				s := 0.0
				for j, zj := range z {
					s += w[r*rank+j] * zj
				}
				v[r] = float32(s + noise*rng.NormFloat64())
			}
			vs[i] = v
		}
		return vs
	}
	return draw(n), draw(nq)
}
