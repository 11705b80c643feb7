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
	"github.com/inmem-db/inmem/internal/engine"
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
		if _, err := readVecConfig(t, name); err != nil {
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
		return t.Delete(vecConfigKey(name))
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
		return t.Put(append(vecRecordPrefix(coll), key...), rec)
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

// Len returns how many records the collection holds, or ErrNotFound if
// there is no such collection: List's length, without decoding a record.
func (vs *Vectors) Len(coll string) (int, error) {
	n := 0
	err := vs.h.do(false, func(t primitives.Txn) error {
		n = 0
		if _, err := readVecConfig(t, coll); err != nil {
			return err
		}
		t.Scan(vecRecordPrefix(coll), nil, func(_, _ []byte) bool {
			n++
			return true
		})
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Delete removes key from the collection. An absent key is not an error.
func (vs *Vectors) Delete(coll, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return vs.h.do(true, func(t primitives.Txn) error {
		if _, err := readVecConfig(t, coll); err != nil {
			return err
		}
		k := append(vecRecordPrefix(coll), key...)
		if _, ok := t.Get(k); !ok {
			return nil
		}
		return t.Delete(k)
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
		if !bytes.HasPrefix(w.Key, prefix) {
			continue
		}
		key := string(w.Key[len(prefix):])
		if own.written == nil {
			own.written = map[string]bool{}
		}
		own.written[key] = true
		user, live := engine.DecodeValue(w.Val, nil)
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
