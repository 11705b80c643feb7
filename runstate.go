package inmem

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/keys"
	"github.com/inmem-db/inmem/occ"
)

// runState is the in-memory side of a run or shared scope: its key prefix
// and the lifecycle fields the commit path checks. It is the guard that
// admits the run's commits and records their steps (Admit), and it keeps
// the run's fingers and step log. The Run handle users hold (run.go)
// points at one.
type runState struct {
	db     *DB
	id     RunID
	ns     Namespace
	scope  []byte        // encoded namespace | run: prefix of every key of the scope
	status atomic.Uint32 // RunStatus; changed only inside commit guards
	_      [60]byte      // status is read by every commit; keep it off the written line
	// admit orders the run's blind writes admitted outside the oracle's
	// section (AdmitLock), so its steps are logged in version order.
	admit        sync.Mutex
	engine.Scope // what the commit path keeps and writes for the scope

	// bases are the layers a forked run reads through, nearest first; set
	// when the run is made and never changed.
	bases []forkBase
	// cold is where the run's history lives once frozen (nil while hot);
	// set by the apply path (applyColdRecord).
	cold atomic.Pointer[coldRef]
	// compacted is the step before which Runs.Compact dropped the history.
	compacted atomic.Int64
	// released is how much of written was reported to reclaim as garbage
	// (deleted, frozen, compacted); reclaimed is written at the last
	// reclaim, for shared scopes.
	released, reclaimed atomic.Int64

	// life orders the writers of the run's record (status changes,
	// compaction, creation): each reads info, commits a new record and
	// applies it. It is held across the commit, so mu is not: the apply
	// path takes mu itself, and in a cluster the record is applied by the
	// replication's apply loop while its writer waits.
	life sync.Mutex
	mu   sync.Mutex // guards info and recordAt
	info RunInfo
	// recordAt is the version of the run record applied last (see
	// applyRunRecord).
	recordAt uint64
}

func newRunState(db *DB, id RunID, ns Namespace, shared bool) *runState {
	rs := &runState{
		db:    db,
		id:    id,
		ns:    ns,
		scope: keys.AppendScope(nil, ns.Tenant, ns.App, ns.Agent, id),
	}
	rs.Shared = shared
	rs.status.Store(uint32(Active))
	return rs
}

// Admit is the commit guard of data writes: inside the oracle's critical
// section, or for a blind write with no WAL under AdmitLock, where the
// oracle orders it with the section just as exactly (occ.Serial), so a
// write either commits before the run ends or fails.
func (rs *runState) Admit(v uint64) error {
	if st := RunStatus(rs.status.Load()); st.Ended() {
		if st == statusDeleted {
			return fmt.Errorf("run %s: %w", rs.id, ErrRunNotFound)
		}
		return fmt.Errorf("run %s: %w", rs.id, ErrRunEnded)
	}
	t := int64(0)
	if !rs.Shared {
		// One clock read serves the step's time and the run's last write.
		t = rs.Stamp.Load()
		if t == 0 {
			t = rs.db.opts.clock().UnixNano()
		}
	}
	if rs.db.store.Replica != nil {
		// In a cluster the step is applied with the record, once the
		// cluster commits it (clusterapply.go); its time is kept after
		// the last one proposed (or applied when this node's leadership
		// began: clusterNode.settle).
		rs.Proposed = engine.StepRec{Version: v, Time: max(t, rs.Proposed.Time)}
		return nil
	}
	// Writers of one run stamp in one order and may enter here in
	// another; steps keep their times in step order.
	rs.ApplyStep(v, max(t, rs.LastStep))
	return nil
}

// AdmitLock makes runState an occ.Serial guard: a blind write of the run
// may take its version outside the oracle's section, ordered with the
// run's other writers by this lock. Admit refuses before it changes
// anything. A shared scope logs no steps, so its writers need no order.
func (rs *runState) AdmitLock() *sync.Mutex {
	if rs.Shared {
		return nil
	}
	return &rs.admit
}

// stampNow reads the clock for a data commit about to be admitted by rs,
// and reserves the step log's first block (Scope.reserveSteps reserves the rest).
// Admit takes the time from here rather than reading the clock itself, so
// that the read (tens of nanoseconds in a virtual machine) stays out of the
// oracle's critical section, which every commit of the database passes.
func (rs *runState) stampNow() {
	if !rs.Shared {
		rs.Stamp.Store(rs.db.opts.clock().UnixNano())
		if !rs.Log.Started() {
			rs.Log.Reserve()
		}
	}
}

// touchAfter records a write committed under guard g, unless Admit already
// did (a run's own data writes).
func (rs *runState) touchAfter(g occ.Guard) {
	if rs.Shared || g != occ.Guard(rs) {
		rs.Touch(rs.db.opts.clock().UnixNano())
	}
}

// statusGuard admits a run record write that moves the run to a status.
type statusGuard struct {
	rs *runState
	to RunStatus
}

func (g *statusGuard) Admit(uint64) error {
	from := RunStatus(g.rs.status.Load())
	if from == statusDeleted {
		return fmt.Errorf("run %s: %w", g.rs.id, ErrRunNotFound)
	}
	if !CanTransition(from, g.to) {
		if from.Ended() && g.to.Ended() && g.to != Archived {
			return fmt.Errorf("run %s is %s: %w", g.rs.id, from, ErrRunEnded)
		}
		return fmt.Errorf("run %s: %s -> %s: %w", g.rs.id, from, g.to, ErrInvalidTransition)
	}
	g.rs.status.Store(uint32(g.to))
	return nil
}

// recordErr wraps an error of a write of the run's record by op. The
// guards' refusals already name the run and are returned as they are.
func (rs *runState) recordErr(op string, err error) error {
	if errors.Is(err, ErrRunEnded) || errors.Is(err, ErrInvalidTransition) || errors.Is(err, ErrRunNotFound) {
		return err
	}
	return fmt.Errorf("run %s: %s: %w", rs.id, op, err)
}

// snapshotInfo returns a copy of the run's description with its live
// counters.
func (rs *runState) snapshotInfo() RunInfo {
	rs.mu.Lock()
	info := rs.info
	info.Tags = slices.Clone(info.Tags)
	info.Meta = maps.Clone(info.Meta)
	rs.mu.Unlock()
	info.Status = RunStatus(rs.status.Load())
	info.Steps = int(rs.Steps.Load())
	info.UpdatedAt = time.Unix(0, rs.Updated.Load())
	info.Cold = rs.cold.Load() != nil
	return info
}

// setStatus commits a status change of the run's record.
func (rs *runState) setStatus(to RunStatus, reason string) error {
	now := rs.db.opts.clock()
	rs.life.Lock()
	defer rs.life.Unlock() // one status change of a run at a time
	rs.mu.Lock()
	info := rs.info
	rs.mu.Unlock()
	info.Status = to
	info.UpdatedAt = now
	info.Steps = int(rs.Steps.Load())
	if to.Ended() && to != Archived {
		info.EndedAt = now
		info.Error = reason
	}
	// An archived run keeps its history (the cold tier holds it, off the
	// heap); Runs.Compact is what drops history.
	compacted := int(rs.compacted.Load())
	if err := rs.db.writeRunRecord(rs, &runRecord{RunInfo: info, Bases: recordBases(rs.bases), Compacted: compacted}, &statusGuard{rs: rs, to: to}); err != nil {
		return rs.recordErr("status", err)
	}
	if to.Ended() {
		rs.db.kickFreezer()
	}
	return nil
}
