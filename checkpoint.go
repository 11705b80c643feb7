package inmem

import (
	"fmt"
	"path/filepath"
	"sync/atomic"

	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/wal"
)

// Checkpoint writes a snapshot of everything committed so far and retires
// the WAL it makes redundant. Recovery then starts from the snapshot. With
// nothing committed since the newest snapshot, and for OpenInMemory, there
// is nothing to write; a WithReadOnly handle returns ErrReadOnly.
func (db *DB) Checkpoint() error {
	if db.closed.Load() {
		return ErrClosed
	}
	if db.store.ReadOnly {
		return fmt.Errorf("checkpoint: %w", engine.ErrReadOnlyDB)
	}
	if db.store.Log == nil {
		return nil
	}
	return db.checkpoint()
}

// cut runs fn where no commit is admitted, with the last version whose
// commit is in the WAL, the step logs and the arena or on its way there:
// the last assigned one. On a cluster node it is the last applied one, with
// no record being applied: a version assigned to a proposal is not on its
// way to any of them until the cluster commits it, if ever.
func (db *DB) cut(fn func(last uint64)) {
	c := db.cluster
	if c == nil {
		db.store.Oracle.Exclusive(fn)
		return
	}
	c.applyMu.Lock()
	defer c.applyMu.Unlock()
	db.store.Oracle.Exclusive(func(uint64) { fn(db.store.Oracle.Visible()) })
}

func (db *DB) checkpoint() error {
	db.ckptMu.Lock()
	defer db.ckptMu.Unlock()
	s := db.store
	meta := snapMeta{steps: map[RunID]int64{}, logs: map[RunID][]engine.StepRec{}}
	logLens := map[*runState]int{}
	var cut *wal.Cut
	var err error
	// Cut the WAL where no commit is in flight: everything at or below
	// meta.version goes to segments before the cut, everything after to the
	// new segment. Step counters are read at the same point.
	db.cut(func(last uint64) {
		meta.version = last
		if last == db.snapAt.Load() {
			return // the newest snapshot already holds all of it
		}
		cut, err = s.Log.Rotate()
		db.runsMu.RLock()
		for id, rs := range db.runs {
			if n := rs.Steps.Load(); n > 0 {
				meta.steps[id] = n
			}
			if n := rs.Log.Len(); n > 0 {
				logLens[rs] = n
			}
		}
		db.runsMu.RUnlock()
	})
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if cut == nil {
		// Nothing committed since the newest snapshot: writing it again
		// would only start another segment.
		db.walAtCheckpoint.Store(s.Log.Stats().Appended)
		return nil
	}
	// Step logs are append-only: the first n entries read now are the ones
	// at the cut.
	for rs, n := range logLens {
		all := make([]engine.StepRec, n)
		for i := range all {
			all[i] = rs.Log.At(i)
		}
		meta.logs[rs.id] = all
	}
	if meta.segment, err = cut.Wait(); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	s.Oracle.WaitVisible(meta.version)
	if err := db.writeSnapshot(meta); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	db.checkpoints.Add(1)
	db.walAtCheckpoint.Store(s.Log.Stats().Appended)
	return db.retire()
}

// retire keeps the two newest snapshots (the older one is the fallback if
// the newest ever fails its checks) and removes the WAL segments neither
// needs, and older snapshots.
func (db *DB) retire() error {
	snaps, err := snapshots(db.fs, db.dir)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if len(snaps) < 2 {
		return nil
	}
	// The fallback snapshot's WAL starting point bounds what can go.
	fallback := filepath.Join(db.dir, snapshotName(snaps[1]))
	meta, err := readSnapshot(db.fs, fallback, func([]byte, uint64, []byte) error { return nil })
	if err != nil {
		db.opts.logger.Warn("fallback snapshot failed its checks; keeping the WAL", "file", fallback, "error", err)
		return nil
	}
	segs, err := wal.Segments(db.fs, walDir(db.dir))
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	for _, n := range segs {
		if n >= meta.segment {
			break
		}
		if err := db.fs.Remove(filepath.Join(walDir(db.dir), wal.SegmentName(n))); err != nil {
			return fmt.Errorf("checkpoint: retire segment: %w", err)
		}
	}
	for _, v := range snaps[2:] {
		if err := db.fs.Remove(filepath.Join(db.dir, snapshotName(v))); err != nil {
			return fmt.Errorf("checkpoint: remove old snapshot: %w", err)
		}
	}
	if len(snaps) > 2 {
		// A removal that is lost in a crash only brings back an older
		// snapshot (recovery prefers the newest), but sync anyway so the
		// space is reliably reclaimed.
		if err := db.fs.SyncDir(db.dir); err != nil {
			return fmt.Errorf("checkpoint: sync dir: %w", err)
		}
	}
	return db.fs.SyncDir(walDir(db.dir))
}

// checkpointDue reports whether enough WAL was written since the last
// checkpoint: WithCheckpointEvery bytes, and at least as much as the last
// snapshot took.
func (db *DB) checkpointDue() bool {
	written := db.store.Log.Stats().Appended - db.walAtCheckpoint.Load()
	return written >= max(db.opts.checkpointEvery, db.lastSnapBytes.Load())
}

// maybeCheckpoint starts a background checkpoint once WithCheckpointEvery
// bytes of WAL were written since the last one.
func (db *DB) maybeCheckpoint() {
	// At least as much WAL as the last snapshot took: each checkpoint
	// rewrites the whole database, so a fixed interval would make a growing
	// database's checkpoints cost quadratic; this keeps them proportional
	// to what was written, and the WAL to replay about one snapshot's size.
	if !db.checkpointDue() {
		return
	}
	// Close waits for this goroutine before closing the WAL, so a
	// checkpoint that started is always finished.
	db.background(&db.ckptRunning, func() {
		if err := db.checkpoint(); err != nil {
			db.opts.logger.Error("background checkpoint failed", "error", err)
		}
	})
}

// background runs fn on a goroutine Close waits for, unless one guarded by
// running is already going or the database is closing. It reports whether
// fn was started.
func (db *DB) background(running *atomic.Bool, fn func()) bool {
	if !running.CompareAndSwap(false, true) {
		return false
	}
	db.bgMu.Lock()
	if db.closed.Load() {
		db.bgMu.Unlock()
		running.Store(false)
		return false
	}
	db.bg.Add(1)
	db.bgMu.Unlock()
	go func() {
		defer db.bg.Done()
		defer running.Store(false)
		fn()
	}()
	return true
}
