package inmem

import (
	"encoding/json"
	"fmt"

	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/keys"
	"github.com/inmem-db/inmem/occ"
)

// runRecordKey is where the run's record lives in the system scope.
func (db *DB) runRecordKey(id RunID) []byte {
	return keys.AppendKey(nil, db.system.scope, keys.TagRunMeta, id[:])
}

// runRecord is a run's stored record: its description plus, for a fork,
// the layers it reads through (kept whole in the record, so a fork stays
// readable whatever happens to its ancestors' records).
type runRecord struct {
	RunInfo
	Bases     []recordBase `json:",omitempty"`
	Compacted int          `json:",omitempty"` // steps before it were dropped (Runs.Compact)
}

type recordBase struct {
	Scope   []byte
	Version uint64
}

func recordBases(bs []forkBase) []recordBase {
	var out []recordBase
	for _, b := range bs {
		out = append(out, recordBase{Scope: b.scope, Version: b.version})
	}
	return out
}

func (r *runRecord) forkBases() []forkBase {
	var out []forkBase
	for _, b := range r.Bases {
		out = append(out, forkBase{scope: b.Scope, version: b.Version})
	}
	return out
}

// writeRunRecord commits rec as rs's record, with g deciding inside the
// commit's critical section whether the change is allowed, and applies it
// (applyRunRecord). The caller holds rs.life.
func (db *DB) writeRunRecord(rs *runState, rec *runRecord, g occ.Guard) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("run record: %w", err)
	}
	var hdr [engine.MaxValueHeader]byte
	v, err := db.store.PutBlind(&db.system.Scope, db.runRecordKey(rec.ID), engine.EncodeHeader(&hdr, false, 0), b, g)
	if v != 0 && err == nil && db.cluster == nil {
		db.applyRunRecord(rs, rec, v) // a cluster node applied it with the record
	}
	return err
}
