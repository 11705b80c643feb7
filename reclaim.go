package inmem

import (
	"fmt"
	"time"

	"github.com/inmem-db/inmem/internal/engine"
)

// Reclaim frees the memory of versions nothing can read any more. The
// engine never unlinks an entry in place (readers walk the list without
// locks), so reclaim builds a new generation holding only the versions
// still needed and swaps it in:
//
//  1. Inside the commit critical section it notes the last version (base)
//     and asks every later commit to record what it links.
//  2. It copies the entries at or below base that are still needed into a
//     fresh skiplist and arena, while readers and writers go on with the
//     old one.
//  3. It copies what the recorded commits linked meanwhile, then, inside
//     the critical section again, notes a cut: commits after it wait for
//     the swap (the only wait, the length of the last catch-up), those
//     before it are copied once linked, and the new generation is swapped
//     in. Commits prepared in the old generation after that are copied to
//     the new one as they link.
//
// The old generation is freed by the garbage collector once no reader,
// transaction or commit record refers to it.
//
// What is kept, per scope: a run keeps its whole history (every version),
// unless Runs().Compact dropped it (then the newest version at or below
// the compaction point and every later one); a run some fork reads through
// keeps everything a fork may read. Shared scopes, run records and deleted
// runs keep what a registered transaction may still read: every version
// newer than the oldest active snapshot, and the newest one at or below it
// unless that one is a delete or has expired.
//
// Reclaim runs by itself in the background when the arena grows past the
// WithReclaimAt threshold; calling it directly is for tests and tools. It
// does not run concurrently with a checkpoint.
//
// A direct call then vacuums the vector graphs: every tombstone (a
// replaced or deleted vector) deleted at or below what the rules above
// let go is removed from its graph and its node id freed for reuse. The
// graphs are also vacuumed by themselves, per collection, as tombstones
// accumulate (see vecvacuum.go).
func (db *DB) Reclaim() (ReclaimStats, error) {
	if db.closed.Load() {
		return ReclaimStats{}, ErrClosed
	}
	db.ckptMu.Lock()
	st, err := db.reclaim()
	db.ckptMu.Unlock()
	if err != nil {
		return st, err
	}
	// Outside ckptMu: a pass over a large graph need not hold up a
	// checkpoint (which waits only for the graph it is encoding).
	st.Vacuumed, err = db.vacuumVectors()
	if err != nil {
		return st, fmt.Errorf("reclaim: vector graphs: %w", err)
	}
	return st, nil
}

// ReclaimStats describes one reclaim.
type ReclaimStats struct {
	Before, After   int64         // arena bytes in use before and after
	Kept, Dropped   int64         // entries copied and left behind
	CaughtUp        int64         // entries committed during the copy and copied after it
	Took, WriterGap time.Duration // whole run; how long commits after the cut waited
	Vacuumed        int64         // vector graph nodes removed (tombstones no reader can see)
}

// retention returns the rules by scope; scopes not in it get def.
func (db *DB) retention(horizon uint64) (map[string]engine.KeepRule, engine.KeepRule) {
	rules := map[string]engine.KeepRule{}
	db.runsMu.RLock()
	defer db.runsMu.RUnlock()
	for _, rs := range db.runs {
		r := engine.KeepRule{} // everything
		if c := int(rs.compacted.Load()); c > 0 && c <= rs.Log.Len() {
			r.Horizon = rs.Log.At(c - 1).Version
		}
		if _, set := rules[string(rs.scope)]; !set {
			rules[string(rs.scope)] = r
		}
		for _, b := range rs.bases {
			rules[string(b.scope)] = engine.KeepRule{} // a fork reads through it
		}
	}
	// A frozen scope reads everything up to its freeze from its file.
	if t := db.cold; t != nil {
		t.mu.RLock()
		for scope, ref := range t.scopes {
			rules[scope] = engine.KeepRule{Cold: ref.version}
		}
		t.mu.RUnlock()
	}
	return rules, engine.KeepRule{Horizon: horizon, DropDead: true}
}

func (db *DB) reclaim() (ReclaimStats, error) {
	start := time.Now()
	r, err := db.store.RebuildGeneration(db.retention, db.opts.clock)
	st := ReclaimStats{Before: r.Before, After: r.After, Kept: r.Kept, Dropped: r.Dropped, CaughtUp: r.CaughtUp, WriterGap: r.WriterGap}
	if err != nil {
		return st, fmt.Errorf("reclaim: %w", err)
	}
	st.Took = time.Since(start)
	db.reclaims.Add(1)
	db.reclaimedAt.Store(r.Live)
	db.markReclaimed()
	return st, nil
}

// release reports a run's data as reclaimable (it was deleted, archived
// or compacted).
func (db *DB) release(rs *runState) {
	w := rs.Written.Load()
	db.released.Add(w - rs.released.Swap(w))
}

// garbage estimates the bytes a reclaim would free: what shared scopes and
// run records wrote since the last reclaim (their overwritten versions) and
// what released runs held. It errs high (a shared scope that only adds
// keys frees nothing), which the growth condition of maybeReclaim bounds.
func (db *DB) garbage() int64 {
	g := db.released.Load() + db.system.Written.Load() - db.system.reclaimed.Load()
	db.runsMu.RLock()
	for _, rs := range db.shared {
		g += rs.Written.Load() - rs.reclaimed.Load()
	}
	db.runsMu.RUnlock()
	return g
}

// markReclaimed resets garbage's counters after a reclaim.
func (db *DB) markReclaimed() {
	db.released.Store(0)
	db.system.reclaimed.Store(db.system.Written.Load())
	db.runsMu.RLock()
	for _, rs := range db.shared {
		rs.reclaimed.Store(rs.Written.Load())
	}
	db.runsMu.RUnlock()
}

// maybeReclaim starts a background reclaim when the arena in use passed
// the WithReclaimAt threshold and twice what the last reclaim left, and at
// least a quarter of it looks reclaimable (a run's history is kept, so a
// database of live runs is not copied for nothing). It runs after every
// reclaimCheckEvery-th commit, in the committing goroutine, so the arena
// in use stays under about twice that trigger.
func (db *DB) maybeReclaim() {
	limit := db.opts.reclaimAt
	if limit <= 0 {
		return
	}
	used := db.store.Current().Arena.Stats().Used
	trigger := max(limit, 2*db.reclaimedAt.Load())
	// A cluster node's apply loop does not wait: the reclaim may itself wait
	// for versions only that loop applies.
	if db.reclaimRunning.Load() && used >= 2*trigger && db.cluster == nil {
		// Writers outran the running reclaim by as much again as started
		// it: this writer waits for it, which is what bounds the arena.
		db.reclaimMu.Lock()
		ch := db.reclaimDone
		db.reclaimMu.Unlock()
		if ch != nil {
			db.reclaimWaits.Add(1)
			<-ch
		}
		return
	}
	if used < trigger || 4*db.garbage() < used {
		return
	}
	done := make(chan struct{})
	run := func() {
		defer close(done)
		if gate := db.opts.reclaimGate; gate != nil {
			gate()
		}
		db.ckptMu.Lock()
		defer db.ckptMu.Unlock()
		if db.closed.Load() {
			return
		}
		if st, err := db.reclaim(); err != nil {
			db.opts.logger.Error("background reclaim failed", "error", err)
		} else {
			db.opts.logger.Debug("reclaimed", "before", st.Before, "after", st.After, "took", st.Took, "writer_gap", st.WriterGap)
		}
	}
	// reclaimMu is held from before the reclaim counts as running until
	// its channel is published: a writer that sees it running waits for
	// this reclaim, not on the last one's channel, already closed.
	db.reclaimMu.Lock()
	if db.background(&db.reclaimRunning, run) {
		db.reclaimDone = done
	}
	db.reclaimMu.Unlock()
}
