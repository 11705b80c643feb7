//go:build !race

package hnsw

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSearchAllocs pins the allocation budget of a warm Search: the returned
// slice and nothing else, on every path (graph, filtered graph, snapshot,
// exact over Allowed, graph restricted to a large Allowed).
func TestSearchAllocs(t *testing.T) {
	const n, dim = 3000, 32
	data := clustered(51, n, dim, 10)
	x := build(t, Config{Dim: dim, Metric: Cosine, Seed: 1}, data)
	for i := 0; i < n; i += 7 {
		require.NoError(t, x.Delete(uint32(i), 2))
	}
	small := []uint32{1, 2, 3, 500, 900}
	large := make([]uint32, 0, n)
	for i := range n {
		if i%3 != 0 {
			large = append(large, uint32(i))
		}
	}
	filter := func(id uint32) bool { return id%2 == 0 }
	q := data[17]
	for name, opts := range map[string]SearchOptions{
		"plain":    {},
		"filter":   {Filter: filter},
		"snapshot": {Snapshot: 1, Ef: 100},
		"small":    {Allowed: small},
		"large":    {Allowed: large},
	} {
		// AllocsPerRun warms up with one call; sync.Pool may drop an
		// entry on GC, so allow a fractional average.
		avg := testing.AllocsPerRun(200, func() {
			if _, err := x.Search(q, 10, opts); err != nil {
				t.Fatal(err)
			}
		})
		t.Logf("%s: %.2f allocs per Search", name, avg)
		require.LessOrEqual(t, avg, 1.05, "%s: %.2f allocs per Search", name, avg)
	}
}
