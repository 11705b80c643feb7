package inmem

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/inmem-db/inmem/hnsw"
	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/keys"
)

// A collection's graph in memory (vecIndex): built from the stored vectors
// on first use (or loaded from a snapshot), brought up to each commit
// (applyVector), searched at a snapshot, and forgotten when its
// collection is dropped or made again with another configuration
// (incarnations). The Vectors API is in vectors.go.

// vecIndex is one collection's graph and the maps between its node ids and
// keys.
type vecIndex struct {
	cfg   VectorConfig
	mu    sync.RWMutex  // Lock: build and map changes; RLock: search (its filter reads byID)
	built chan struct{} // closed once the first build finished
	err   error         // the build's failure, set before built is closed
	// builtAt is the snapshot the build read: writes at or below it are
	// in the graph already (0 for a graph loaded from a snapshot file,
	// which recovery brings up to date record by record).
	builtAt uint64
	idx     *hnsw.Index
	byKey   map[string]vecEntry
	byID    []vecNode
	free    []uint32 // graph ids a vacuum freed, for the next nodes

	vac vacState // see vecvacuum.go
}

type vecEntry struct {
	id      uint32
	version uint64
	deleted bool
	ready   chan struct{} // closed once the node is in the graph
}

type vecNode struct {
	key  string
	meta map[string]any
}

type vecIndexKey struct{ scope, coll string }

// vectorIndex returns the collection's index in scope, building it on
// first use from the vectors stored at the current snapshot. Commits after
// that snapshot reach it through apply; an apply older than what the index
// holds for its key is ignored. A run's index is built from its whole
// history (every version of every vector, with the versions at which each
// was replaced or deleted), so searches at any of its steps see what
// existed then; a shared scope keeps no history and builds from what is
// live.
func (db *DB) vectorIndex(scope []byte, history bool, coll string, cfg VectorConfig) (*vecIndex, error) {
	k := vecIndexKey{string(scope), coll}
	if db.cold.lookup(scope) != nil {
		defer db.touchColdGraph(k)
	}
	db.vecMu.Lock()
	vi, ok := db.vecs[k]
	if ok {
		db.vecMu.Unlock()
		<-vi.built // a build in progress
		if vi.err != nil {
			return nil, vi.err
		}
		if vi.cfg == cfg {
			return vi, nil
		}
		// Built for another incarnation of the collection (dropped and
		// created again with another configuration): build this one.
		db.evictVectorIndex(k, vi)
		return db.vectorIndex(scope, history, coll, cfg)
	}
	idx, err := hnsw.New(hnsw.Config{Dim: cfg.Dim, Metric: cfg.Metric, M: cfg.M, EfConstruction: cfg.EfConstruction, EfSearch: cfg.EfSearch})
	if err != nil {
		db.vecMu.Unlock()
		return nil, fmt.Errorf("collection %q: %v: %w", coll, err, ErrCorruption)
	}
	vi = &vecIndex{cfg: cfg, idx: idx, byKey: map[string]vecEntry{}, built: make(chan struct{})}
	db.vecBuilds.Add(1)
	vi.mu.Lock()
	db.vecs[k] = vi
	db.vecMu.Unlock()
	defer close(vi.built)
	defer vi.mu.Unlock()
	g, snap := db.store.ReadAt()
	vi.builtAt = snap
	prefix := append(append([]byte(nil), scope...), keys.TagVector)
	prefix = append(prefix, vecRecordPrefix(coll)...)
	var berr error
	inc := db.incarnationsOf(g, scope, coll, snap, cfg)
	switch {
	case history:
		it := db.iterScope(g, scope)
		berr = vi.buildHistory(it, prefix, snap, cfg.Dim, inc)
		it.Close()
	default:
		g.Scan(prefix, snap, db.opts.clock, func(key, val []byte, ver uint64) bool {
			if !inc.ours(ver) {
				return true // a search that read the collection before a drop, built after it
			}
			v, meta, err := decodeVecRecord(cfg.Dim, val)
			if err != nil {
				berr = err
				return false
			}
			berr = vi.insertLocked(string(key[len(prefix):]), v, meta, ver)
			return berr == nil
		})
	}
	if berr != nil {
		db.vecMu.Lock()
		delete(db.vecs, k)
		db.vecMu.Unlock()
		vi.err = fmt.Errorf("collection %q: %w", coll, berr)
		return nil, vi.err
	}
	return vi, nil
}

// closed is the ready channel of an entry whose graph node is in place.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// insertLocked adds a vector during a build (the index lock held for the
// whole build, so the graph insert is done in place).
func (vi *vecIndex) insertLocked(key string, vec []float32, meta map[string]any, version uint64) error {
	if e, ok := vi.byKey[key]; ok && e.version >= version {
		return nil // already holds this write or a newer one
	}
	return vi.addNodeLocked(key, vec, meta, version)
}

// allocLocked gives node n a graph id, with the index lock held: a freed
// one if a vacuum left any (so the graph's storage stays at its peak size
// under churn instead of growing with every write), else the next.
func (vi *vecIndex) allocLocked(n vecNode) uint32 {
	if k := len(vi.free); k > 0 {
		id := vi.free[k-1]
		vi.free = vi.free[:k-1]
		vi.byID[id] = n
		return id
	}
	vi.byID = append(vi.byID, n)
	return uint32(len(vi.byID) - 1)
}

// unallocLocked hands back an id whose graph insert failed.
func (vi *vecIndex) unallocLocked(id uint32) {
	vi.byID[id] = vecNode{}
	vi.free = append(vi.free, id)
}

// addNodeLocked inserts a node for key's write at version and makes it the
// key's entry, with the index lock held.
func (vi *vecIndex) addNodeLocked(key string, vec []float32, meta map[string]any, version uint64) error {
	id := vi.allocLocked(vecNode{key: key, meta: meta})
	if err := vi.idx.Insert(id, vec, version); err != nil {
		vi.unallocLocked(id)
		return err
	}
	vi.byKey[key] = vecEntry{id: id, version: version, ready: closed}
	return nil
}

// upsert applies a committed upsert. The maps change under the lock; the
// graph insert, the slow part, runs outside it, so commits to different
// keys of one collection insert in parallel. The entry's ready channel
// tells a later write of the same key when the node exists to be deleted.
func (vi *vecIndex) upsert(key string, vec []float32, meta map[string]any, version uint64) error {
	vi.mu.Lock()
	old, had := vi.byKey[key]
	if had && old.version > version {
		vi.mu.Unlock()
		return nil // an older write applied late
	}
	// At the same version: a later write of the same transaction, which
	// wins (its commit applies them in order). The earlier node is
	// deleted at its own insert version, so no snapshot ever sees it.
	id := vi.allocLocked(vecNode{key: key, meta: meta})
	ready := make(chan struct{})
	vi.byKey[key] = vecEntry{id: id, version: version, ready: ready}
	vi.mu.Unlock()
	err := vi.idx.Insert(id, vec, version)
	close(ready)
	// Point the entry at the shared closed channel, so the garbage
	// collector takes this one (about 100 bytes per vector otherwise).
	vi.mu.Lock()
	if e, ok := vi.byKey[key]; ok && e.ready == ready {
		e.ready = closed
		vi.byKey[key] = e
	}
	vi.mu.Unlock()
	if err != nil {
		return err
	}
	if had && !old.deleted {
		<-old.ready
		return vi.idx.Delete(old.id, version)
	}
	return nil
}

// remove applies a committed delete.
func (vi *vecIndex) remove(key string, version uint64) error {
	vi.mu.Lock()
	old, had := vi.byKey[key]
	if had && old.version > version {
		vi.mu.Unlock()
		return nil // an older write applied late; at the same version, see upsert
	}
	vi.byKey[key] = vecEntry{id: old.id, version: version, deleted: true, ready: closed}
	vi.mu.Unlock()
	if had && !old.deleted {
		<-old.ready
		return vi.idx.Delete(old.id, version)
	}
	return nil
}

// evictVectorIndex forgets vi, if it is still k's index.
func (db *DB) evictVectorIndex(k vecIndexKey, vi *vecIndex) {
	db.vecMu.Lock()
	if db.vecs[k] == vi {
		delete(db.vecs, k)
	}
	db.vecMu.Unlock()
}

// search finds the k best matches at snapshot that the filter allows and
// skip (if not nil) does not reject by key.
func (vi *vecIndex) search(q []float32, k int, sc searchConfig, snapshot uint64, skip func(key string) bool) ([]Match, error) {
	return vi.searchChecked(q, k, sc, snapshot, skip, nil)
}

// searchChecked is search where check, if not nil, vets each match by its
// key and the version its node was inserted at; the graph is asked for
// twice k so that a few rejected matches still leave k.
func (vi *vecIndex) searchChecked(q []float32, k int, sc searchConfig, snapshot uint64, skip func(key string) bool, check func(key string, version uint64) bool) ([]Match, error) {
	if snapshot == 0 {
		return nil, nil // nothing is committed at version 0 (and 0 means "latest" to the graph)
	}
	vi.mu.RLock()
	defer vi.mu.RUnlock()
	opts := hnsw.SearchOptions{Ef: sc.ef, Snapshot: snapshot}
	switch f := sc.filter; {
	case f != nil && skip != nil:
		opts.Filter = func(id uint32) bool { n := &vi.byID[id]; return f.match(n.meta) && !skip(n.key) }
	case f != nil:
		opts.Filter = func(id uint32) bool { return f.match(vi.byID[id].meta) }
	case skip != nil:
		opts.Filter = func(id uint32) bool { return !skip(vi.byID[id].key) }
	}
	if n := len(vi.byID); n <= exactBelow {
		// A small collection is searched exactly: every node (the graph
		// still decides visibility at the snapshot and applies the filter).
		all := make([]uint32, n)
		for i := range all {
			all[i] = uint32(i)
		}
		opts.Allowed = all
	}
	want := k
	if check != nil {
		want = 2 * k
	}
	res, err := vi.idx.Search(q, want, opts)
	if err != nil {
		return nil, fmt.Errorf("search: %v: %w", err, ErrInvalidArgument)
	}
	out := make([]Match, 0, min(k, len(res)))
	for _, r := range res {
		if len(out) == k {
			break
		}
		n := vi.byID[r.ID]
		if check != nil {
			// The node stays while the index lock is held: it is visible
			// at snapshot, so no vacuum can remove it, and its id is
			// reused only under the lock.
			if ins, _, ok := vi.idx.Versions(r.ID); !ok || !check(n.key, ins) {
				continue
			}
		}
		out = append(out, Match{Key: n.key, Score: r.Score, Meta: n.meta})
	}
	return out, nil
}

// exactBelow is the number of graph ids (live, replaced and deleted
// nodes, and ids a vacuum freed for reuse) up to which a collection is
// searched exactly rather than through the graph: cheap at that size, and
// it makes a small memory's results exact.
const exactBelow = 1024

// dropVectors forgets the in-memory indexes of a scope (a deleted run).
func (db *DB) dropVectors(scope []byte) {
	db.vecMu.Lock()
	for k := range db.vecs {
		if k.scope == string(scope) {
			delete(db.vecs, k)
		}
	}
	db.vecMu.Unlock()
}

// incarnations tells which stored vector writes of a scope belong to the
// collection a graph is built for. A collection dropped and created again
// with another configuration has records of other dimensions or metrics
// under the same keys: a graph holds only its configuration's, and takes
// the others as deletions (each replaced or removed what the key held).
type incarnations struct {
	cfgs []cfgWrite // the scope's writes of the configuration, oldest first
	// inherited reports whether records written before the scope's first
	// configuration write (a fork's, under its base's collection) are the
	// graph's.
	inherited func() bool
}

type cfgWrite struct {
	version uint64
	ours    bool // live and the graph's configuration
}

// ours reports whether a record written at version is the graph's.
func (inc *incarnations) ours(version uint64) bool {
	if inc == nil {
		return true // one incarnation: every write is the graph's
	}
	i, found := slices.BinarySearchFunc(inc.cfgs, version, func(w cfgWrite, v uint64) int { return cmp.Compare(w.version, v) })
	switch {
	case found:
		return inc.cfgs[i].ours
	case i > 0:
		return inc.cfgs[i-1].ours
	}
	return inc.inherited()
}

// incarnationsOf reads the history of coll's configuration in scope up to
// snap, or returns nil when every record there is cfg's: the
// configuration was never written (a fork's inherited collection), or
// written once, as cfg, and never dropped.
func (db *DB) incarnationsOf(g *engine.Generation, scope []byte, coll string, snap uint64, cfg VectorConfig) *incarnations {
	key := append(append([]byte(nil), scope...), keys.TagVector)
	key = append(key, vecConfigKey(coll)...)
	var ws []cfgWrite
	it := db.iterScope(g, scope)
	defer it.Close()
	for it.SeekGE(key, ^uint64(0)); it.Valid() && bytes.Equal(it.Key(), key); it.Next() {
		if it.Version() > snap {
			continue
		}
		w := cfgWrite{version: it.Version()}
		if user, live := engine.DecodeValue(it.Value(), nil); live {
			var c VectorConfig
			w.ours = json.Unmarshal(user, &c) == nil && c == cfg
		}
		ws = append(ws, w)
	}
	if len(ws) == 0 || len(ws) == 1 && ws[0].ours {
		return nil
	}
	slices.Reverse(ws)
	inc := &incarnations{cfgs: ws}
	inc.inherited = sync.OnceValue(func() bool {
		c, ok := db.inheritedVecConfig(g, scope, coll)
		return !ok || c == cfg // none known: nothing was written under it
	})
	return inc
}

// inheritedVecConfig returns the configuration of coll that the fork whose
// scope is scope inherited from its bases, if any.
func (db *DB) inheritedVecConfig(g *engine.Generation, scope []byte, coll string) (VectorConfig, bool) {
	var bases []forkBase
	db.runsMu.RLock()
	for _, rs := range db.runs {
		if bytes.Equal(rs.scope, scope) {
			bases = rs.bases
			break
		}
	}
	db.runsMu.RUnlock()
	for _, b := range bases {
		k := append(append([]byte(nil), b.scope...), keys.TagVector)
		raw, _, found, err := db.rawGet(g, b.scope, append(k, vecConfigKey(coll)...), b.version)
		if err != nil || !found {
			continue
		}
		var c VectorConfig
		user, live := engine.DecodeValue(raw, nil)
		if !live || json.Unmarshal(user, &c) != nil {
			return c, false
		}
		return c, true
	}
	return VectorConfig{}, false
}
