package inmem

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/inmem-db/inmem/internal/coldfile"
	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/occ"
)

// Freezing moves ended runs into the cold tier (cold.go): their every
// version, in one new file for the whole batch, then a manifest entry per
// run; from the entry on, reads of the run go to the file and the next
// reclaim drops the run's versions from the arena.

// Freeze moves the ended run id's whole history to the cold tier now,
// rather than once it has been ended for WithColdAfter. Its reads answer
// as before, from disk through the block cache. A run that is Active or
// Paused, a shared scope, and a database without files (OpenInMemory),
// opened read-only or a cluster node are refused with an error wrapping ErrInvalidArgument.
// Freezing a run that is cold already does nothing.
func (rx *Runs) Freeze(id RunID) error {
	db := rx.db
	if db.closed.Load() {
		return ErrClosed
	}
	if err := db.canFreeze(); err != nil {
		return err
	}
	rs, err := db.runState(id)
	if err != nil {
		return err
	}
	if st := RunStatus(rs.status.Load()); !st.Ended() {
		return fmt.Errorf("freeze run %s: it is %s; only an ended run moves to the cold tier: %w", id, st, ErrInvalidArgument)
	}
	if rs.cold.Load() != nil {
		return nil
	}
	n, err := db.freezeRuns([]*runState{rs})
	if err == nil && n == 0 && RunStatus(rs.status.Load()) == statusDeleted {
		err = fmt.Errorf("run %s: %w", id, ErrRunNotFound)
	}
	return err
}

func (db *DB) canFreeze() error {
	switch {
	case db.cold == nil:
		return fmt.Errorf("freeze: an in-memory database has no cold tier: %w", ErrInvalidArgument)
	case db.store.ReadOnly:
		return fmt.Errorf("freeze: %w", ErrReadOnly)
	case db.cluster != nil:
		return fmt.Errorf("freeze: a cluster node has no cold tier (its files would be its alone): %w", ErrInvalidArgument)
	}
	return nil
}

// frozenRun is a run as a freeze wrote it.
type frozenRun struct {
	rs    *runState
	bytes int64
}

// freezeRuns writes the ended, hot runs of rss to one new cold file and
// commits their manifest entries; it returns how many moved. A run
// deleted meanwhile is left out (its bytes in the file are dead).
func (db *DB) freezeRuns(rss []*runState) (int, error) {
	db.freezeMu.Lock()
	defer db.freezeMu.Unlock()
	rss = slices.DeleteFunc(slices.Clone(rss), func(rs *runState) bool {
		return rs.Shared || rs.cold.Load() != nil || !RunStatus(rs.status.Load()).Ended() || RunStatus(rs.status.Load()) == statusDeleted
	})
	if len(rss) == 0 {
		return 0, nil
	}
	slices.SortFunc(rss, func(a, b *runState) int { return bytes.Compare(a.scope, b.scope) })
	// Every commit admitted before the runs ended is linked and visible.
	var last uint64
	db.store.Oracle.Exclusive(func(l uint64) { last = l })
	db.store.Oracle.WaitVisible(last)
	g, snap := db.store.ReadAt()

	t := db.cold
	id, path, err := t.newFile()
	if err != nil {
		return 0, err
	}
	w, err := coldfile.Create(t.fs, path, coldfile.DefaultCodec)
	if err != nil {
		return 0, fmt.Errorf("freeze: %w", err)
	}
	runs := make([]frozenRun, 0, len(rss))
	for _, rs := range rss {
		fr := frozenRun{rs: rs}
		it := g.List.Iter()
		for it.SeekGE(rs.scope, ^uint64(0)); it.Valid() && bytes.HasPrefix(it.Key(), rs.scope); it.Next() {
			if it.Version() > snap {
				continue
			}
			if err := w.Add(it.Key(), it.Version(), it.Value()); err != nil {
				w.Abort()
				return 0, fmt.Errorf("freeze run %s: %w", rs.id, err)
			}
			fr.bytes += int64(len(it.Key()) + len(it.Value()) + 8)
		}
		runs = append(runs, fr)
	}
	size, err := w.Finish()
	if err != nil {
		return 0, fmt.Errorf("freeze: %w", err)
	}
	moved := 0
	for _, fr := range runs {
		rec := &coldRecord{File: id, Version: snap, Scope: fr.rs.scope, Bytes: fr.bytes, Size: size, Runs: len(runs)}
		err := db.writeColdRecord(fr.rs.id, rec, notDeleted{fr.rs})
		if errors.Is(err, ErrRunNotFound) {
			continue // deleted while it was written
		}
		if err != nil {
			return moved, fmt.Errorf("freeze run %s: %w", fr.rs.id, err)
		}
		db.release(fr.rs) // its versions in the arena are garbage now
		moved++
	}
	if moved == 0 {
		t.fs.Remove(path) // named by nothing
	}
	db.freezes.Add(uint64(moved))
	return moved, nil
}

// newFile picks the next file number and makes sure the directory is
// there (and durable in its parent).
func (t *coldTier) newFile() (uint64, string, error) {
	t.mu.Lock()
	t.next++
	id := t.next
	made := t.made
	t.mu.Unlock()
	if !made {
		// Made and durable in its parent before any file goes in, and
		// tried again by the next freeze if either step failed.
		if err := t.fs.MkdirAll(t.dir); err != nil {
			return 0, "", fmt.Errorf("cold tier: %w", err)
		}
		if err := t.fs.SyncDir(filepath.Dir(t.dir)); err != nil {
			return 0, "", fmt.Errorf("cold tier: %w", err)
		}
		t.mu.Lock()
		t.made = true
		t.mu.Unlock()
	}
	return id, filepath.Join(t.dir, coldFileName(id)), nil
}

// writeColdRecord commits run id's manifest entry (nil: its tombstone)
// under guard g and applies it.
func (db *DB) writeColdRecord(id RunID, rec *coldRecord, g occ.Guard) error {
	v, err := db.commitColdRecord(id, rec, g)
	if err == nil {
		db.applyColdRecord(id, rec, v)
	}
	return err
}

// commitColdRecord commits run id's manifest entry (nil: its tombstone)
// under guard g, without applying it.
func (db *DB) commitColdRecord(id RunID, rec *coldRecord, g occ.Guard) (uint64, error) {
	var hdr [engine.MaxValueHeader]byte
	var val []byte
	h := engine.EncodeHeader(&hdr, false, 0)
	if rec == nil {
		h = engine.Tombstone
	} else {
		b, err := json.Marshal(rec)
		if err != nil {
			return 0, err
		}
		val = b
	}
	return db.store.PutBlind(&db.system.Scope, db.coldRecordKey(id), h, val, g)
}

// freezer moves runs ended for WithColdAfter to the cold tier, in the
// background, a batch to a file. A run's end wakes it; it also looks
// every coldAfter (at most every freezeRecheck) for runs whose time came.
func (db *DB) freezer(stop <-chan struct{}) {
	after := db.opts.coldAfter
	wait := min(max(after, freezeMinGap), freezeRecheck)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-stop:
			return
		case <-db.freezeKick:
		case <-timer.C:
		}
		if due := db.dueForCold(after); len(due) > 0 {
			if _, err := db.freezeRuns(due); err != nil {
				db.opts.logger.Error("freezing ended runs failed", "error", err)
			}
		}
		if err := db.compactCold(false); err != nil {
			db.opts.logger.Error("cold tier compaction failed", "error", err)
		}
		// Batches, not a file per run: runs ending within the gap share one.
		select {
		case <-stop:
			return
		case <-time.After(freezeMinGap):
		}
		timer.Reset(wait)
	}
}

const (
	freezeMinGap  = 200 * time.Millisecond
	freezeRecheck = 10 * time.Second
)

// dueForCold lists the hot runs ended for at least after.
func (db *DB) dueForCold(after time.Duration) []*runState {
	now := db.opts.clock()
	// The registry's lock is not held while a run's is taken: a status
	// change holds the run's and then takes the registry's (applyRunRecord).
	db.runsMu.RLock()
	all := make([]*runState, 0, len(db.runs))
	for _, rs := range db.runs {
		all = append(all, rs)
	}
	db.runsMu.RUnlock()
	var due []*runState
	for _, rs := range all {
		st := RunStatus(rs.status.Load())
		if !st.Ended() || st == statusDeleted || rs.cold.Load() != nil {
			continue
		}
		rs.mu.Lock()
		at := rs.info.EndedAt
		if at.IsZero() {
			at = rs.info.UpdatedAt
		}
		rs.mu.Unlock()
		if now.Sub(at) >= after {
			due = append(due, rs)
		}
	}
	return due
}

// startFreezer starts the background freezer of a writable database with
// a directory, unless WithColdAfter is negative.
func (db *DB) startFreezer() {
	if db.opts.coldAfter < 0 {
		return
	}
	db.freezeKick = make(chan struct{}, 1)
	db.freezeStop = make(chan struct{})
	db.freezeDone = make(chan struct{})
	go func() {
		defer close(db.freezeDone)
		db.freezer(db.freezeStop)
	}()
}

// kickFreezer wakes the freezer after a run ended.
func (db *DB) kickFreezer() {
	if db.freezeKick != nil {
		select {
		case db.freezeKick <- struct{}{}:
		default:
		}
	}
}
