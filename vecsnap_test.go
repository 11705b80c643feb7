package inmem

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/inmem-db/inmem/hnsw"
	"github.com/inmem-db/inmem/internal/keys"
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
	horizon := db.store.Oracle.Visible()
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

// FuzzDecodeVecIndex: the graph record decoder never panics, and what it
// accepts is a consistent index (each key's entry is its graph node, the
// free list exactly the ids without one, every graph node has an id of the
// lists) that re-encodes to a record decoding to the same one. Inputs are
// records without the graph's trailing CRC-32C, which the target appends,
// so the fuzzer reaches the checks behind it.
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
	rec, err := encodeVecIndex(sh.st.scope, "c", cfg, db.vecs[vecIndexKey{string(sh.st.scope), "c"}], db.store.Oracle.Visible())
	require.NoError(f, err)
	f.Add(rec[:len(rec)-4])
	f.Add(rec[:len(rec)/2])
	f.Add([]byte{})
	// Every id of that graph holds a node: without the last of the lists,
	// the graph holds a node with no key, which a search would look up
	// past the end of the lists.
	short := vecRecordShortened(f, rec)
	_, _, _, _, err = decodeVecIndex(short)
	require.ErrorIs(f, err, errVecRecord, "a graph node past the lists is refused")
	f.Add(short[:len(short)-4])
	for _, m := range []Metric{Cosine, Euclidean, Dot} {
		for _, horizon := range []uint64{math.MaxUint64, 40} {
			rec := churnedVecRecord(f, m, horizon)
			f.Add(rec[:len(rec)-4])
		}
	}

	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	f.Fuzz(func(t *testing.T, b []byte) {
		if g, ok := vecRecordGraph(b); ok {
			b = binary.LittleEndian.AppendUint32(slices.Clip(b), crc32.Checksum(b[g:], castagnoli))
		}
		scope, coll, cfg, vi, err := decodeVecIndex(b)
		if err != nil {
			require.ErrorIs(t, err, errVecRecord)
			return
		}
		requireVecIndexConsistent(t, vi)
		vi.cfg = cfg
		q := make([]float32, cfg.Dim)
		q[0] = 1
		res, err := vi.search(q, 3, searchConfig{}, math.MaxUint64, nil)
		require.NoError(t, err)
		for _, m := range res {
			require.Contains(t, vi.byKey, m.Key, "a match is a key's node")
		}

		re, err := encodeVecIndex(scope, coll, cfg, vi, math.MaxUint64)
		require.NoError(t, err)
		scope2, coll2, cfg2, vi2, err := decodeVecIndex(re)
		require.NoError(t, err, "a decoded record re-encodes to one that decodes")
		require.Equal(t, scope, scope2)
		require.Equal(t, coll, coll2)
		require.Equal(t, cfg, cfg2)
		require.Equal(t, vecIndexView(vi), vecIndexView(vi2))
		g1, err := vi.idx.MarshalBinary()
		require.NoError(t, err)
		g2, err := vi2.idx.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, g1, g2, "the same graph, versions included")
	})
}

// churnedVecRecord encodes, as of horizon, a graph that went through what
// a collection's does: upserts with and without metadata, replacements and
// deletes (tombstones), a vacuum that freed ids, and upserts that reused
// some of them, with tombstones again after it. M 2 gives it several
// levels.
func churnedVecRecord(tb testing.TB, m Metric, horizon uint64) []byte {
	cfg := VectorConfig{Dim: 4, Metric: m, M: 2}
	idx, err := hnsw.New(hnsw.Config{Dim: cfg.Dim, Metric: cfg.Metric, M: cfg.M})
	require.NoError(tb, err)
	vi := &vecIndex{cfg: cfg, idx: idx, byKey: map[string]vecEntry{}, built: closed}
	rng := rand.New(rand.NewPCG(uint64(m), 7))
	ver := uint64(0)
	put := func(i int) {
		ver++
		var meta map[string]any
		if i%2 == 0 {
			meta = map[string]any{"i": float64(i), "tag": fmt.Sprint("t", i%3)}
		}
		require.NoError(tb, vi.upsert(fmt.Sprintf("k%02d", i), randVec(rng, 4), meta, ver))
	}
	del := func(i int) {
		ver++
		require.NoError(tb, vi.remove(fmt.Sprintf("k%02d", i), ver))
	}
	for i := range 24 {
		put(i)
	}
	for i := 0; i < 24; i += 3 {
		put(i) // replaced
	}
	for i := 1; i < 24; i += 4 {
		del(i)
	}
	freed, err := vi.vacuum(ver)
	require.NoError(tb, err)
	require.Positive(tb, freed)
	for i := 30; i < 34; i++ {
		put(i) // reuses freed ids
	}
	for i := 2; i < 24; i += 5 {
		del(i)
	}
	require.NotEmpty(tb, vi.free, "some freed ids are still free")
	rec, err := encodeVecIndex(keys.AppendScope(nil, "f", "app", "", [keys.RunLen]byte{}), "coll", cfg, vi, min(horizon, ver))
	require.NoError(tb, err)
	return rec
}

// vecRecordGraph returns where the graph starts in a graph record
// (encodeVecIndex's format), if its lists are whole.
func vecRecordGraph(b []byte) (int, bool) {
	off := 0
	chunk := func() bool {
		n, k := binary.Uvarint(b[off:])
		if k <= 0 || n > uint64(len(b)-off-k) {
			return false
		}
		off += k + int(n)
		return true
	}
	for range 3 { // scope, collection, config
		if !chunk() {
			return 0, false
		}
	}
	n, k := binary.Uvarint(b[off:])
	if k <= 0 || n > uint64(len(b)) {
		return 0, false
	}
	off += k
	for range 2 * n { // key and metadata of each id
		if !chunk() {
			return 0, false
		}
	}
	return off, true
}

// vecRecordShortened returns rec (a graph record) with its lists one id
// short of its graph.
func vecRecordShortened(tb testing.TB, rec []byte) []byte {
	off := 0
	chunk := func() {
		n, k := binary.Uvarint(rec[off:])
		off += k + int(n)
	}
	chunk()
	chunk()
	chunk()
	count := off
	n, k := binary.Uvarint(rec[off:])
	require.Positive(tb, n)
	off += k
	last := off
	for range n {
		last = off
		chunk()
		chunk()
	}
	out := binary.AppendUvarint(slices.Clone(rec[:count]), n-1)
	out = append(out, rec[count+k:last]...)
	return append(out, rec[off:]...)
}

// requireVecIndexConsistent requires of a decoded index that each key's
// entry is a node of the graph holding that key, at the entry's version;
// that the free list holds exactly the ids without a node, highest first
// (the lowest is handed out first), their slots empty; and that the graph
// holds no node without an id in the lists.
func requireVecIndexConsistent(t *testing.T, vi *vecIndex) {
	for key, e := range vi.byKey {
		require.Less(t, int(e.id), len(vi.byID))
		require.Equal(t, key, vi.byID[e.id].key)
		ins, del, ok := vi.idx.Versions(e.id)
		require.True(t, ok, "key %q: id %d has no node", key, e.id)
		if e.deleted {
			require.Equal(t, del, e.version)
			require.NotZero(t, del)
		} else {
			require.Equal(t, ins, e.version)
			require.Zero(t, del)
		}
	}
	var free []uint32
	nodes := 0
	for id := len(vi.byID) - 1; id >= 0; id-- {
		if _, _, ok := vi.idx.Versions(uint32(id)); ok {
			nodes++
		} else {
			free = append(free, uint32(id))
			require.Equal(t, vecNode{}, vi.byID[id])
		}
	}
	require.Equal(t, free, vi.free)
	require.Equal(t, vi.idx.Len()+vi.idx.Deleted(), nodes, "every graph node has an id of the lists")
}

// vecIndexView is what a decoded index holds, in a form require.Equal
// compares: entries by key, each id's key and metadata (absent and empty
// metadata alike), the free list, and each id's graph versions.
func vecIndexView(vi *vecIndex) any {
	type entry struct {
		ID      uint32
		Version uint64
		Deleted bool
	}
	type node struct {
		Key      string
		Meta     map[string]any
		Ins, Del uint64
		InGraph  bool
	}
	entries := map[string]entry{}
	for k, e := range vi.byKey {
		entries[k] = entry{e.id, e.version, e.deleted}
	}
	nodes := make([]node, len(vi.byID))
	for id, n := range vi.byID {
		nodes[id] = node{Key: n.key, Meta: n.meta}
		if len(n.meta) == 0 {
			nodes[id].Meta = nil
		}
		nodes[id].Ins, nodes[id].Del, nodes[id].InGraph = vi.idx.Versions(uint32(id))
	}
	return struct {
		Entries map[string]entry
		Nodes   []node
		Free    []uint32
	}{entries, nodes, vi.free}
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
	v := db.store.Oracle.Visible()
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
