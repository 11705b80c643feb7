package inmem

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/keys"
)

// RunQuery selects runs for Runs.List. A zero field matches anything.
type RunQuery struct {
	Namespace Namespace
	Status    RunStatus
	Tag       string
	Parent    RunID
	Since     time.Time // created at or after
	Until     time.Time // created before
	Limit     int       // 0: no limit
}

// Runs is the run index: lookups, queries and lifecycle changes of runs by
// ID. Get one with DB.Runs; it is a cheap handle.
type Runs struct{ db *DB }

// Runs returns the run index.
func (db *DB) Runs() *Runs { return &Runs{db: db} }

// runIndex holds the secondary indexes over DB.runs that List, Children
// and the status filter use instead of scanning every run. Guarded by
// DB.runsMu. Lists of IDs are unordered; results are sorted by ID, which
// is creation order (UUIDv7).
type runIndex struct {
	order    []RunID // every run, sorted by ID: creation time, for time ranges
	byParent map[RunID][]RunID
	byTag    map[string][]RunID
	byNS     map[Namespace][]RunID
	byStatus map[RunStatus]map[RunID]struct{}
}

func newRunIndex() *runIndex {
	return &runIndex{
		byParent: map[RunID][]RunID{},
		byTag:    map[string][]RunID{},
		byNS:     map[Namespace][]RunID{},
		byStatus: map[RunStatus]map[RunID]struct{}{},
	}
}

func (ix *runIndex) add(info *RunInfo) {
	if i, found := slices.BinarySearchFunc(ix.order, info.ID, RunID.Compare); !found {
		ix.order = slices.Insert(ix.order, i, info.ID)
	}
	if !info.Parent.IsZero() {
		ix.byParent[info.Parent] = append(ix.byParent[info.Parent], info.ID)
	}
	if !info.ForkOf.IsZero() && info.ForkOf != info.Parent {
		ix.byParent[info.ForkOf] = append(ix.byParent[info.ForkOf], info.ID)
	}
	for _, t := range slices.Compact(slices.Sorted(slices.Values(info.Tags))) {
		ix.byTag[t] = append(ix.byTag[t], info.ID)
	}
	ix.byNS[info.Namespace] = append(ix.byNS[info.Namespace], info.ID)
	ix.setStatus(info.ID, 0, info.Status)
}

func dropID(m map[RunID][]RunID, k, id RunID) {
	if l := slices.DeleteFunc(m[k], func(x RunID) bool { return x == id }); len(l) > 0 {
		m[k] = l
	} else {
		delete(m, k)
	}
}

func (ix *runIndex) remove(info *RunInfo, status RunStatus) {
	if i, found := slices.BinarySearchFunc(ix.order, info.ID, RunID.Compare); found {
		ix.order = slices.Delete(ix.order, i, i+1)
	}
	dropID(ix.byParent, info.Parent, info.ID)
	dropID(ix.byParent, info.ForkOf, info.ID)
	for _, t := range info.Tags {
		if l := slices.DeleteFunc(ix.byTag[t], func(x RunID) bool { return x == info.ID }); len(l) > 0 {
			ix.byTag[t] = l
		} else {
			delete(ix.byTag, t)
		}
	}
	if l := slices.DeleteFunc(ix.byNS[info.Namespace], func(x RunID) bool { return x == info.ID }); len(l) > 0 {
		ix.byNS[info.Namespace] = l
	} else {
		delete(ix.byNS, info.Namespace)
	}
	ix.setStatus(info.ID, status, 0)
}

func (ix *runIndex) setStatus(id RunID, from, to RunStatus) {
	if from != 0 {
		delete(ix.byStatus[from], id)
	}
	if to != 0 {
		if ix.byStatus[to] == nil {
			ix.byStatus[to] = map[RunID]struct{}{}
		}
		ix.byStatus[to][id] = struct{}{}
	}
}

// Get returns a run's description, or ErrRunNotFound.
func (rx *Runs) Get(id RunID) (RunInfo, error) {
	if rx.db.closed.Load() {
		return RunInfo{}, ErrClosed
	}
	rs, err := rx.db.runState(id)
	if err != nil {
		return RunInfo{}, err
	}
	return rs.snapshotInfo(), nil
}

// List returns the runs matching q in creation order, at most q.Limit.
// Candidates come from the most selective index the query names (parent,
// tag, status, namespace, else the creation-ordered list from Since on);
// the other fields filter them.
func (rx *Runs) List(q RunQuery) ([]RunInfo, error) {
	return rx.ListAfter(q, RunID{}) // no ID sorts at or before the zero one
}

func (q *RunQuery) matches(info *RunInfo) bool {
	return (q.Namespace == (Namespace{}) || info.Namespace == q.Namespace) &&
		(q.Status == 0 || info.Status == q.Status) &&
		(q.Tag == "" || slices.Contains(info.Tags, q.Tag)) &&
		(q.Parent.IsZero() || info.Parent == q.Parent || info.ForkOf == q.Parent) &&
		(q.Since.IsZero() || !info.CreatedAt.Before(q.Since)) &&
		(q.Until.IsZero() || info.CreatedAt.Before(q.Until))
}

// Children returns the runs started with Parent(id) or forked from id, in
// creation order.
func (rx *Runs) Children(id RunID) ([]RunInfo, error) {
	if _, err := rx.Get(id); err != nil {
		return nil, err
	}
	return rx.List(RunQuery{Parent: id})
}

// Lineage returns the ancestors of id, nearest first: the run it was
// forked from or started under, that run's, and so on. An ancestor that
// was deleted ends the chain.
func (rx *Runs) Lineage(id RunID) ([]RunInfo, error) {
	info, err := rx.Get(id)
	if err != nil {
		return nil, err
	}
	var out []RunInfo
	seen := map[RunID]bool{id: true}
	for {
		next := info.ForkOf
		if next.IsZero() {
			next = info.Parent
		}
		if next.IsZero() || seen[next] {
			return out, nil
		}
		seen[next] = true
		if info, err = rx.Get(next); err != nil {
			return out, nil // deleted ancestor
		}
		out = append(out, info)
	}
}

// SetStatus moves a run to status if the transition is allowed (see
// CanTransition), else ErrInvalidTransition; ErrRunEnded when an ended run
// is ended again.
func (rx *Runs) SetStatus(id RunID, status RunStatus) error {
	if rx.db.closed.Load() {
		return ErrClosed
	}
	if status < Active || status > Archived {
		return fmt.Errorf("status %d: %w", status, ErrInvalidArgument)
	}
	rs, err := rx.db.runState(id)
	if err != nil {
		return err
	}
	return rs.setStatus(status, "")
}

// Delete removes a run and all of its data in every primitive, in one
// commit: afterwards the run is not found, its keys read as absent, and
// handles to it fail with ErrRunNotFound. Runs started under it keep their
// Parent field; their Lineage stops at the deleted run.
//
// Writers are fenced first: inside the commit critical section the run is
// marked deleted, so no write to it is admitted after that point, and
// those admitted before are waited for. The delete commit then cannot
// conflict with a writer (no retry loop to lose against a busy run). The
// fence is in memory only: if the delete commit fails, it is lifted, and a
// crash before the commit leaves the run whole.
func (rx *Runs) Delete(id RunID) error {
	db := rx.db
	if db.closed.Load() {
		return ErrClosed
	}
	rs, err := db.runState(id)
	if err != nil {
		return err
	}
	if c := db.cluster; c != nil {
		// A follower refuses at once, rather than fencing the run and
		// waiting for versions it may not apply for a while.
		if err := c.ready(); err != nil {
			return fmt.Errorf("delete run %s: %w", id, err)
		}
	}
	var prev RunStatus
	var fence uint64
	db.store.Oracle.Exclusive(func(last uint64) {
		prev = RunStatus(rs.status.Load())
		if prev != statusDeleted {
			rs.status.Store(uint32(statusDeleted))
		}
		fence = last
	})
	if prev == statusDeleted {
		return fmt.Errorf("run %s: %w", id, ErrRunNotFound)
	}
	db.store.Oracle.WaitVisible(fence)
	v, err := rx.deleteData(rs)
	if err != nil {
		rs.status.Store(uint32(prev))
		return fmt.Errorf("delete run %s: %w", id, err)
	}
	if db.cluster == nil { // a cluster node applied it with the record
		db.applyRunRecord(rs, nil, v) // the record's tombstone: the run is gone
	}
	return nil
}

// deleteData writes, in one commit, a tombstone over every live key of the
// fenced run and over its record, and returns the commit's version.
func (rx *Runs) deleteData(rs *runState) (uint64, error) {
	db := rx.db
	tx := &Tx{db: db, rs: rs, writable: true, guard: admitAll{}, clock: db.opts.clock}
	tx.gen, tx.snapshot = db.store.BeginAt()
	tx.kv = KV{prim{tx: tx, tag: keys.TagKV}}
	defer tx.Discard()
	cold := rs.cold.Load() != nil
	dropCold := cold && !db.isBase(rs.scope)
	if cold {
		// Its data stays in its file, unread (a deleted run is not read)
		// unless a fork reads through it; then the manifest keeps naming
		// the file, else the entry goes now and the bytes at the next
		// compaction.
		if dropCold {
			if err := tx.put(db.coldRecordKey(rs.id), engine.Tombstone); err != nil {
				return 0, err
			}
		}
	} else {
		var live [][]byte
		tx.scan(rs.scope, func(k, _ []byte, _ uint64) bool {
			live = append(live, bytes.Clone(k))
			return true
		})
		for _, k := range live {
			if err := tx.put(k, engine.Tombstone); err != nil {
				return 0, err
			}
		}
	}
	if err := tx.put(db.runRecordKey(rs.id), engine.Tombstone); err != nil {
		return 0, err
	}
	v, err := tx.commit()
	if err == nil && dropCold {
		db.applyColdRecord(rs.id, nil, v)
	}
	return v, err
}

// isBase reports whether a live run reads through scope (a fork of it).
func (db *DB) isBase(scope []byte) bool {
	db.runsMu.RLock()
	defer db.runsMu.RUnlock()
	for _, rs := range db.runs {
		for _, b := range rs.bases {
			if bytes.Equal(b.scope, scope) {
				return true
			}
		}
	}
	return false
}

// admitAll is the commit guard of a commit no run state can refuse.
type admitAll struct{}

func (admitAll) Admit(uint64) error { return nil }

// Compact drops the run's history up to its latest step, keeping its
// latest state: afterwards AsOf and Fork accept only that step and later
// ones (earlier ones are ErrHistory), and Steps lists only later steps.
// The compaction point is stored in the run's record, so it survives
// reopening; the versions it gave up are freed by the next reclaim
// (DB.Reclaim), or, for a cold run, by the cold tier's next compaction.
// Archiving a run keeps its history.
func (rx *Runs) Compact(id RunID) error {
	db := rx.db
	if db.closed.Load() {
		return ErrClosed
	}
	rs, err := db.runState(id)
	if err != nil {
		return err
	}
	rs.life.Lock()
	defer rs.life.Unlock()
	n := rs.Log.Visible(db.store.Oracle.Visible())
	if n <= int(rs.compacted.Load()) {
		return nil
	}
	rs.mu.Lock()
	info := rs.info
	rs.mu.Unlock()
	info.Status = RunStatus(rs.status.Load())
	info.Steps = int(rs.Steps.Load())
	if info.Status == statusDeleted {
		return fmt.Errorf("run %s: %w", id, ErrRunNotFound)
	}
	if err := db.writeRunRecord(rs, &runRecord{RunInfo: info, Bases: recordBases(rs.bases), Compacted: n}, notDeleted{rs}); err != nil {
		return rs.recordErr("compact", err)
	}
	return nil
}

// notDeleted admits a run record write unless the run was deleted: a
// record written after the delete's tombstone would bring the run back.
type notDeleted struct{ rs *runState }

func (g notDeleted) Admit(uint64) error {
	if RunStatus(g.rs.status.Load()) == statusDeleted {
		return fmt.Errorf("run %s: %w", g.rs.id, ErrRunNotFound)
	}
	return nil
}
