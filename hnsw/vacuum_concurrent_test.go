package hnsw

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestVacuumAlongside runs a Vacuum while searches, inserts, deletes and an
// encoding go on (run with -race). Between two slices of its repairs —
// dying nodes still in the graph, some lists rebuilt and some not — a
// search must return no deleted id and keep its recall, and so must every
// search running beside it; afterwards the graph is whole, the freed ids
// are exactly the removable ones and take new vectors.
func TestVacuumAlongside(t *testing.T) {
	n := testN / 2
	dim := testDim
	data := clustered(91, n+n/4, dim, 30)
	x := build(t, Config{Dim: dim, Metric: Euclidean, Seed: 9}, data[:n])

	// 40% deleted at version 2: removable at horizon 2. The entry point
	// goes too, so the free phase has to find a new one.
	r := rand.New(rand.NewPCG(92, 92))
	present := make([][]float32, len(data))
	copy(present, data[:n])
	var want []uint32
	ep, _, _ := unpackEntry(x.entry.Load())
	for id := range n {
		if uint32(id) == ep || r.Float64() < 0.4 {
			require.NoError(t, x.Delete(uint32(id), 2))
			present[id] = nil
			want = append(want, uint32(id))
		}
	}
	// Deleted while the vacuum runs, at version 3: they stay, as
	// tombstones.
	var late []uint32
	for id := range n {
		if present[id] != nil && r.Float64() < 0.05 {
			late = append(late, uint32(id))
		}
	}
	var lateDone [1 << 16]atomic.Bool
	require.Less(t, len(data), len(lateDone))

	qs := queries(93, data[:n], testQueries)
	// At snapshot 2 a search sees what was there before the vacuum: the
	// late deletes (at 3) are still visible, the inserts (at 3) not yet.
	atTwo := make([][]float32, n)
	copy(atTwo, present[:n])
	var sliceSearches atomic.Int64
	var sliceRecall atomic.Uint64 // sum of recalls ×1e6
	fail := make(chan string, 64)
	check := func(got []Result) {
		for _, res := range got {
			if int(res.ID) < n && present[res.ID] == nil {
				fail <- fmt.Sprintf("id %d deleted before the vacuum was returned", res.ID)
				return
			}
		}
	}
	x.afterSlice = func() {
		q := qs[sliceSearches.Load()%int64(len(qs))]
		got, err := x.Search(q, 10, SearchOptions{Snapshot: 2})
		if err != nil {
			fail <- err.Error()
			return
		}
		check(got)
		sliceRecall.Add(uint64(1e6 * recall(got, exactTopK(Euclidean, atTwo, q, 10, nil))))
		sliceSearches.Add(1)
	}

	var wg sync.WaitGroup
	var stop atomic.Bool
	// Searchers at latest.
	var searches atomic.Int64
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rr := rand.New(rand.NewPCG(uint64(w), 94))
			for !stop.Load() {
				var before []uint32
				for _, id := range late {
					if lateDone[id].Load() {
						before = append(before, id)
					}
				}
				got, err := x.Search(qs[rr.IntN(len(qs))], 10, SearchOptions{})
				if err != nil {
					fail <- err.Error()
					return
				}
				check(got)
				for _, res := range got {
					if slices.Contains(before, res.ID) {
						fail <- fmt.Sprintf("id %d deleted before the search was returned", res.ID)
						return
					}
				}
				searches.Add(1)
			}
		}()
	}
	// An inserter of fresh ids and a deleter, at version 3.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := n; i < len(data); i++ {
			if err := x.Insert(uint32(i), data[i], 3); err != nil {
				fail <- err.Error()
				return
			}
			present[i] = data[i]
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, id := range late {
			if err := x.Delete(id, 3); err != nil {
				fail <- err.Error()
				return
			}
			lateDone[id].Store(true)
		}
	}()
	// An encoding waits for the vacuum and is one consistent graph.
	var enc []byte
	wg.Add(1)
	go func() {
		defer wg.Done()
		var err error
		if enc, err = x.MarshalBinary(); err != nil {
			fail <- err.Error()
		}
	}()

	freed, err := x.Vacuum(2)
	require.NoError(t, err)
	x.afterSlice = nil
	stop.Store(true)
	wg.Wait()
	close(fail)
	for msg := range fail {
		t.Fatal(msg)
	}
	require.Equal(t, want, freed)
	require.Positive(t, sliceSearches.Load())
	rc := float64(sliceRecall.Load()) / 1e6 / float64(sliceSearches.Load())
	t.Logf("%d searches between repair slices, recall@10 %.4f; %d searches alongside", sliceSearches.Load(), rc, searches.Load())
	require.GreaterOrEqual(t, rc, 0.95)
	require.Positive(t, searches.Load())
	checkGraph(t, x)
	require.Equal(t, len(late), x.Deleted(), "only the tombstones after the horizon are left")

	var y Index
	require.NoError(t, y.UnmarshalBinary(enc))
	checkGraph(t, &y)

	// Latest recall after the vacuum, over what is live.
	for _, id := range late {
		present[id] = nil
	}
	rc = meanRecall(t, x, Euclidean, present, qs, 10, SearchOptions{}, nil)
	t.Logf("recall@10 after the vacuum: %.4f", rc)
	require.GreaterOrEqual(t, rc, 0.95)

	// The freed ids take new vectors.
	fresh := clustered(95, len(freed), dim, 30)
	for i, id := range freed {
		require.NoError(t, x.Insert(id, fresh[i], 4))
		present[id] = fresh[i]
	}
	checkGraph(t, x)
	rc = meanRecall(t, x, Euclidean, present, qs, 10, SearchOptions{}, nil)
	t.Logf("recall@10 after reusing the freed ids: %.4f", rc)
	require.GreaterOrEqual(t, rc, 0.95)
}

// TestVacuumChurn replaces a third of the vectors each round, vacuums and
// reuses the freed ids: the storage stops growing at its first peak and
// recall holds round after round, the graph having been repaired many
// times over.
func TestVacuumChurn(t *testing.T) {
	n := testSmallN
	dim := testDim
	const rounds = 12
	r := rand.New(rand.NewPCG(96, 96))
	gen := func() []float32 {
		v := clustered(r.Uint64(), 1, dim, 1)[0]
		return v
	}
	x, err := New(Config{Dim: dim, Metric: Euclidean, Seed: 3})
	require.NoError(t, err)
	vecs := make([][]float32, 0, 2*n) // by id; nil: free
	live := make([]uint32, 0, n)
	for id := range n {
		v := gen()
		require.NoError(t, x.Insert(uint32(id), v, 1))
		vecs = append(vecs, v)
		live = append(live, uint32(id))
	}
	var free []uint32
	var capAfterFirst int
	var bytesAfterFirst int64
	version := uint64(1)
	for round := range rounds {
		version++
		// Replace a third: a new node for each, the old one deleted.
		r.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
		for i := range n / 3 {
			old := live[i]
			var id uint32
			if k := len(free); k > 0 {
				id, free = free[k-1], free[:k-1]
			} else {
				id = uint32(len(vecs))
				vecs = append(vecs, nil)
			}
			v := gen()
			require.NoError(t, x.Insert(id, v, version))
			vecs[id] = v
			require.NoError(t, x.Delete(old, version))
			vecs[old] = nil
			live[i] = id
		}
		require.Equal(t, n/3, x.Deleted())
		freed, err := x.Vacuum(version)
		require.NoError(t, err)
		require.Len(t, freed, n/3)
		free = append(free, freed...)
		require.Equal(t, n, x.Len())
		require.Zero(t, x.Deleted())
		require.LessOrEqual(t, len(vecs), n+n/3, "round %d: ids beyond one round of replacements", round)
		x.mu.RLock()
		capacity := x.capacity
		x.mu.RUnlock()
		if round == 0 {
			capAfterFirst, bytesAfterFirst = capacity, x.Bytes()
		}
		require.Equal(t, capAfterFirst, capacity, "round %d: the arrays grew", round)
		// Only the upper lists vary: levels are drawn at random.
		require.InEpsilon(t, bytesAfterFirst, x.Bytes(), 0.05, "round %d", round)
		if round%4 == 3 || round == rounds-1 {
			checkGraph(t, x)
			qs := queries(uint64(97+round), slices.DeleteFunc(slices.Clone(vecs), func(v []float32) bool { return v == nil }), testQueries/2)
			rc := meanRecall(t, x, Euclidean, vecs, qs, 10, SearchOptions{}, nil)
			t.Logf("round %d: recall@10 %.4f, %d ids, %d bytes", round, rc, len(vecs), x.Bytes())
			require.GreaterOrEqual(t, rc, 0.95, "round %d", round)
		}
	}
}
