package inmem

import (
	"bytes"
	"slices"

	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/keys"
)

// buildHistory fills an empty index with every version at or below snap of
// the vectors under prefix: each stored version becomes a node inserted at
// its version and deleted at the version that replaced or deleted it, so
// a search at any snapshot sees exactly the vectors live then. When the
// collection was dropped and made again, only the writes inc says are this
// graph's insert vectors; every other write deletes what its key held (a
// nil inc: every write is the graph's). The index lock is held by the
// caller.
func (vi *vecIndex) buildHistory(it *scopeIter, prefix []byte, snap uint64, dim int, inc *incarnations) error {
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
			user, live := engine.DecodeValue(x.raw, nil) // vectors never expire
			if had && !old.deleted {
				if err := vi.idx.Delete(old.id, x.v); err != nil {
					return err
				}
			}
			if !live || !inc.ours(x.v) {
				vi.byKey[key] = vecEntry{id: old.id, version: x.v, deleted: true, ready: closed}
				continue
			}
			v, meta, err := decodeVecRecord(dim, user)
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
	if err := it.Err(); err != nil {
		return err
	}
	return flush()
}

// searchLayers searches a collection as the transaction sees it: the
// scope's own vectors at its snapshot and, for a fork, each base's at the
// fork's version, where a key the nearer layers hold (live or deleted)
// hides the base's vector. The layers' best matches are merged.
func (db *DB) searchLayers(tx *Tx, coll string, cfg VectorConfig, q []float32, k int, sc searchConfig) ([]Match, error) {
	rs := tx.rs
	own, err := db.vectorIndex(rs.scope, !rs.Shared, coll, cfg)
	if err != nil {
		return nil, err
	}
	out, err := own.searchChecked(q, k, sc, tx.snapshot, nil, db.unappliedCheck(tx, coll))
	if err != nil || len(rs.bases) == 0 {
		return out, err
	}
	rec := vecRecordPrefix(coll)
	layerKey := func(buf []byte, scope []byte, key string) []byte {
		buf = append(append(buf[:0], scope...), keys.TagVector)
		return append(append(buf, rec...), key...)
	}
	for i, b := range rs.bases {
		bi, err := db.vectorIndex(b.scope, true, coll, cfg)
		if err != nil {
			return nil, err
		}
		var buf []byte
		hidden := func(key string) bool {
			buf = layerKey(buf, rs.scope, key)
			_, _, found, err := db.rawGet(tx.gen, rs.scope, buf, tx.snapshot)
			if err != nil {
				tx.failRead(err)
			}
			if found {
				return true
			}
			for _, nb := range rs.bases[:i] {
				buf = layerKey(buf, nb.scope, key)
				_, _, found, err := db.rawGet(tx.gen, nb.scope, buf, nb.version)
				if err != nil {
					tx.failRead(err)
				}
				if found {
					return true
				}
			}
			return false
		}
		res, err := bi.search(q, k, sc, b.version, hidden)
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
	}
	slices.SortStableFunc(out, func(a, b Match) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
	return out[:min(k, len(out))], nil
}

// unappliedCheck returns a check for searchChecked that turns away matches
// the transaction's snapshot does not hold, or nil when there can be none.
//
// A commit publishes its writes before it applies its vector writes to the
// graphs, so a search at a snapshot that includes a commit may run before
// the graph has it: a vector replaced or deleted at the snapshot would
// still be found there. The check compares each match with the store at
// the snapshot: the key's write there must be the one the node was
// inserted for (nodes are inserted at their write's commit version).
// Every write at or below the oracle's watermark is applied already (the
// committing transaction stays registered until its writes reached the
// graphs), so a snapshot at or below it needs no check: the usual case for
// readers of a collection nobody is writing to.
func (db *DB) unappliedCheck(tx *Tx, coll string) func(key string, version uint64) bool {
	if tx.snapshot <= db.store.Oracle.Watermark() {
		return nil
	}
	prefix := append(append([]byte(nil), tx.rs.scope...), keys.TagVector)
	prefix = append(prefix, vecRecordPrefix(coll)...)
	buf := prefix
	return func(key string, version uint64) bool {
		buf = append(buf[:len(prefix)], key...)
		_, ver, found, err := db.rawGet(tx.gen, tx.rs.scope, buf, tx.snapshot)
		if err != nil {
			tx.failRead(err)
		}
		return found && ver == version
	}
}
