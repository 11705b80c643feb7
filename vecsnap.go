package inmem

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/inmem-db/inmem/hnsw"
	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/keys"
	"github.com/inmem-db/inmem/wal"
)

// A snapshot carries the graphs of shared scopes' vector collections, so
// that recovery loads them instead of rebuilding them from the stored
// vectors (rebuilding costs a graph insert per vector; loading, a copy).
// One record per collection, after the entries:
//
//	scopeLen uvarint scope | collLen uvarint coll | cfgLen uvarint cfg JSON |
//	nodes uvarint | (keyLen uvarint key | metaLen uvarint meta JSON)* | graph
//
// graph is the hnsw encoding as of the snapshot's version (later inserts
// invisible, later deletes undone); node i of the lists is graph id i.
// The WAL after the snapshot is applied on top at recovery, and the graph
// is then checked against the stored vectors, so a graph that missed an
// update is mended, not trusted. The record type is in internal/engine/records.go.

// encodeVecIndex encodes vi as of version horizon.
func encodeVecIndex(scope []byte, coll string, cfg VectorConfig, vi *vecIndex, horizon uint64) ([]byte, error) {
	// No vacuum between the graph and the lists: one could free an id
	// and a write reuse it for another key in between.
	vi.vac.mu.Lock()
	defer vi.vac.mu.Unlock()
	// The graph first: every node in it has its key in byID already
	// (upsert sets the key before inserting).
	graph, err := vi.idx.MarshalBinaryAt(horizon)
	if err != nil {
		return nil, err
	}
	cj, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	b := binary.AppendUvarint(nil, uint64(len(scope)))
	b = append(b, scope...)
	b = binary.AppendUvarint(b, uint64(len(coll)))
	b = append(b, coll...)
	b = binary.AppendUvarint(b, uint64(len(cj)))
	b = append(b, cj...)
	vi.mu.RLock()
	nodes := slices.Clone(vi.byID) // a reused id's slot is rewritten in place
	vi.mu.RUnlock()
	b = binary.AppendUvarint(b, uint64(len(nodes)))
	for _, n := range nodes {
		b = binary.AppendUvarint(b, uint64(len(n.key)))
		b = append(b, n.key...)
		var mj []byte
		if len(n.meta) > 0 {
			if mj, err = json.Marshal(n.meta); err != nil {
				return nil, err
			}
		}
		b = binary.AppendUvarint(b, uint64(len(mj)))
		b = append(b, mj...)
	}
	return append(b, graph...), nil
}

var errVecRecord = errors.New("bad vector graph record")

// decodeVecIndex decodes a record written by encodeVecIndex into a built
// index.
func decodeVecIndex(p []byte) (scope []byte, coll string, cfg VectorConfig, vi *vecIndex, err error) {
	next := func() ([]byte, bool) {
		n, k := binary.Uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return nil, false
		}
		out := p[k : k+int(n)]
		p = p[k+int(n):]
		return out, true
	}
	s, ok1 := next()
	c, ok2 := next()
	cj, ok3 := next()
	if !ok1 || !ok2 || !ok3 || keys.ScopeLen(s) != len(s) {
		return nil, "", cfg, nil, errVecRecord
	}
	if err := json.Unmarshal(cj, &cfg); err != nil {
		return nil, "", cfg, nil, fmt.Errorf("%w: config: %v", errVecRecord, err)
	}
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)) {
		return nil, "", cfg, nil, errVecRecord
	}
	p = p[k:]
	vi = &vecIndex{byKey: map[string]vecEntry{}, byID: make([]vecNode, 0, n), built: closed}
	for range n {
		key, ok := next()
		mj, ok2 := next()
		if !ok || !ok2 {
			return nil, "", cfg, nil, errVecRecord
		}
		node := vecNode{key: string(key)}
		if len(mj) > 0 {
			if err := json.Unmarshal(mj, &node.meta); err != nil {
				return nil, "", cfg, nil, fmt.Errorf("%w: metadata: %v", errVecRecord, err)
			}
		}
		vi.byID = append(vi.byID, node)
	}
	idx := new(hnsw.Index)
	if err := idx.UnmarshalBinary(p); err != nil {
		return nil, "", cfg, nil, fmt.Errorf("%w: %v", errVecRecord, err)
	}
	if got := idx.Config(); got.Dim != cfg.Dim || got.Metric != cfg.Metric {
		return nil, "", cfg, nil, fmt.Errorf("%w: graph of dim %d does not match its collection's %d", errVecRecord, got.Dim, cfg.Dim)
	}
	vi.idx = idx
	// Each key's entry is its live node if it has one (at most one is
	// live as of the encoding's version), else the deletion of its last
	// one: ids say nothing of age once vacuumed ones are reused, and a
	// mended node may be older than the one it replaced. Ids without a
	// node are free again.
	nodes := 0
	for id := range vi.byID {
		ins, del, ok := idx.Versions(uint32(id))
		if !ok {
			vi.byID[id] = vecNode{}
			vi.free = append(vi.free, uint32(id))
			continue
		}
		nodes++
		if del == ins {
			continue // never visible
		}
		key := vi.byID[id].key
		e := vecEntry{id: uint32(id), version: ins, ready: closed}
		if del != 0 {
			e.version, e.deleted = del, true
		}
		if cur, seen := vi.byKey[key]; seen && (!cur.deleted || e.deleted && cur.version > e.version) {
			continue
		}
		vi.byKey[key] = e
	}
	if all := idx.Len() + idx.Deleted(); nodes != all {
		// A node past the lists has no key: a search that found it would
		// look it up past the end of byID, and an insert given its id fail.
		return nil, "", cfg, nil, fmt.Errorf("%w: graph of %d nodes, %d of them in the lists", errVecRecord, all, nodes)
	}
	slices.Reverse(vi.free) // lowest ids are handed out first
	return s, string(c), cfg, vi, nil
}

// vectorRecords encodes the built graphs of shared scopes as of version and
// hands each to emit as soon as it is encoded, so a checkpoint holds one
// graph's encoding at a time, not every collection's at once.
func (db *DB) vectorRecords(version uint64, emit func(rec []byte) error) error {
	shared := map[string]bool{}
	db.runsMu.RLock()
	for _, rs := range db.shared {
		shared[string(rs.scope)] = true
	}
	db.runsMu.RUnlock()
	type built struct {
		k  vecIndexKey
		vi *vecIndex
	}
	var todo []built
	db.vecMu.Lock()
	for k, vi := range db.vecs {
		if shared[k.scope] {
			todo = append(todo, built{k, vi})
		}
	}
	db.vecMu.Unlock()
	for _, b := range todo {
		<-b.vi.built
		if b.vi.err != nil {
			continue
		}
		rec, err := encodeVecIndex([]byte(b.k.scope), b.k.coll, b.vi.cfg, b.vi, version)
		if err != nil {
			return fmt.Errorf("vector graph %q: %w", b.k.coll, err)
		}
		if len(rec) > wal.MaxRecord {
			// Too big for one record: recovery rebuilds this one.
			db.opts.logger.Warn("vector graph too large for the snapshot; it will be rebuilt after a restart", "collection", b.k.coll, "bytes", len(rec))
			continue
		}
		if err := emit(rec); err != nil {
			return err
		}
	}
	return nil
}

// loadVectorRecords installs the graphs a snapshot carried. A record that
// does not decode is logged and dropped: the graph is rebuilt from the
// stored vectors on first use, so nothing is lost.
func (db *DB) loadVectorRecords(recs [][]byte) {
	for _, p := range recs {
		scope, coll, cfg, vi, err := decodeVecIndex(p)
		if err != nil {
			db.opts.logger.Warn("snapshot vector graph not used; it will be rebuilt", "error", err)
			continue
		}
		vi.cfg = cfg
		db.vecs[vecIndexKey{string(scope), coll}] = vi
		db.vecLoads.Add(1)
	}
}

// applyRaw applies one stored vector value (header included) to the graph.
func (vi *vecIndex) applyRaw(key string, raw []byte, version uint64) error {
	user, live := engine.DecodeValue(raw, nil) // vectors never expire
	if !live {
		return vi.remove(key, version)
	}
	v, meta, err := decodeVecRecord(vi.cfg.Dim, user)
	if err != nil {
		return err
	}
	return vi.upsert(key, v, meta, version)
}

// mendVectors checks every loaded graph against the stored vectors at the
// visible version and applies what it missed or holds extra, at that
// version: shared scopes keep no history, so only searches from now on
// matter.
func (db *DB) mendVectors() error {
	g, snap := db.store.ReadAt()
	for k, vi := range db.vecs {
		prefix := append([]byte(k.scope), keys.TagVector)
		prefix = append(prefix, vecRecordPrefix(k.coll)...)
		seen := map[string]bool{}
		var ferr error
		g.ScanFrom(prefix, prefix, snap, nil, func(key, val []byte, ver uint64) bool {
			name := string(key[len(prefix):])
			seen[name] = true
			if e, ok := vi.byKey[name]; ok && !e.deleted && e.version == ver {
				return true
			}
			db.vecMends.Add(1)
			v, meta, err := decodeVecRecord(vi.cfg.Dim, val)
			if err == nil {
				err = vi.force(name, v, meta, ver, snap)
			}
			ferr = err
			return err == nil
		})
		if ferr != nil {
			return ferr
		}
		for name, e := range vi.byKey {
			if !e.deleted && !seen[name] {
				db.vecMends.Add(1)
				if err := vi.force(name, nil, nil, snap, snap); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// force makes key's entry vec (nil: absent) for searches at version and
// later, whatever versions the graph holds for it. The new node is
// inserted at stored, the version of the stored write it stands for, as
// every node is (searches check matches against the store by it).
func (vi *vecIndex) force(key string, vec []float32, meta map[string]any, stored, version uint64) error {
	vi.mu.Lock()
	defer vi.mu.Unlock()
	old, had := vi.byKey[key]
	if had && !old.deleted {
		if ins, del, ok := vi.idx.Versions(old.id); ok && (del == 0 || del > version) && ins <= version {
			if err := vi.idx.Delete(old.id, version); err != nil {
				return err
			}
		}
	}
	if vec == nil {
		vi.byKey[key] = vecEntry{id: old.id, version: version, deleted: true, ready: closed}
		return nil
	}
	return vi.addNodeLocked(key, vec, meta, stored)
}
