package inmem

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/stretchr/testify/require"
)

func randVec(rng *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = rng.Float32()*2 - 1
	}
	return v
}

// vecState is what a collection holds: key -> vector.
type vecState map[string][]float32

// requireCollection requires that a search finds exactly the stored vectors:
// each is its own nearest match, and a search for all of them returns the
// stored keys and nothing else (a graph never serves a vector the store
// does not hold).
func requireCollection(t *testing.T, vs *Vectors, want vecState, exact bool, msg string) {
	t.Helper()
	for k, v := range want {
		rec, err := vs.Get("mem", k)
		require.NoError(t, err, msg)
		require.Equal(t, v, rec.Vector, msg)
	}
	if exact {
		all, err := vs.Search("mem", randVec(rand.New(rand.NewPCG(1, 1)), 8), len(want)+10)
		require.NoError(t, err, msg)
		var keys []string
		for _, m := range all {
			keys = append(keys, m.Key)
		}
		slices.Sort(keys)
		var wk []string
		for k := range want {
			wk = append(wk, k)
		}
		slices.Sort(wk)
		require.Equal(t, wk, keys, msg)
	}
	hits, n := 0, 0
	for k, v := range want {
		if n++; n > 200 {
			break
		}
		m, err := vs.Search("mem", v, 1)
		require.NoError(t, err, msg)
		if len(m) == 1 && m[0].Key == k {
			hits++
		}
	}
	require.GreaterOrEqual(t, float64(hits), 0.95*float64(min(n, len(want))), "%s: self-recall", msg)
}

// TestVectorGraphCarriedBySnapshot: after a checkpoint, reopening loads a
// shared collection's graph from the snapshot (no rebuild), applies the
// WAL written after it, and answers as the store says; without a
// checkpoint the graph is rebuilt on first use.
func TestVectorGraphCarriedBySnapshot(t *testing.T) {
	for _, n := range []int{300, 3000} { // searched exactly / through the graph
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			mem := vfs.NewMemFS(3)
			open := func() *DB {
				db, err := Open("/db", withFS(mem), WithDurability(Strict()))
				require.NoError(t, err)
				return db
			}
			db := open()
			vs := db.Shared(Namespace{Tenant: "t"}).Vectors()
			require.NoError(t, vs.CreateCollection("mem", VectorConfig{Dim: 8, Metric: Euclidean}))
			rng := rand.New(rand.NewPCG(uint64(n), 2))
			want := vecState{}
			put := func(i int) {
				k := fmt.Sprintf("v%05d", i)
				v := randVec(rng, 8)
				require.NoError(t, vs.Upsert("mem", k, v, map[string]any{"i": float64(i)}))
				want[k] = v
			}
			for i := range n {
				put(i)
			}
			_, err := vs.Search("mem", randVec(rng, 8), 1) // builds the graph
			require.NoError(t, err)
			for i := 0; i < n; i += 7 {
				put(i) // replaced
			}
			for i := 3; i < n; i += 11 {
				k := fmt.Sprintf("v%05d", i)
				require.NoError(t, vs.Delete("mem", k))
				delete(want, k)
			}
			require.NoError(t, db.Checkpoint())
			// After the snapshot: in the WAL only.
			for i := n; i < n+50; i++ {
				put(i)
			}
			for i := 5; i < n; i += 13 {
				k := fmt.Sprintf("v%05d", i)
				require.NoError(t, vs.Delete("mem", k))
				delete(want, k)
			}
			requireCollection(t, vs, want, n < exactBelow, "before close")
			require.NoError(t, db.Close())

			db = open()
			st := db.Stats()
			require.Equal(t, uint64(1), st.VectorGraphsLoaded)
			vs = db.Shared(Namespace{Tenant: "t"}).Vectors()
			requireCollection(t, vs, want, n < exactBelow, "after reopen")
			require.Zero(t, db.Stats().VectorGraphsBuilt, "the graph came from the snapshot")
			// The loaded graph keeps taking writes.
			put(n + 100)
			requireCollection(t, vs, want, n < exactBelow, "after a write")
			require.NoError(t, db.Close())

			// A database whose snapshot predates the collection's first
			// search rebuilds it.
			mem2 := vfs.NewMemFS(4)
			db, err = Open("/db", withFS(mem2))
			require.NoError(t, err)
			vs = db.Shared(Namespace{}).Vectors()
			require.NoError(t, vs.CreateCollection("mem", VectorConfig{Dim: 8, Metric: Euclidean}))
			require.NoError(t, vs.Upsert("mem", "a", randVec(rng, 8), nil))
			require.NoError(t, db.Close())
			db, err = Open("/db", withFS(mem2))
			require.NoError(t, err)
			defer db.Close()
			_, err = db.Shared(Namespace{}).Vectors().Search("mem", randVec(rng, 8), 1)
			require.NoError(t, err)
			require.Equal(t, uint64(0), db.Stats().VectorGraphsLoaded)
			require.Equal(t, uint64(1), db.Stats().VectorGraphsBuilt)
		})
	}
}

// TestVectorGraphAfterPowerLoss: a graph carried by a snapshot, then
// Batched writes that a power loss drops in part: the recovered graph
// serves exactly the vectors the recovered store holds.
func TestVectorGraphAfterPowerLoss(t *testing.T) {
	for seed := int64(1); seed <= 12; seed++ {
		mem := vfs.NewMemFS(seed)
		db, err := Open("/db", withFS(mem), WithDurability(Batched(time.Hour, 1<<20)))
		require.NoError(t, err)
		vs := db.Shared(Namespace{}).Vectors()
		require.NoError(t, vs.CreateCollection("mem", VectorConfig{Dim: 8, Metric: Euclidean}))
		rng := rand.New(rand.NewPCG(uint64(seed), 9))
		for i := range 200 {
			require.NoError(t, vs.Upsert("mem", fmt.Sprintf("v%03d", i), randVec(rng, 8), nil))
		}
		_, err = vs.Search("mem", randVec(rng, 8), 1)
		require.NoError(t, err)
		require.NoError(t, db.Checkpoint())
		for i := range 100 { // after the snapshot, never synced
			k := fmt.Sprintf("v%03d", rng.IntN(260))
			if i%3 == 0 {
				require.NoError(t, vs.Delete("mem", k))
			} else {
				require.NoError(t, vs.Upsert("mem", k, randVec(rng, 8), nil))
			}
		}
		// The graph in memory now holds writes the disk may lose; a
		// second checkpoint is not taken.
		crashed := mem.CrashClone()
		db.Close()

		db, err = Open("/db", withFS(crashed))
		require.NoError(t, err)
		require.Equal(t, uint64(1), db.Stats().VectorGraphsLoaded)
		vs = db.Shared(Namespace{}).Vectors()
		want := vecState{}
		for i := range 260 {
			k := fmt.Sprintf("v%03d", i)
			if rec, err := vs.Get("mem", k); err == nil {
				want[k] = rec.Vector
			}
		}
		requireCollection(t, vs, want, true, fmt.Sprintf("seed %d", seed))
		require.NoError(t, db.Close())
	}
}

// TestVecIndexEncodedAtHorizon: a graph holding writes newer than the
// snapshot version is encoded as of that version: decoded, it serves the
// vectors live then and nothing later.
func TestVecIndexEncodedAtHorizon(t *testing.T) {
	db, err := OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	sh := db.Shared(Namespace{})
	vs := sh.Vectors()
	cfg := VectorConfig{Dim: 8, Metric: Euclidean}
	require.NoError(t, vs.CreateCollection("mem", cfg))
	rng := rand.New(rand.NewPCG(4, 4))
	want := vecState{}
	for i := range 100 {
		k := fmt.Sprintf("v%03d", i)
		v := randVec(rng, 8)
		require.NoError(t, vs.Upsert("mem", k, v, nil))
		want[k] = v
	}
	_, err = vs.Search("mem", randVec(rng, 8), 1)
	require.NoError(t, err)
	horizon := db.store.oracle.Visible()
	for i := range 60 { // later: replaced, deleted, added
		k := fmt.Sprintf("v%03d", i*2)
		if i%2 == 0 {
			require.NoError(t, vs.Delete("mem", k))
		} else {
			require.NoError(t, vs.Upsert("mem", k, randVec(rng, 8), nil))
		}
	}
	vi := db.vecs[vecIndexKey{string(sh.st.scope), "mem"}]
	require.NotNil(t, vi)
	rec, err := encodeVecIndex(sh.st.scope, "mem", cfg, vi, horizon)
	require.NoError(t, err)
	scope, coll, gotCfg, dec, err := decodeVecIndex(rec)
	require.NoError(t, err)
	require.Equal(t, sh.st.scope, scope)
	require.Equal(t, "mem", coll)
	require.Equal(t, cfg, gotCfg)
	dec.cfg = cfg
	require.Len(t, dec.byKey, len(want))
	for k, e := range dec.byKey {
		require.False(t, e.deleted, k)
		require.LessOrEqual(t, e.version, horizon, k)
	}
	res, err := dec.search(randVec(rng, 8), 500, searchConfig{}, horizon+1000, nil)
	require.NoError(t, err)
	require.Len(t, res, len(want))
	for _, m := range res {
		require.Contains(t, want, m.Key)
	}
	for cut := 0; cut < len(rec); cut += 97 {
		_, _, _, _, err := decodeVecIndex(rec[:cut])
		require.Error(t, err, "cut at %d", cut)
	}
}

// FuzzDecodeVecIndex: arbitrary bytes never panic the graph record decoder.
func FuzzDecodeVecIndex(f *testing.F) {
	db, err := OpenInMemory()
	require.NoError(f, err)
	defer db.Close()
	sh := db.Shared(Namespace{Tenant: "f"})
	vs := sh.Vectors()
	cfg := VectorConfig{Dim: 4, Metric: Cosine}
	require.NoError(f, vs.CreateCollection("c", cfg))
	for i := range 20 {
		require.NoError(f, vs.Upsert("c", fmt.Sprint(i), []float32{1, float32(i), 0, 1}, map[string]any{"i": i}))
	}
	_, err = vs.Search("c", []float32{1, 0, 0, 0}, 1)
	require.NoError(f, err)
	rec, err := encodeVecIndex(sh.st.scope, "c", cfg, db.vecs[vecIndexKey{string(sh.st.scope), "c"}], db.store.oracle.Visible())
	require.NoError(f, err)
	f.Add(rec)
	f.Add(rec[:len(rec)/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _, vi, err := decodeVecIndex(b)
		if err != nil {
			return
		}
		for _, e := range vi.byKey {
			require.Less(t, int(e.id), len(vi.byID))
		}
	})
}

// TestMendVectors: a loaded graph that missed writes (an upsert, a delete)
// or holds a vector the store does not is mended to match the store.
func TestMendVectors(t *testing.T) {
	db, err := OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	sh := db.Shared(Namespace{})
	vs := sh.Vectors()
	require.NoError(t, vs.CreateCollection("mem", VectorConfig{Dim: 8, Metric: Euclidean}))
	rng := rand.New(rand.NewPCG(8, 8))
	want := vecState{}
	for i := range 50 {
		k := fmt.Sprintf("v%02d", i)
		v := randVec(rng, 8)
		require.NoError(t, vs.Upsert("mem", k, v, nil))
		want[k] = v
	}
	_, err = vs.Search("mem", randVec(rng, 8), 1)
	require.NoError(t, err)
	vi := db.vecs[vecIndexKey{string(sh.st.scope), "mem"}]
	// Damage the graph behind the store's back.
	v := db.store.oracle.Visible()
	require.NoError(t, vi.remove("v01", v))                         // a live vector missing
	require.NoError(t, vi.upsert("ghost", randVec(rng, 8), nil, v)) // a vector the store lacks
	require.NoError(t, vi.upsert("v02", randVec(rng, 8), nil, v))   // a stale vector (newer in the graph)
	e := vi.byKey["v03"]
	e.version = 1 // the graph thinks it holds an older write
	vi.byKey["v03"] = e
	require.NoError(t, db.mendVectors())
	require.NotZero(t, db.vecMends.Load())
	requireCollection(t, vs, want, true, "mended")
}
