package hnsw

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInsertDuringVacuumOfEveryUpperNode pauses a Vacuum between two
// slices of its repairs, with every node above level 0 (the entry point
// among them) marked dying, and inserts while it is paused. An insert that
// draws an upper level finds nothing it may link to there, yet it must
// still descend through the dying nodes and link on the levels below: a
// node left without links would become an island, and, as the new entry
// point once the vacuum frees the old one, would cut every later search
// off from the graph. Timing is the test's, not the scheduler's: the
// vacuum runs in a goroutine and waits at its first slice boundary until
// the inserts are done.
func TestInsertDuringVacuumOfEveryUpperNode(t *testing.T) {
	const n, extra, dim = 600, 300, 8
	data := clustered(31, n+extra, dim, 20)
	x, err := New(Config{Dim: dim, Metric: Euclidean, M: 8, EfConstruction: 64, Seed: 5})
	require.NoError(t, err)
	for id := range n {
		require.NoError(t, x.Insert(uint32(id), data[id], 1))
	}
	present := make([][]float32, n+extra)
	copy(present, data[:n])
	for id := range n {
		if x.meta[id].level > 0 {
			require.NoError(t, x.Delete(uint32(id), 2))
			present[id] = nil
		}
	}
	require.Positive(t, x.Deleted())

	paused, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	x.afterSlice = func() { once.Do(func() { close(paused); <-resume }) }
	done := make(chan error, 1)
	go func() {
		_, err := x.Vacuum(2)
		done <- err
	}()
	<-paused
	upper := 0
	for id := n; id < n+extra; id++ {
		require.NoError(t, x.Insert(uint32(id), data[id], 3))
		present[id] = data[id]
		if x.meta[id].level > 0 {
			upper++
		}
	}
	close(resume)
	require.NoError(t, <-done)
	require.Positive(t, upper, "some inserts drew an upper level")
	checkGraph(t, x)
	requireReachable(t, x)

	// Every live vector is found by a search for itself.
	for id, v := range present {
		if v == nil {
			continue
		}
		got, err := x.Search(v, 1, SearchOptions{})
		require.NoError(t, err)
		require.Equal(t, []uint32{uint32(id)}, ids(got), "node %d is not found by its own vector", id)
	}
	qs := queries(32, data, 50)
	require.GreaterOrEqual(t, meanRecall(t, x, Euclidean, present, qs, 10, SearchOptions{}, nil), 0.95)
}

func ids(rs []Result) []uint32 {
	out := make([]uint32, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// requireReachable requires every live node to be reachable on level 0
// from the entry point: what a search can find at all.
func requireReachable(t testing.TB, x *Index) {
	t.Helper()
	x.mu.Lock()
	defer x.mu.Unlock()
	ep, _, ok := unpackEntry(x.entry.Load())
	if !ok {
		return
	}
	seen := make([]bool, x.capacity)
	seen[ep] = true
	queue := []uint32{ep}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, nb := range x.linksAt(id, 0) {
			if !seen[nb] {
				seen[nb] = true
				queue = append(queue, nb)
			}
		}
	}
	for id := range x.capacity {
		if x.meta[id].state == stateReady && x.meta[id].delVer == 0 {
			require.True(t, seen[id], "live node %d (level %d) is not reachable from the entry point %d", id, x.meta[id].level, ep)
		}
	}
}

// TestVacuumKeepsEveryNodeReachable: rounds of replacing a quarter of the
// nodes and vacuuming the replaced ones. A node whose only in-links came
// from removed nodes is now and then picked by no rebuilt list; the
// vacuum must link it again, or no search would ever find it. Every live
// node stays reachable from the entry point after every vacuum.
func TestVacuumKeepsEveryNodeReachable(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n, dim = 1000, 8
	x, err := New(Config{Dim: dim, Metric: Euclidean, EfConstruction: 32, Seed: 3})
	require.NoError(t, err)
	gen := func() []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	var live, free []uint32
	next := uint32(0)
	for range n {
		require.NoError(t, x.Insert(next, gen(), 1))
		live = append(live, next)
		next++
	}
	for version := uint64(2); version < 42; version++ {
		r.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
		for i := range n / 4 {
			id := next
			if k := len(free); k > 0 {
				id, free = free[k-1], free[:k-1]
			} else {
				next++
			}
			require.NoError(t, x.Insert(id, gen(), version))
			require.NoError(t, x.Delete(live[i], version))
			live[i] = id
		}
		freed, err := x.Vacuum(version)
		require.NoError(t, err)
		free = append(free, freed...)
		checkGraph(t, x)
		requireReachable(t, x)
	}
}

// orphan removes every link to v, on every level.
func orphan(x *Index, v uint32) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for id := range uint32(x.used.Load()) {
		for l := 0; l <= int(x.meta[id].level); l++ {
			links := x.linksAt(id, l)
			if i := slices.Index(links, v); i >= 0 {
				if l == 0 {
					base := int(id) * (1 + x.m0)
					links[i] = links[len(links)-1]
					x.links0[base]--
				} else {
					x.upper[id][l-1] = slices.Delete(links, i, i+1)
				}
			}
		}
	}
}

// TestReconnectReplacesLinks: nodes nothing links to, whose neighbours'
// lists are all full, get a link in place of one a candidate can give up,
// and no node reached before is cut off. With M = 2 (four links on level
// 0) most lists are full, and the orphans' neighbours are topped up to
// full. Before a candidate gave up only links to nodes the new one itself
// reaches (and the walk was made again after a pass), a node was left
// unreachable in some of these graphs.
func TestReconnectReplacesLinks(t *testing.T) {
	for seed := range uint64(testGraphs) {
		data := clustered(seed, 300, 4, 3)
		// At M = 2 inserts alone leave some nodes unreachable too: the
		// reconnect links those as well. Inserted in order, so each seed
		// is one graph.
		x, err := New(Config{Dim: 4, Metric: Euclidean, M: 2, EfConstruction: 16, Seed: seed})
		require.NoError(t, err)
		for i, v := range data {
			require.NoError(t, x.Insert(uint32(i), v, 1))
		}
		ep, _, _ := unpackEntry(x.entry.Load())
		r := rand.New(rand.NewPCG(seed, 9))
		var orphans []uint32
		for len(orphans) < 12 {
			v := uint32(r.IntN(300))
			if v != ep && !slices.Contains(orphans, v) {
				orphans = append(orphans, v)
			}
		}
		for _, v := range orphans {
			orphan(x, v)
		}
		for _, v := range orphans {
			for _, c := range x.linksAt(v, 0) {
				base := int(c) * (1 + x.m0)
				for n := uint32(0); int(x.links0[base]) < x.m0; n++ {
					if links := x.linksAt(c, 0); n != c && !slices.Contains(orphans, n) && !slices.Contains(links, n) {
						x.links0[base+1+len(links)] = n
						x.links0[base]++
					}
				}
			}
		}
		s := x.getScratch()
		linked := x.reconnect(s)
		x.pool.Put(s)
		require.Positive(t, linked, "seed %d", seed)
		requireReachable(t, x)
		checkGraph(t, x)
	}
}

// TestSearchForEveryNodeFindsUnreachableOnes: HNSW's pruning leaves a node
// with no in-link now and then (until a vacuum links it again), and a walk
// never reaches such a node. A search whose ef covers every node the index
// holds must still return all of them: it scans exactly, at any snapshot.
func TestSearchForEveryNodeFindsUnreachableOnes(t *testing.T) {
	data := clustered(7, 300, 8, 4)
	x := build(t, Config{Dim: 8, Metric: Euclidean, EfConstruction: 32, Seed: 7}, data)
	ep, _, _ := unpackEntry(x.entry.Load())
	lone := (ep + 1) % 300
	orphan(x, lone)

	got, err := x.Search(data[lone], 1, SearchOptions{})
	require.NoError(t, err)
	require.NotEqual(t, lone, got[0].ID, "a walk cannot reach a node nothing links to")

	all, err := x.Search(data[lone], 300, SearchOptions{})
	require.NoError(t, err)
	require.Len(t, all, 300)
	require.Equal(t, lone, all[0].ID)
	got, err = x.Search(data[lone], 1, SearchOptions{Ef: 300})
	require.NoError(t, err)
	require.Equal(t, lone, got[0].ID, "ef covering every node scans exactly")

	// A tombstone is one of the nodes a snapshot before it sees.
	require.NoError(t, x.Delete(lone, 2))
	got, err = x.Search(data[lone], 300, SearchOptions{})
	require.NoError(t, err)
	require.Len(t, got, 299)
	require.NotContains(t, ids(got), lone)
	got, err = x.Search(data[lone], 1, SearchOptions{Ef: 300, Snapshot: 1})
	require.NoError(t, err)
	require.Equal(t, lone, got[0].ID, "at snapshot 1 the deleted node is there, and nearest")
	got, err = x.Search(data[lone], 300, SearchOptions{Snapshot: 1, Filter: func(id uint32) bool { return id%2 == 0 }})
	require.NoError(t, err)
	for _, r := range got {
		require.Zero(t, r.ID%2, "the exact scan applies the filter")
	}
}

// TestReconnectWalksAgain: a graph drawn by hand, on level 0 only, where
// the one way to link the orphan O (no links of its own, every list full)
// is to give up a link that cuts two nodes off: C's link to T, whose other
// in-link comes from W, which only T leads to. The next pass must find T
// and W and link them again.
func TestReconnectWalksAgain(t *testing.T) {
	const e, c, x1, x2, x3, x4, x5, tt, w, o = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
	pos := [][]float32{{0, 0}, {1, 0}, {1, 1}, {2, 0}, {1, -1}, {0, 1}, {0, -1}, {10, 0}, {11, 0}, {1.2, 0.1}}
	lists := [][]uint32{
		e:  {c, x1, x4, x5},
		c:  {tt, x1, x2, x3},
		x1: {e, c, x2, x4},
		x2: {c, x1, x3, e},
		x3: {c, x2, x5, e},
		x4: {e, x1, x5, c},
		x5: {e, x3, x4, c},
		tt: {w, x1, x2, x3},
		w:  {tt, x2, x1, x3},
		o:  {},
	}
	x, err := New(Config{Dim: 2, Metric: Euclidean, M: 2, Seed: 1})
	require.NoError(t, err)
	require.Equal(t, 4, x.m0)
	for id, v := range pos {
		require.NoError(t, x.Insert(uint32(id), v, 1))
	}
	draw := func() {
		for id, l := range lists {
			base := id * (1 + x.m0)
			x.links0[base] = uint32(len(l))
			copy(x.links0[base+1:], l)
			x.meta[id].level = 0
			x.upper[id] = nil
		}
		x.entry.Store(packEntry(e, 0))
	}
	draw()

	s := x.getScratch()
	defer x.pool.Put(s)
	n, unreached := x.reconnectPass(s)
	require.Equal(t, 1, unreached, "O alone is cut off")
	require.Equal(t, 1, n)
	require.NotContains(t, x.linksAt(c, 0), uint32(tt), "C gave up its farthest link, to T, for O")
	// That cut off T and W. The next pass finds T (and, once T is linked,
	// reaches W through it).
	n, unreached = x.reconnectPass(s)
	require.Equal(t, 1, unreached)
	require.Equal(t, 1, n)
	requireReachable(t, x)

	// reconnect makes the passes itself, on the same graph drawn again.
	draw()
	require.Equal(t, 2, x.reconnect(s))
	requireReachable(t, x)
}
