package inmem

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/stretchr/testify/require"
)

// waitVacuums waits until no background vacuum is queued or running. A
// commit that triggers one marks it running before it returns, so after
// the writes are done this sees every pass they started.
func waitVacuums(db *DB) {
	for {
		busy := false
		db.vecMu.Lock()
		for _, vi := range db.vecs {
			busy = busy || vi.vac.running.Load()
		}
		db.vecMu.Unlock()
		if !busy {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func dist(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i] - b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

// bruteTop is the exact top k of want by Euclidean distance to q.
func bruteTop(want vecState, q []float32, k int) []string {
	keys := make([]string, 0, len(want))
	for key := range want {
		keys = append(keys, key)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(dist(want[a], q), dist(want[b], q)) })
	return keys[:min(k, len(keys))]
}

// requireSearches runs queries through vs (a Euclidean collection "mem"
// whose state is want) and requires that every match is a stored key with
// its stored vector — never a deleted key, never a replaced version — and
// that recall@10 against brute force is at least 0.95.
func requireSearches(t *testing.T, rng *rand.Rand, vs *Vectors, want vecState, dim int, msg string) {
	t.Helper()
	hits, total := 0, 0
	for range 40 {
		q := randVec(rng, dim)
		got, err := vs.Search("mem", q, 10)
		require.NoError(t, err, msg)
		var keys []string
		for _, m := range got {
			v, ok := want[m.Key]
			require.True(t, ok, "%s: %s is not stored", msg, m.Key)
			require.InDelta(t, -dist(v, q), m.Score, 1e-4, "%s: %s matched at an old version", msg, m.Key)
			keys = append(keys, m.Key)
		}
		exact := bruteTop(want, q, 10)
		for _, k := range exact {
			if slices.Contains(keys, k) {
				hits++
			}
		}
		total += len(exact)
	}
	require.GreaterOrEqual(t, float64(hits)/float64(total), 0.95, "%s: recall@10", msg)
}

// TestVectorChurnStaysBounded: 1,000 keys of a shared scope re-upserted 50
// times (some deleted and brought back each round). Background vacuums
// keep the graph within a small factor of the live vectors, a reclaim
// brings it down to exactly the live ones, its memory stops growing after
// the first rounds, and searches return only current versions with their
// recall. The test waits for each pass a transaction starts before the
// next one, so how far the writer gets ahead of a pass (which sets the
// graph's peak) is the same in every run; TestVectorVacuumBackPressure
// bounds a writer that does not wait.
func TestVectorChurnStaysBounded(t *testing.T) {
	db, err := OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	sh := db.Shared(Namespace{Tenant: "churn"})
	vs := sh.Vectors()
	const dim, keys = 16, 1000
	rounds := shortOr(50, 20)
	require.NoError(t, vs.CreateCollection("mem", VectorConfig{Dim: dim, Metric: Euclidean, M: 8, EfConstruction: 32}))
	rng := rand.New(rand.NewPCG(21, 21))
	buildGraph(t, vs, rng, dim)
	want := vecState{}
	var maxNodes, bytesAt10 int64
	for round := range rounds {
		// Transactions of 25 writes each: the churn of an agent
		// rewriting its memory in steps.
		for first := 0; first < keys; first += 25 {
			require.NoError(t, sh.Update(func(tx *Tx) error {
				for i := first; i < first+25; i++ {
					k := fmt.Sprintf("k%04d", i)
					if (i+round)%20 == 0 {
						delete(want, k)
						if err := tx.Vectors().Delete("mem", k); err != nil {
							return err
						}
						continue
					}
					v := randVec(rng, dim)
					want[k] = v
					if err := tx.Vectors().Upsert("mem", k, v, nil); err != nil {
						return err
					}
				}
				return nil
			}))
			waitVacuums(db)
		}
		st := db.Stats()
		maxNodes = max(maxNodes, st.VectorNodes)
		require.LessOrEqual(t, st.VectorNodes, int64(3*len(want)), "round %d: %d nodes for %d live", round, st.VectorNodes, len(want))
		if round == 0 {
			continue
		}
		require.Positive(t, st.VectorVacuums, "the background vacuum ran")
		if round%10 == 9 {
			rs, err := db.Reclaim()
			require.NoError(t, err)
			st = db.Stats()
			require.Equal(t, int64(len(want)), st.VectorNodes, "round %d: after a reclaim only live vectors are left (removed %d)", round, rs.Vacuumed)
			require.Zero(t, st.VectorTombstones)
			if round == 9 {
				bytesAt10 = st.VectorGraphBytes
			}
			// Only the upper levels' lists vary, with the levels drawn.
			require.LessOrEqual(t, st.VectorGraphBytes, bytesAt10+bytesAt10/100, "round %d: graph memory grew", round)
			requireSearches(t, rng, vs, want, dim, fmt.Sprintf("round %d", round))
		}
	}
	st := db.Stats()
	t.Logf("%d live, at most %d nodes after a round; %d vacuums removed %d nodes; graph %d bytes", len(want), maxNodes, st.VectorVacuums, st.VectorVacuumed, st.VectorGraphBytes)
	require.Greater(t, st.VectorVacuumed, uint64(rounds*keys/2))
}

// TestVectorVacuumBackPressure: a writer that outruns a background vacuum
// waits for it. Every pass is held at its start until the writer has
// outrun it (the worst schedule for the vacuum's goroutine); the graph's
// tombstones still never pass twice the trigger, where without the wait
// they would grow with every write until the pass was let go.
func TestVectorVacuumBackPressure(t *testing.T) {
	var db *DB
	var writerDone atomic.Bool
	var held atomic.Int64
	gate := func() {
		held.Add(1)
		seen := db.Stats().VectorVacuumWaits
		for db.Stats().VectorVacuumWaits == seen && !writerDone.Load() {
			time.Sleep(100 * time.Microsecond)
		}
	}
	db, err := OpenInMemory(withVacuumGate(gate))
	require.NoError(t, err)
	defer db.Close()
	defer writerDone.Store(true) // let a held pass go if the test fails
	sh := db.Shared(Namespace{Tenant: "bp"})
	vs := sh.Vectors()
	const dim, keys, writes = 8, 1000, 3000
	require.NoError(t, vs.CreateCollection("mem", VectorConfig{Dim: dim, Metric: Euclidean, M: 8, EfConstruction: 32}))
	rng := rand.New(rand.NewPCG(28, 28))
	buildGraph(t, vs, rng, dim)
	for i := range keys {
		require.NoError(t, vs.Upsert("mem", fmt.Sprintf("k%04d", i), randVec(rng, dim), nil))
	}
	vi := db.vecs[vecIndexKey{string(sh.st.scope), "mem"}]
	// The trigger is vacuumMin tombstones (a third of 1,000 live is
	// less). A waiting commit's own tombstone may be above the horizon
	// of the pass it waits for, which then leaves it: one more.
	bound := 2*vacuumMin + 1
	most := 0
	for i := range writes {
		require.NoError(t, vs.Upsert("mem", fmt.Sprintf("k%04d", i%keys), randVec(rng, dim), nil))
		most = max(most, vi.idx.Deleted())
		require.LessOrEqual(t, vi.idx.Deleted(), bound, "write %d: the writer outran the vacuum", i)
	}
	writerDone.Store(true)
	waitVacuums(db)
	st := db.Stats()
	t.Logf("%d passes held, %d waits, at most %d tombstones", held.Load(), st.VectorVacuumWaits, most)
	require.GreaterOrEqual(t, st.VectorVacuumWaits, uint64(writes/bound), "the writer waited for every pass it outran")
	require.GreaterOrEqual(t, most, 2*vacuumMin, "tombstones rose to the wait's trigger")
}

// TestVectorVacuumKeepsOpenSnapshot: a read transaction that started before
// the churn holds the graph's tombstones back (the vacuum horizon is the
// oldest registered snapshot) and keeps finding its snapshot's vectors;
// once it ends, a reclaim removes them.
func TestVectorVacuumKeepsOpenSnapshot(t *testing.T) {
	db, err := OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	sh := db.Shared(Namespace{Tenant: "pin"})
	vs := sh.Vectors()
	const dim, keys = 8, 1000
	require.NoError(t, vs.CreateCollection("mem", VectorConfig{Dim: dim, Metric: Euclidean, EfConstruction: 64}))
	rng := rand.New(rand.NewPCG(22, 22))
	buildGraph(t, vs, rng, dim)
	old := vecState{}
	for i := range keys {
		k := fmt.Sprintf("k%04d", i)
		v := randVec(rng, dim)
		require.NoError(t, vs.Upsert("mem", k, v, nil))
		old[k] = v
	}
	pinned, err := sh.Begin(false)
	require.NoError(t, err)
	defer pinned.Discard()

	want := vecState{}
	for round := range 5 {
		for i := range keys {
			k := fmt.Sprintf("k%04d", i)
			if i%10 == round {
				require.NoError(t, vs.Delete("mem", k))
				delete(want, k)
				continue
			}
			v := randVec(rng, dim)
			require.NoError(t, vs.Upsert("mem", k, v, nil))
			want[k] = v
		}
	}
	waitVacuums(db)
	_, err = db.Reclaim()
	require.NoError(t, err)
	st := db.Stats()
	require.Equal(t, int64(6*keys-keys/2), st.VectorNodes, "nothing deleted after the pinned snapshot is removed")
	requireSearches(t, rng, pinned.Vectors(), old, dim, "the pinned snapshot")
	requireSearches(t, rng, vs, want, dim, "latest")

	pinned.Discard()
	rs, err := db.Reclaim()
	require.NoError(t, err)
	require.Equal(t, st.VectorNodes-int64(len(want)), rs.Vacuumed)
	require.Equal(t, int64(len(want)), db.Stats().VectorNodes)
	requireSearches(t, rng, vs, want, dim, "after the snapshot ended")
}

// TestVectorVacuumConcurrent: writers upsert and delete, searchers check
// every match against their own snapshot, and vacuums (background ones
// and reclaims) run throughout (run with -race). At the end the graph
// holds exactly the stored vectors.
func TestVectorVacuumConcurrent(t *testing.T) {
	db, err := OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	sh := db.Shared(Namespace{Tenant: "conc"})
	vs := sh.Vectors()
	const dim, keys = 8, 600
	require.NoError(t, vs.CreateCollection("mem", VectorConfig{Dim: dim, Metric: Euclidean, EfConstruction: 32}))
	buildGraph(t, vs, rand.New(rand.NewPCG(23, 23)), dim)
	var stop atomic.Bool
	var wg sync.WaitGroup
	fail := make(chan error, 16)
	report := func(err error) {
		select {
		case fail <- err:
		default:
		}
	}
	const writes = 1500
	var writers sync.WaitGroup
	for w := range 2 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 23))
			for range writes {
				k := fmt.Sprintf("k%03d", rng.IntN(keys))
				var err error
				if rng.IntN(5) == 0 {
					err = vs.Delete("mem", k)
				} else {
					err = vs.Upsert("mem", k, randVec(rng, dim), nil)
				}
				if err != nil {
					report(err)
					return
				}
			}
		}()
	}
	for s := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(s), 24))
			for !stop.Load() {
				err := sh.View(func(tx *Tx) error {
					q := randVec(rng, dim)
					got, err := tx.Vectors().Search("mem", q, 10)
					if err != nil {
						return err
					}
					for _, m := range got {
						rec, err := tx.Vectors().Get("mem", m.Key)
						if err != nil {
							return fmt.Errorf("match %s not stored at the snapshot: %w", m.Key, err)
						}
						if d := -dist(rec.Vector, q); math.Abs(d-float64(m.Score)) > 1e-4 {
							return fmt.Errorf("match %s scored %v, its vector at the snapshot %v", m.Key, m.Score, d)
						}
					}
					return nil
				})
				if err != nil {
					report(err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if _, err := db.Reclaim(); err != nil {
				report(err)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	writers.Wait()
	stop.Store(true)
	wg.Wait()
	close(fail)
	for err := range fail {
		require.NoError(t, err)
	}
	waitVacuums(db)
	_, err = db.Reclaim()
	require.NoError(t, err)
	want := vecState{}
	for i := range keys {
		k := fmt.Sprintf("k%03d", i)
		if rec, err := vs.Get("mem", k); err == nil {
			want[k] = rec.Vector
		}
	}
	st := db.Stats()
	require.Equal(t, int64(len(want)), st.VectorNodes)
	require.Positive(t, st.VectorVacuumed)
	requireCollection(t, vs, want, true, "after the concurrent churn")
}

// TestVectorVacuumRuns: a run's graph is never vacuumed while its history
// can be read: AsOf at every step answers as before a reclaim. Once the
// run is compacted its graph gives up what no remaining reader can see —
// AsOf at the compaction point, a fork made earlier (which reads the
// parent at its fork step) and the live state all answer exactly as
// before.
func TestVectorVacuumRuns(t *testing.T) {
	db, err := OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	const dim, keys, steps = 8, 60, 30
	run, err := db.BeginRun()
	require.NoError(t, err)
	require.NoError(t, run.Vectors().CreateCollection("mem", VectorConfig{Dim: dim, Metric: Euclidean}))
	rng := rand.New(rand.NewPCG(25, 25))
	state := vecState{}
	models := []vecState{{}, {}} // steps 0 and 1 (the collection's creation)
	for range steps {
		err := run.Update(func(tx *Tx) error {
			for range 10 {
				k := fmt.Sprintf("k%02d", rng.IntN(keys))
				if rng.IntN(4) == 0 {
					if err := tx.Vectors().Delete("mem", k); err != nil {
						return err
					}
					delete(state, k)
					continue
				}
				v := randVec(rng, dim)
				if err := tx.Vectors().Upsert("mem", k, v, nil); err != nil {
					return err
				}
				state[k] = v
			}
			return nil
		})
		require.NoError(t, err)
		s := vecState{}
		for k, v := range state {
			s[k] = v
		}
		models = append(models, s)
	}
	qs := make([][]float32, 10)
	for i := range qs {
		qs[i] = randVec(rng, dim)
	}
	// Each search is exact (a small collection), so answers compare as is.
	answers := func(vs *Vectors) [][]Match {
		var out [][]Match
		for _, q := range qs {
			got, err := vs.Search("mem", q, 8)
			require.NoError(t, err)
			out = append(out, got)
		}
		return out
	}
	asOf := func(step int) [][]Match {
		v, err := run.AsOf(step)
		require.NoError(t, err)
		return answers(v.Vectors())
	}
	last := len(models) - 1
	before := map[int][][]Match{}
	for step := 1; step <= last; step++ {
		before[step] = asOf(step)
		for i, q := range qs {
			require.Equal(t, bruteTop(models[step], q, 8), keysOfMatches(before[step][i]), "step %d", step)
		}
	}
	fork, err := db.Fork(run.ID(), 12)
	require.NoError(t, err)
	forkBefore := answers(fork.Vectors())

	nodes := db.Stats().VectorNodes
	rs, err := db.Reclaim()
	require.NoError(t, err)
	require.Zero(t, rs.Vacuumed, "a run's history is kept whole")
	require.Equal(t, nodes, db.Stats().VectorNodes)
	for step := 1; step <= last; step++ {
		require.Equal(t, before[step], asOf(step), "step %d", step)
	}

	require.NoError(t, db.Runs().Compact(run.ID()))
	rs, err = db.Reclaim()
	require.NoError(t, err)
	require.Positive(t, rs.Vacuumed, "what was deleted by the fork's step is gone")
	require.Less(t, db.Stats().VectorNodes, nodes)
	require.Equal(t, before[last], asOf(last))
	require.Equal(t, forkBefore, answers(fork.Vectors()))
	require.Equal(t, before[last], answers(run.Vectors()))
	_, err = run.AsOf(last - 1)
	require.ErrorIs(t, err, ErrHistory)

	// Without the fork, everything deleted by the compaction point goes.
	require.NoError(t, db.Runs().Delete(fork.ID()))
	_, err = db.Reclaim()
	require.NoError(t, err)
	vi := db.vecs[vecIndexKey{string(run.st.scope), "mem"}]
	require.Equal(t, len(state), vi.idx.Len())
	require.Zero(t, vi.idx.Deleted())
	require.Equal(t, before[last], asOf(last))
	require.Equal(t, before[last], answers(run.Vectors()))
}

// buildGraph makes the collection's graph exist (it is built on first
// use), so that the writes that follow go through it.
func buildGraph(t *testing.T, vs *Vectors, rng *rand.Rand, dim int) {
	t.Helper()
	_, err := vs.Search("mem", randVec(rng, dim), 1)
	require.NoError(t, err)
}

func keysOfMatches(ms []Match) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Key
	}
	return out
}

// TestVectorChurnReopen: churn with vacuums, a checkpoint (the snapshot
// carries the vacuumed graph, its freed ids included), more churn in the
// WAL only, and a reopen: the loaded graph answers as the store says and
// as before the close, and takes writes and vacuums again.
func TestVectorChurnReopen(t *testing.T) {
	mem := vfs.NewMemFS(26)
	open := func() *DB {
		db, err := Open("/db", withFS(mem), WithDurability(Strict()))
		require.NoError(t, err)
		return db
	}
	db := open()
	vs := db.Shared(Namespace{Tenant: "t"}).Vectors()
	const dim, keys = 8, 1200
	require.NoError(t, vs.CreateCollection("mem", VectorConfig{Dim: dim, Metric: Euclidean, M: 8, EfConstruction: 32}))
	rng := rand.New(rand.NewPCG(26, 26))
	buildGraph(t, vs, rng, dim)
	want := vecState{}
	churn := func(rounds int) {
		for range rounds {
			for i := range keys {
				k := fmt.Sprintf("k%04d", i)
				if rng.IntN(10) == 0 {
					require.NoError(t, vs.Delete("mem", k))
					delete(want, k)
					continue
				}
				v := randVec(rng, dim)
				require.NoError(t, vs.Upsert("mem", k, v, nil))
				want[k] = v
			}
		}
		waitVacuums(db)
	}
	churn(4)
	require.Positive(t, db.Stats().VectorVacuums)
	require.NoError(t, db.Checkpoint())
	churn(1) // after the snapshot: in the WAL only
	for i := 0; i < keys; i += 7 {
		k := fmt.Sprintf("k%04d", i)
		require.NoError(t, vs.Delete("mem", k))
		delete(want, k)
	}
	qs := make([][]float32, 20)
	for i := range qs {
		qs[i] = randVec(rng, dim)
	}
	search := func() [][]string {
		var out [][]string
		for _, q := range qs {
			got, err := vs.Search("mem", q, 10, Ef(400))
			require.NoError(t, err)
			out = append(out, keysOfMatches(got))
		}
		return out
	}
	beforeClose := search()
	for i, q := range qs {
		require.Equal(t, bruteTop(want, q, 10), beforeClose[i])
	}
	requireSearches(t, rng, vs, want, dim, "before close")
	require.NoError(t, db.Close())

	db = open()
	defer db.Close()
	require.Equal(t, uint64(1), db.Stats().VectorGraphsLoaded)
	vs = db.Shared(Namespace{Tenant: "t"}).Vectors()
	require.Equal(t, beforeClose, search())
	requireSearches(t, rng, vs, want, dim, "after reopen")
	requireCollection(t, vs, want, false, "after reopen")
	require.Zero(t, db.Stats().VectorGraphsBuilt, "the graph came from the snapshot")
	churn(2)
	_, err := db.Reclaim()
	require.NoError(t, err)
	require.Equal(t, int64(len(want)), db.Stats().VectorNodes)
	requireSearches(t, rng, vs, want, dim, "after more churn")
}

// TestVecIndexEncodedAfterVacuum: a graph whose ids were freed and reused
// encodes and decodes to the same keys, ids and free list, each key's
// entry being its newest node whatever the ids' order.
func TestVecIndexEncodedAfterVacuum(t *testing.T) {
	db, err := OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	sh := db.Shared(Namespace{})
	vs := sh.Vectors()
	cfg := VectorConfig{Dim: 8, Metric: Euclidean}
	require.NoError(t, vs.CreateCollection("mem", cfg))
	rng := rand.New(rand.NewPCG(27, 27))
	for i := range 200 {
		require.NoError(t, vs.Upsert("mem", fmt.Sprint("k", i), randVec(rng, 8), nil))
	}
	_, err = vs.Search("mem", randVec(rng, 8), 1)
	require.NoError(t, err)
	for i := range 150 { // replaced: the old nodes become tombstones
		require.NoError(t, vs.Upsert("mem", fmt.Sprint("k", i), randVec(rng, 8), nil))
	}
	for i := 150; i < 170; i++ {
		require.NoError(t, vs.Delete("mem", fmt.Sprint("k", i)))
	}
	_, err = db.Reclaim()
	require.NoError(t, err)
	vi := db.vecs[vecIndexKey{string(sh.st.scope), "mem"}]
	require.Len(t, vi.free, 170)
	for i := range 100 { // into freed ids, which are lower than the keys' old ones
		require.NoError(t, vs.Upsert("mem", fmt.Sprint("k", i), randVec(rng, 8), nil))
	}
	require.Len(t, vi.free, 70)
	require.NotContains(t, vi.byKey, "k155", "a deleted key's entry goes with its last node")

	rec, err := encodeVecIndex(sh.st.scope, "mem", cfg, vi, db.store.Oracle.Visible())
	require.NoError(t, err)
	_, _, _, dec, err := decodeVecIndex(rec)
	require.NoError(t, err)
	dec.cfg = cfg
	live := map[string]vecEntry{}
	for k, e := range vi.byKey {
		if !e.deleted {
			live[k] = e
		}
	}
	require.Len(t, dec.byKey, len(live))
	for k, e := range dec.byKey {
		require.False(t, e.deleted, k)
		require.Equal(t, live[k].id, e.id, k)
		require.Equal(t, live[k].version, e.version, k)
	}
	require.ElementsMatch(t, vi.free, dec.free)
	for _, id := range dec.free {
		require.Empty(t, dec.byID[id].key)
	}
}
