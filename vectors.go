package inmem

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/inmem-db/inmem/hnsw"
	"github.com/inmem-db/inmem/internal/keys"
	"github.com/inmem-db/inmem/primitives"
)

// Metric is how a vector collection measures similarity. Scores are
// higher-is-better for every metric.
type Metric = hnsw.Metric

// Metrics.
const (
	// Cosine: score is the cosine similarity in [-1, 1]; vectors are
	// normalised once when stored.
	Cosine = hnsw.Cosine
	// Euclidean: score is the negative Euclidean distance (0 is a match).
	Euclidean = hnsw.Euclidean
	// Dot: score is the inner product.
	Dot = hnsw.Dot
)

// VectorConfig describes a collection: Dim and Metric are required; M,
// EfConstruction and EfSearch default to 16, 200 and 64.
type VectorConfig struct {
	Dim            int
	Metric         Metric
	M              int
	EfConstruction int
	EfSearch       int
}

// VectorRecord is a stored vector with its metadata.
type VectorRecord struct {
	Key     string
	Vector  []float32
	Meta    map[string]any
	Version uint64 // commit version that wrote it; 0 for the reading transaction's own write
}

// Match is one search result.
type Match struct {
	Key   string
	Score float32
	Meta  map[string]any
}

// SearchOption tunes Vectors.Search.
type SearchOption func(*searchConfig)

type searchConfig struct {
	filter *Filter
	ef     int
}

// Where keeps only vectors whose metadata f matches. Filtered search keeps
// its recall: the graph walk goes through non-matching vectors without
// returning them, widening until it has k matches.
func Where(f Filter) SearchOption { return func(c *searchConfig) { c.filter = &f } }

// Ef sets the search beam width (default: the collection's EfSearch).
func Ef(n int) SearchOption { return func(c *searchConfig) { c.ef = n } }

// Vectors holds the vector collections of a run, shared scope or
// transaction. Vectors and metadata are stored (and logged) like every
// other write; each collection's HNSW graph lives in memory and is built
// from the stored vectors when first used after Open.
type Vectors struct{ h prim }

// Vectors returns the run's vector collections.
func (r *Run) Vectors() *Vectors { return &Vectors{prim{run: r, tag: keys.TagVector}} }

// Vectors returns the vector collections of the transaction's run.
func (tx *Tx) Vectors() *Vectors {
	tx.vectors.h = prim{tx: tx, tag: keys.TagVector}
	return &tx.vectors
}

const (
	vecConfig = 'c' // + len-prefixed collection -> JSON VectorConfig
	vecRecord = 'r' // + len-prefixed collection + key -> dim float32s (LE) | JSON meta
)

func lenPrefixed(s string) []byte {
	b := binary.AppendUvarint(make([]byte, 0, len(s)+2), uint64(len(s)))
	return append(b, s...)
}

func vecConfigKey(coll string) []byte { return append([]byte{vecConfig}, lenPrefixed(coll)...) }

func vecRecordPrefix(coll string) []byte { return append([]byte{vecRecord}, lenPrefixed(coll)...) }

func checkCollection(name string) error {
	if name == "" {
		return fmt.Errorf("empty collection name: %w", ErrInvalidArgument)
	}
	if len(name) > primitives.MaxName {
		return fmt.Errorf("collection name of %d bytes (max %d): %w", len(name), primitives.MaxName, ErrTooLarge)
	}
	return nil
}

func readVecConfig(t primitives.Txn, coll string) (VectorConfig, error) {
	var cfg VectorConfig
	v, ok := t.Get(vecConfigKey(coll))
	if !ok {
		return cfg, fmt.Errorf("collection %q: %w", coll, ErrNotFound)
	}
	if m := vecConfigs.Load(); m != nil {
		if cfg, ok := (*m)[string(v)]; ok {
			return cfg, nil
		}
	}
	if err := json.Unmarshal(v, &cfg); err != nil {
		return cfg, fmt.Errorf("collection %q: config: %v: %w", coll, err, ErrCorruption)
	}
	cacheVecConfig(v, cfg)
	return cfg, nil
}

// vecConfigs maps a stored collection config to its decoded form. Every
// search and upsert reads its collection's config, and decoding the JSON
// each time cost about 5 us of a 130 us search (100k x 128, ef 32). The
// key is the stored bytes themselves, so a cached entry is right for any
// database holding them; the map is replaced, never changed, so readers
// take no lock.
var (
	vecConfigs   atomic.Pointer[map[string]VectorConfig]
	vecConfigsMu sync.Mutex
)

// vecConfigsMax bounds the cache: configs differ only in a few numbers,
// so real workloads have a handful; past the bound they are decoded.
const vecConfigsMax = 256

func cacheVecConfig(raw []byte, cfg VectorConfig) {
	vecConfigsMu.Lock()
	defer vecConfigsMu.Unlock()
	old := vecConfigs.Load()
	n := 0
	if old != nil {
		n = len(*old)
	}
	if n >= vecConfigsMax {
		return
	}
	m := make(map[string]VectorConfig, n+1)
	if old != nil {
		maps.Copy(m, *old)
	}
	m[string(raw)] = cfg
	vecConfigs.Store(&m)
}

// CreateCollection creates a collection; ErrExists if it exists.
func (vs *Vectors) CreateCollection(name string, cfg VectorConfig) error {
	if err := checkCollection(name); err != nil {
		return err
	}
	if err := (hnsw.Config{Dim: cfg.Dim, Metric: cfg.Metric, M: cfg.M, EfConstruction: cfg.EfConstruction, EfSearch: cfg.EfSearch}).Check(); err != nil {
		var ce *hnsw.ConfigError
		if errors.As(err, &ce) {
			return fmt.Errorf("collection %q: %s: %w", name, ce.Reason, ErrInvalidArgument)
		}
		return fmt.Errorf("collection %q: %w", name, err)
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	return vs.h.do(true, func(t primitives.Txn) error {
		if _, ok := t.Get(vecConfigKey(name)); ok {
			return fmt.Errorf("collection %q: %w", name, ErrExists)
		}
		return t.Put(vecConfigKey(name), b)
	})
}

// DropCollection removes a collection: its configuration and every vector
// in it, in one commit; ErrNotFound if it does not exist. The name is free
// again for a CreateCollection with any configuration. A run's earlier
// steps still hold the collection (AsOf and Fork before the drop see it).
// The drop writes a deletion per vector, so a collection too large for one
// transaction (MaxTxSize) returns ErrTooLarge and stays.
func (vs *Vectors) DropCollection(name string) error {
	if err := checkCollection(name); err != nil {
		return err
	}
	return vs.h.do(true, func(t primitives.Txn) error {
		cfg, err := readVecConfig(t, name)
		if err != nil {
			return err
		}
		var recs [][]byte
		t.Scan(vecRecordPrefix(name), nil, func(k, _ []byte) bool {
			recs = append(recs, append([]byte(nil), k...))
			return true
		})
		for _, k := range recs {
			if err := t.Delete(k); err != nil {
				return err
			}
		}
		if err := t.Delete(vecConfigKey(name)); err != nil {
			return err
		}
		pt := t.(*primTx)
		pt.tx.onCommit(vecApply{scope: string(pt.tx.rs.scope), coll: name, drop: true, cfg: cfg})
		return nil
	})
}

// CollectionInfo names a collection and its configuration.
type CollectionInfo struct {
	Name   string
	Config VectorConfig
}

// Collections lists the collections, by name.
func (vs *Vectors) Collections() ([]CollectionInfo, error) {
	var out []CollectionInfo
	err := vs.h.do(false, func(t primitives.Txn) error {
		var ferr error
		t.Scan([]byte{vecConfig}, nil, func(k, v []byte) bool {
			n, w := binary.Uvarint(k[1:])
			if w <= 0 || n != uint64(len(k)-1-w) {
				ferr = fmt.Errorf("collection key %q: %w", k, ErrCorruption)
				return false
			}
			c := CollectionInfo{Name: string(k[1+w:])}
			if err := json.Unmarshal(v, &c.Config); err != nil {
				ferr = fmt.Errorf("collection %q: config: %v: %w", c.Name, err, ErrCorruption)
				return false
			}
			out = append(out, c)
			return true
		})
		return ferr
	})
	slices.SortFunc(out, func(a, b CollectionInfo) int { return cmp.Compare(a.Name, b.Name) })
	return out, err
}

// checkVector validates v for cfg before anything is stored.
func checkVector(cfg VectorConfig, v []float32) error {
	if len(v) != cfg.Dim {
		return fmt.Errorf("vector of dimension %d, collection has %d: %w", len(v), cfg.Dim, ErrInvalidArgument)
	}
	var sq float64
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("vector component %d is %v: %w", i, x, ErrInvalidArgument)
		}
		sq += float64(x) * float64(x)
	}
	if cfg.Metric == Cosine && sq == 0 {
		return fmt.Errorf("zero vector under cosine: %w", ErrInvalidArgument)
	}
	return nil
}

func encodeVecRecord(v []float32, meta []byte) []byte {
	b := make([]byte, 4*len(v), 4*len(v)+len(meta))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return append(b, meta...)
}

func decodeVecRecord(dim int, b []byte) ([]float32, map[string]any, error) {
	if len(b) < 4*dim {
		return nil, nil, fmt.Errorf("vector record of %d bytes: %w", len(b), ErrCorruption)
	}
	v := make([]float32, dim)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	var meta map[string]any
	if rest := b[4*dim:]; len(rest) > 0 {
		if err := json.Unmarshal(rest, &meta); err != nil {
			return nil, nil, fmt.Errorf("vector metadata: %v: %w", err, ErrCorruption)
		}
	}
	return v, meta, nil
}

// Upsert stores vec and meta under key, replacing what was there. Meta
// values are kept as JSON (numbers come back as float64).
func (vs *Vectors) Upsert(coll, key string, vec []float32, meta map[string]any) error {
	if err := checkCollection(coll); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	var mb []byte
	if len(meta) > 0 {
		var err error
		if mb, err = json.Marshal(meta); err != nil {
			return fmt.Errorf("vector metadata: %v: %w", err, ErrInvalidArgument)
		}
	}
	vec = append([]float32(nil), vec...)
	return vs.h.do(true, func(t primitives.Txn) error {
		cfg, err := readVecConfig(t, coll)
		if err != nil {
			return err
		}
		if err := checkVector(cfg, vec); err != nil {
			return err
		}
		rec := encodeVecRecord(vec, mb)
		if err := checkValue(rec); err != nil {
			return err
		}
		pt := t.(*primTx)
		if err := t.Put(append(vecRecordPrefix(coll), key...), rec); err != nil {
			return err
		}
		pt.tx.onCommit(vecApply{scope: string(pt.tx.rs.scope), coll: coll, key: key, vec: vec, meta: mb, cfg: cfg})
		return nil
	})
}

// Get returns the stored vector and metadata of key, or ErrNotFound.
func (vs *Vectors) Get(coll, key string) (VectorRecord, error) {
	var rec VectorRecord
	err := vs.h.do(false, func(t primitives.Txn) error {
		cfg, err := readVecConfig(t, coll)
		if err != nil {
			return err
		}
		b, ok := t.Get(append(vecRecordPrefix(coll), key...))
		if !ok {
			return fmt.Errorf("vector %q in %q: %w", key, coll, ErrNotFound)
		}
		v, meta, err := decodeVecRecord(cfg.Dim, b)
		rec = VectorRecord{Key: key, Vector: v, Meta: meta}
		return err
	})
	return rec, err
}

// List returns every record of the collection in key order, or
// ErrNotFound if there is no such collection. Through a Tx it sees the
// transaction's own writes; through a View, the records as of its step.
func (vs *Vectors) List(coll string) ([]VectorRecord, error) {
	var out []VectorRecord
	err := vs.h.do(false, func(t primitives.Txn) error {
		out = out[:0]
		cfg, err := readVecConfig(t, coll)
		if err != nil {
			return err
		}
		prefix := vecRecordPrefix(coll)
		var ferr error
		t.Scan(prefix, nil, func(k, v []byte) bool {
			key := string(k[len(prefix):])
			vec, meta, err := decodeVecRecord(cfg.Dim, v)
			if err != nil {
				ferr = fmt.Errorf("vector %q in %q: %w", key, coll, err)
				return false
			}
			out = append(out, VectorRecord{Key: key, Vector: vec, Meta: meta})
			return true
		})
		return ferr
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete removes key from the collection. An absent key is not an error.
func (vs *Vectors) Delete(coll, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return vs.h.do(true, func(t primitives.Txn) error {
		cfg, err := readVecConfig(t, coll)
		if err != nil {
			return err
		}
		k := append(vecRecordPrefix(coll), key...)
		if _, ok := t.Get(k); !ok {
			return nil
		}
		pt := t.(*primTx)
		if err := t.Delete(k); err != nil {
			return err
		}
		pt.tx.onCommit(vecApply{scope: string(pt.tx.rs.scope), coll: coll, key: key, del: true, cfg: cfg})
		return nil
	})
}

// Search returns the k stored vectors most similar to query that the
// options allow, best first, as of the reading transaction's snapshot
// plus its own writes: what it upserted is scored exactly, and what it
// deleted or replaced is not returned from the snapshot.
func (vs *Vectors) Search(coll string, query []float32, k int, opts ...SearchOption) ([]Match, error) {
	if k <= 0 {
		return nil, fmt.Errorf("search with k = %d: %w", k, ErrInvalidArgument)
	}
	var sc searchConfig
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("search: nil option: %w", ErrInvalidArgument)
		}
		o(&sc)
	}
	if sc.filter != nil {
		if err := sc.filter.check(); err != nil {
			return nil, err
		}
	}
	if sc.ef < 0 {
		return nil, fmt.Errorf("search with ef = %d: %w", sc.ef, ErrInvalidArgument)
	}
	var out []Match
	err := vs.h.do(false, func(t primitives.Txn) error {
		cfg, err := readVecConfig(t, coll)
		if err != nil {
			return err
		}
		if err := checkVector(cfg, query); err != nil {
			return fmt.Errorf("query: %w", err)
		}
		tx := t.(*primTx).tx
		own, err := tx.ownVectors(coll, cfg)
		if err != nil {
			return err
		}
		if own == nil {
			out, err = tx.db.searchLayers(tx, coll, cfg, query, k, sc)
			return err
		}
		if !own.created {
			// k more, one per key the transaction wrote: the graph may
			// return those keys' committed vectors, which its writes hide.
			graph, err := tx.db.searchLayers(tx, coll, cfg, query, k+len(own.written), sc)
			if err != nil {
				return err
			}
			for _, m := range graph {
				if !own.written[m.Key] {
					out = append(out, m)
				}
			}
		}
		mine, err := own.search(cfg, query, k, sc)
		if err != nil {
			return err
		}
		out = append(out, mine...)
		slices.SortStableFunc(out, func(a, b Match) int { return cmp.Compare(b.Score, a.Score) })
		out = out[:min(k, len(out))]
		return nil
	})
	return out, err
}

// ownVectors are a transaction's uncommitted writes to a collection, which
// its searches see as Get does; the graph holds committed writes only.
type ownVectors struct {
	created bool            // the transaction created the collection: nothing committed is in it
	written map[string]bool // every key it upserted or deleted
	live    []VectorRecord  // what it upserted, in write order
}

// ownVectors returns the transaction's writes to coll, or nil when it has
// none (the usual case: a read-only transaction has none at all).
func (tx *Tx) ownVectors(coll string, cfg VectorConfig) (*ownVectors, error) {
	if len(tx.writes) == 0 {
		return nil, nil
	}
	scoped := func(k []byte) []byte {
		return append(append(append([]byte(nil), tx.rs.scope...), keys.TagVector), k...)
	}
	prefix, cfgKey := scoped(vecRecordPrefix(coll)), scoped(vecConfigKey(coll))
	var own ownVectors
	_, own.created = tx.find(cfgKey)
	for _, w := range tx.writes {
		if !bytes.HasPrefix(w.key, prefix) {
			continue
		}
		key := string(w.key[len(prefix):])
		if own.written == nil {
			own.written = map[string]bool{}
		}
		own.written[key] = true
		user, live := decodeValue(w.val, nil)
		if !live {
			continue
		}
		v, meta, err := decodeVecRecord(cfg.Dim, user)
		if err != nil {
			return nil, err
		}
		own.live = append(own.live, VectorRecord{Key: key, Vector: v, Meta: meta})
	}
	if own.written == nil && !own.created {
		return nil, nil
	}
	return &own, nil
}

// search scores the transaction's vectors that the filter allows against
// q exactly, with a graph of their own so the scores are the collection's.
func (own *ownVectors) search(cfg VectorConfig, q []float32, k int, sc searchConfig) ([]Match, error) {
	var recs []VectorRecord
	for _, r := range own.live {
		if sc.filter == nil || sc.filter.match(r.Meta) {
			recs = append(recs, r)
		}
	}
	if len(recs) == 0 {
		return nil, nil
	}
	idx, err := hnsw.New(hnsw.Config{Dim: cfg.Dim, Metric: cfg.Metric, M: cfg.M, EfConstruction: cfg.EfConstruction, EfSearch: cfg.EfSearch})
	if err != nil {
		return nil, fmt.Errorf("search: %v: %w", err, ErrInvalidArgument)
	}
	all := make([]uint32, len(recs))
	for i, r := range recs {
		all[i] = uint32(i)
		if err := idx.Insert(uint32(i), r.Vector, 1); err != nil {
			return nil, fmt.Errorf("search: %v: %w", err, ErrInvalidArgument)
		}
	}
	res, err := idx.Search(q, k, hnsw.SearchOptions{Ef: sc.ef, Snapshot: 1, Allowed: all})
	if err != nil {
		return nil, fmt.Errorf("search: %v: %w", err, ErrInvalidArgument)
	}
	out := make([]Match, len(res))
	for i, r := range res {
		out[i] = Match{Key: recs[r.ID].Key, Score: r.Score, Meta: recs[r.ID].Meta}
	}
	return out, nil
}

// vecApply is a committed vector write, applied to the in-memory index
// after the commit with the commit's version.
type vecApply struct {
	scope, coll string
	key         string
	vec         []float32
	meta        []byte
	del         bool
	drop        bool // the collection was dropped: forget its graph
	cfg         VectorConfig
}

// vecIndex is one collection's graph and the maps between its node ids and
// keys.
type vecIndex struct {
	cfg   VectorConfig
	mu    sync.RWMutex  // Lock: build and map changes; RLock: search (its filter reads byID)
	built chan struct{} // closed once the first build finished
	err   error         // the build's failure, set before built is closed
	idx   *hnsw.Index
	byKey map[string]vecEntry
	byID  []vecNode
	free  []uint32 // graph ids a vacuum freed, for the next nodes

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
	g, snap := db.store.readAt()
	prefix := append(append([]byte(nil), scope...), keys.TagVector)
	prefix = append(prefix, vecRecordPrefix(coll)...)
	var berr error
	inc := db.incarnationsOf(g, scope, coll, snap, cfg)
	switch {
	case history && inc == nil:
		berr = vi.buildHistory(g, prefix, snap, cfg.Dim)
	case history:
		berr = vi.buildIncarnation(g, prefix, snap, inc)
	default:
		g.scan(prefix, snap, db.opts.clock, func(key, val []byte, ver uint64) bool {
			if inc != nil && !inc.ours(ver) {
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

// applyVector brings a built index up to a commit. Collections not built
// yet need nothing: the build reads the stored vectors.
func (db *DB) applyVector(a vecApply, version uint64) {
	db.vecMu.Lock()
	vi, ok := db.vecs[vecIndexKey{a.scope, a.coll}]
	db.vecMu.Unlock()
	if !ok {
		return
	}
	<-vi.built
	if vi.err != nil {
		return
	}
	k := vecIndexKey{a.scope, a.coll}
	if a.drop || vi.cfg != a.cfg {
		// The collection is gone, or the graph is of an incarnation this
		// write is not in; the next search builds what it needs.
		db.evictVectorIndex(k, vi)
		return
	}
	var err error
	if a.del {
		err = vi.remove(a.key, version)
	} else {
		var meta map[string]any
		if len(a.meta) > 0 {
			_ = json.Unmarshal(a.meta, &meta) // marshalled by Upsert: cannot fail
		}
		err = vi.upsert(a.key, a.vec, meta, version)
	}
	if err == nil {
		db.maybeVacuum(k, vi)
		return
	}
	// The stored data is committed; only the in-memory graph missed it.
	// Rebuild it on next use.
	db.opts.logger.Error("vector index update failed; rebuilding", "collection", a.coll, "error", err)
	db.evictVectorIndex(k, vi)
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
func (db *DB) incarnationsOf(g *generation, scope []byte, coll string, snap uint64, cfg VectorConfig) *incarnations {
	key := append(append([]byte(nil), scope...), keys.TagVector)
	key = append(key, vecConfigKey(coll)...)
	var ws []cfgWrite
	it := g.list.Iter()
	for it.SeekGE(key, ^uint64(0)); it.Valid() && bytes.Equal(it.Key(), key); it.Next() {
		if it.Version() > snap {
			continue
		}
		w := cfgWrite{version: it.Version()}
		if user, live := decodeValue(it.Value(), nil); live {
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
func (db *DB) inheritedVecConfig(g *generation, scope []byte, coll string) (VectorConfig, bool) {
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
		raw, _, found := g.list.Get(append(k, vecConfigKey(coll)...), b.version)
		if !found {
			continue
		}
		var c VectorConfig
		user, live := decodeValue(raw, nil)
		if !live || json.Unmarshal(user, &c) != nil {
			return c, false
		}
		return c, true
	}
	return VectorConfig{}, false
}

// buildIncarnation is buildHistory for a scope whose collection was
// dropped: only the writes inc says are the graph's insert vectors; every
// other write deletes what its key held.
func (vi *vecIndex) buildIncarnation(g *generation, prefix []byte, snap uint64, inc *incarnations) error {
	type ver struct {
		v   uint64
		raw []byte
	}
	var (
		cur  []byte
		vers []ver
	)
	flush := func() error {
		if cur == nil {
			return nil
		}
		key := string(cur[len(prefix):])
		slices.Reverse(vers) // oldest first
		for _, x := range vers {
			old, had := vi.byKey[key]
			if had && !old.deleted {
				if err := vi.idx.Delete(old.id, x.v); err != nil {
					return err
				}
			}
			user, live := decodeValue(x.raw, nil) // vectors never expire
			if !live || !inc.ours(x.v) {
				vi.byKey[key] = vecEntry{id: old.id, version: x.v, deleted: true, ready: closed}
				continue
			}
			v, meta, err := decodeVecRecord(vi.cfg.Dim, user)
			if err != nil {
				return err
			}
			id := vi.allocLocked(vecNode{key: key, meta: meta})
			if err := vi.idx.Insert(id, v, x.v); err != nil {
				return err
			}
			vi.byKey[key] = vecEntry{id: id, version: x.v, ready: closed}
		}
		return nil
	}
	it := g.list.Iter()
	for it.SeekGE(prefix, ^uint64(0)); it.Valid(); it.Next() {
		k := it.Key()
		if !bytes.HasPrefix(k, prefix) {
			break
		}
		if !bytes.Equal(k, cur) {
			if err := flush(); err != nil {
				return err
			}
			cur, vers = k, vers[:0]
		}
		if it.Version() <= snap {
			vers = append(vers, ver{it.Version(), it.Value()})
		}
	}
	return flush()
}
