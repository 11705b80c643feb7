package inmem

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/keys"
)

// The one apply path. A committed record changes the engine's state in two
// ways. Its writes become skiplist entries: the commit links the nodes it
// prepared (engine.Store.Commit) and recovery links the same bytes at the
// same version (engine.Loader). Everything derived from the record is changed by
// the functions of this file, which the commit path and recovery both
// call, with the version and step time the record holds and never the
// applying side's clock:
//
//   - engine.Scope.ApplyStep: a run's step (its count, its step log entry,
//     its last write time); the commit path calls it from the run's guard,
//     inside the critical section, so a step is in the log before its
//     version is visible.
//   - applyRunRecord: a write of a run's record (the run registry, its
//     index, the run's status, compaction point and fork bases), or its
//     tombstone (the run is gone).
//   - applyVectorWrite: a write of a vector or of a collection's
//     configuration, to a graph that is built (or loaded from a snapshot).
//   - applyColdRecord (cold.go): a write of the cold tier's manifest (a
//     run moved to a cold file, or dropped from the tier).
//
// applyRecord is recovery's entry: one WAL record through all three. A
// cluster node applies the raft log the same way (clusterapply.go).

// applyRunRecord brings the registry up to the run record written at
// version v (nil: its tombstone, the run was deleted). rs is the run's
// state, new or registered. A record older than one already applied
// changes nothing, so a late call cannot undo a newer one.
func (db *DB) applyRunRecord(rs *runState, rec *runRecord, v uint64) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if v <= rs.recordAt {
		return
	}
	rs.recordAt = v
	fresh := rs.info.ID.IsZero() // a run this registry has not held yet
	if rec == nil {
		rs.status.Store(uint32(statusDeleted))
		if fresh {
			return
		}
		db.runsMu.Lock()
		if db.runs[rs.id] == rs {
			delete(db.runs, rs.id)
			db.index.remove(&rs.info, rs.info.Status)
		}
		db.runsMu.Unlock()
		db.dropVectors(rs.scope)
		db.release(rs)
		return
	}
	info := rec.RunInfo
	from := rs.info.Status
	// The commit's guard already moved the status; recovery has no guard.
	// A run fenced for deletion stays deleted.
	if RunStatus(rs.status.Load()) != statusDeleted {
		rs.status.Store(uint32(info.Status))
	}
	rs.info = info
	rs.compacted.Store(int64(rec.Compacted))
	rs.Updated.Store(info.UpdatedAt.UnixNano())
	if fresh {
		rs.bases = rec.forkBases()
	}
	db.runsMu.Lock()
	if fresh {
		db.runs[info.ID] = rs
		db.index.add(&info)
	} else if from != info.Status {
		db.index.setStatus(info.ID, from, info.Status)
	}
	db.runsMu.Unlock()
	if rec.Compacted > 0 {
		db.release(rs) // its history is garbage for the next reclaim
	}
}

// applyVectorWrite brings a built graph up to a committed write of key
// (value as stored, header included) at version v: a vector's upsert or
// delete, or a write of its collection's configuration, which makes the
// graph stale (the collection was dropped or made again), so it is
// forgotten and built again on first use. Keys of other primitives change
// nothing. A graph that misses a write is forgotten too, and rebuilt:
// the stored data is committed, only memory missed it. It returns the
// graph a vector was applied to, if any, for the caller's upkeep (a live
// commit may start a vacuum; recovery does not, the database is not open).
func (db *DB) applyVectorWrite(key, val []byte, v uint64) (vecIndexKey, *vecIndex) {
	n := keys.ScopeLen(key)
	if n < 0 || len(key) <= n+1 || key[n] != keys.TagVector {
		return vecIndexKey{}, nil
	}
	scope, rest := key[:n], key[n+1:]
	var coll, name string
	if rest[0] == vecConfig {
		c, ok := collectionOfConfigKey(rest)
		if !ok {
			return vecIndexKey{}, nil
		}
		coll = c
	} else {
		c, k, ok := vectorOfKey(rest)
		if !ok {
			return vecIndexKey{}, nil
		}
		coll, name = c, k
	}
	k := vecIndexKey{string(scope), coll}
	db.vecMu.Lock()
	vi, ok := db.vecs[k]
	db.vecMu.Unlock()
	if !ok {
		return vecIndexKey{}, nil // not built: a build reads the stored vectors
	}
	if name == "" {
		db.evictVectorIndex(k, vi)
		return vecIndexKey{}, nil
	}
	<-vi.built
	if vi.err != nil || v <= vi.builtAt {
		return vecIndexKey{}, nil // a failed build, or a write the build already read
	}
	if err := vi.applyRaw(name, val, v); err != nil {
		db.opts.logger.Error("vector index update failed; rebuilding", "collection", coll, "error", err)
		db.evictVectorIndex(k, vi)
		return vecIndexKey{}, nil
	}
	return k, vi
}

// collectionOfConfigKey returns the collection a configuration key (after
// the scope and tag) names.
func collectionOfConfigKey(k []byte) (string, bool) {
	c := k[1:]
	l, w := binary.Uvarint(c)
	if w <= 0 || l != uint64(len(c)-w) {
		return "", false
	}
	return string(c[w:]), true
}

// isRunRecordKey reports whether key is a run's record (in the system
// scope), returning the run's ID.
func (db *DB) isRunRecordKey(key []byte) (RunID, bool) {
	s := db.system.scope
	if len(key) != len(s)+1+len(RunID{}) || string(key[:len(s)]) != string(s) || key[len(s)] != keys.TagRunMeta {
		return RunID{}, false
	}
	return RunID(key[len(s)+1:]), true
}

// decodeRunRecord decodes a stored run record (header included); nil for
// its tombstone.
func decodeRunRecord(val []byte) (*runRecord, error) {
	user, live := engine.DecodeValue(val, nil) // run records never expire
	if !live {
		return nil, nil
	}
	var rec runRecord
	if err := json.Unmarshal(user, &rec); err != nil {
		return nil, fmt.Errorf("run record: %v: %w", err, ErrCorruption)
	}
	return &rec, nil
}

// applyRunRecordOf is applyRunRecord the way recovery calls it, with the
// run's ID: its state is looked up, or made for a run not seen yet.
func (db *DB) applyRunRecordOf(id RunID, rec *runRecord, v uint64) {
	db.runsMu.RLock()
	rs := db.runs[id]
	db.runsMu.RUnlock()
	if rs == nil {
		if rec == nil {
			return // deleted: nothing here held it
		}
		rs = newRunState(db, id, rec.Namespace, false)
	}
	db.applyRunRecord(rs, rec, v)
}

// applyRecord derives the engine's state from one recovered WAL record of
// type typ (engine.RecBatch or engine.RecBatchTimed), beyond its entries, which add
// gets. Writes at or below skip (what a snapshot already holds) are
// passed over. It returns the record's version (0 if all were skipped).
// live is set for a record applied to an open database (a cluster node's):
// a vector write may then start a vacuum of its graph.
func (db *DB) applyRecord(typ byte, p []byte, skip uint64, live bool, add func(key []byte, v uint64, val []byte) error) (uint64, error) {
	var version uint64
	var step *runState
	ts, err := engine.DecodeBatch(typ, p, func(v uint64, key, val []byte) error {
		if v <= skip {
			return nil
		}
		if err := add(key, v, val); err != nil {
			return err
		}
		first := version == 0
		version = v
		if id, ok := db.isRunRecordKey(key); ok {
			rec, err := decodeRunRecord(val)
			if err == nil {
				db.applyRunRecordOf(id, rec, v)
			}
			return err
		}
		if id, ok := db.isColdRecordKey(key); ok {
			rec, err := decodeColdRecord(val)
			if err == nil {
				db.applyColdRecord(id, rec, v)
			}
			return err
		}
		if first {
			// A record whose first write is a run's data is the run's
			// step (its commit was admitted by the run's guard).
			t, err := keys.Decode(key)
			if err != nil {
				return fmt.Errorf("batch key: %w", ErrCorruption)
			}
			if id := RunID(t.Run); !id.IsZero() {
				db.runsMu.RLock()
				step = db.runs[id]
				db.runsMu.RUnlock()
			}
		}
		if k, vi := db.applyVectorWrite(key, val, v); vi != nil && live {
			db.maybeVacuum(k, vi)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if step != nil {
		step.ApplyStep(version, ts)
	}
	return version, nil
}
