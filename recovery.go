package inmem

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/keys"
	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/inmem-db/inmem/occ"
	"github.com/inmem-db/inmem/wal"
)

// ErrLocked is returned by Open when another handle or process has the
// database directory open.
var ErrLocked = errors.New("inmem: database directory is locked by another handle")

const lockName = "LOCK"

func walDir(dir string) string { return filepath.Join(dir, "wal") }

// openDurable locks dir, recovers the newest valid snapshot and the WAL
// after it into db's store, and starts a fresh WAL segment.
func (db *DB) openDurable() error {
	fs, dir := db.fs, db.dir
	if err := fs.MkdirAll(walDir(dir)); err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	lock, err := fs.Lock(filepath.Join(dir, lockName))
	if err != nil {
		if errors.Is(err, vfs.ErrLocked) {
			return fmt.Errorf("open %s: %w", dir, ErrLocked)
		}
		return fmt.Errorf("open %s: lock: %w", dir, err)
	}
	db.lock = lock
	if err := db.recover(); err != nil {
		lock.Close()
		return err
	}
	d := db.opts.durability
	mode := map[durabilityMode]wal.Mode{modeStrict: wal.Strict, modeBatched: wal.Batched, modeAsync: wal.Async}[d.mode]
	wopts := wal.Options{
		FS: fs, Dir: walDir(dir), Mode: mode,
		Interval: d.interval, MaxPending: d.maxCommits, SegmentSize: db.opts.segmentSize,
	}
	// Go on in the last segment, so that an open without a commit leaves
	// the log as it was; a full one (or none) gets a successor.
	log, err := wal.Resume(wopts, db.walLast)
	if db.walLast == 0 || errors.Is(err, wal.ErrSegmentFull) {
		log, err = wal.Create(wopts, db.walNext)
	}
	if err != nil {
		lock.Close()
		return fmt.Errorf("open %s: %w", dir, err)
	}
	db.store.Log = log
	db.store.ReclaimCheck = db.maybeReclaim // recovery may have replaced the store
	db.store.Strict = d.mode == modeStrict
	db.store.AfterCommit = db.maybeCheckpoint
	db.walAtCheckpoint.Store(-db.walReplayed)
	return nil
}

// recover loads the newest snapshot that checks out (falling back to older
// ones) and replays the WAL after it. Read-only, it changes no file.
func (db *DB) recover() error {
	fs, dir, write := db.fs, db.dir, !db.opts.readOnly
	if write {
		if err := removeTemps(fs, dir); err != nil {
			return fmt.Errorf("open %s: %w", dir, err)
		}
	}
	snaps, err := snapshots(fs, dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	prog := newRecoveryProgress(db.opts.progress, fs, dir)
	var meta snapMeta
	var last uint64
	from := uint64(1)
	for i, v := range snaps {
		path := filepath.Join(dir, snapshotName(v))
		ld := engine.NewLoader(db.store.Current().List)
		prog.snapshot(path)
		m, err := readSnapshot(fs, path, prog.entries(ld.Add))
		ld.Finish()
		if err == nil {
			meta, last, from = m, m.version, m.segment
			db.loadVectorRecords(meta.vectors)
			db.lastSnapBytes.Store(meta.bytes)
			db.snapAt.Store(meta.version)
			db.opts.logger.Info("recovered snapshot", "file", path, "version", v)
			break
		}
		if !errors.Is(err, ErrCorruption) && !errors.Is(err, wal.ErrCorruption) {
			return fmt.Errorf("open %s: %w", dir, err)
		}
		db.opts.logger.Warn("snapshot failed its checks, trying the previous one", "file", path, "error", err)
		// The partial load is discarded: start from an empty engine.
		st, serr := engine.NewStore()
		if serr != nil {
			return serr
		}
		db.store = st
		if i == len(snaps)-1 {
			// No snapshot checks out. The whole history can still be
			// replayed if no WAL was ever retired (segment 1 is there).
			segs, serr := wal.Segments(fs, walDir(dir))
			if serr != nil || len(segs) == 0 || segs[0] != 1 {
				return fmt.Errorf("open %s: no snapshot checks out, newest: %w", dir, err)
			}
		}
	}
	if err := db.applySnapshotRuns(meta); err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	if err := db.applySnapshotCold(meta.version); err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}

	// Every WAL record after the snapshot goes through the apply path
	// (apply.go), in version order.
	ld := engine.NewLoader(db.store.Current().List)
	prog.wal(from)
	apply := func(typ byte, p []byte) error {
		prog.record(len(p))
		if typ != engine.RecBatch && typ != engine.RecBatchTimed {
			return fmt.Errorf("unknown record type %d: %w", typ, ErrCorruption)
		}
		v, err := db.applyRecord(typ, p, meta.version, false, ld.Add)
		if err == nil && v > occ.MaxVersion {
			return fmt.Errorf("record at version %d, past the highest an oracle holds (%d): %w", v, uint64(occ.MaxVersion), ErrCorruption)
		}
		last = max(last, v)
		return err
	}
	var res wal.RecoverResult
	if write {
		res, err = wal.Recover(fs, walDir(dir), from, db.opts.logger, apply)
	} else {
		res, err = wal.Read(fs, walDir(dir), from, apply)
	}
	ld.Finish()
	if err != nil {
		if errors.Is(err, wal.ErrCorruption) && !errors.Is(err, ErrCorruption) {
			err = fmt.Errorf("%w: %w", ErrCorruption, err)
		}
		return fmt.Errorf("open %s: %w", dir, err)
	}
	prog.finish()
	if write {
		if err := db.syncRecovered(res); err != nil {
			return err
		}
		// What recovery read is durable: a cold file it found no manifest
		// entry for is an orphan.
		if err := db.cold.sweep(); err != nil {
			return fmt.Errorf("open %s: %w", dir, err)
		}
	}
	db.walNext, db.walLast = res.Next, res.Last
	db.walReplayed = res.Bytes
	if last > occ.MaxVersion {
		return fmt.Errorf("open %s: snapshot at version %d, past the highest an oracle holds (%d): %w", dir, last, uint64(occ.MaxVersion), ErrCorruption)
	}
	db.store.Oracle = occ.New(last)
	if err := db.mendVectors(); err != nil {
		db.opts.logger.Warn("snapshot vector graphs not used; they will be rebuilt", "error", err)
		clear(db.vecs)
	}
	return nil
}

// syncRecovered makes what recovery read durable before anything is
// written after it.
func (db *DB) syncRecovered(res wal.RecoverResult) error {
	fs, dir := db.fs, db.dir
	// What was replayed may sit only in the page cache (a process that died
	// without fsyncing): make it durable before writing after it, or a
	// later power loss could keep the new segment and lose the old data.
	// That is the last segment with records and the last one kept, which
	// may be one that process prepared ahead.
	for _, n := range slices.Compact([]uint64{res.LastWithRecords, res.Last}) {
		if n == 0 {
			continue
		}
		f, err := fs.OpenAppend(filepath.Join(walDir(dir), wal.SegmentName(n)))
		if err == nil {
			err = f.Sync()
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return fmt.Errorf("open %s: sync recovered wal: %w", dir, err)
		}
	}
	if err := fs.SyncDir(walDir(dir)); err != nil {
		return fmt.Errorf("open %s: sync wal dir: %w", dir, err)
	}
	return nil
}

// applySnapshotRuns registers the runs whose records a snapshot holds,
// through the apply path, and gives them the snapshot's steps. The
// snapshot's entries are linked already.
func (db *DB) applySnapshotRuns(meta snapMeta) error {
	_, err := db.applySnapshotRunsLive(meta)
	return err
}

// applySnapshotRunsLive is applySnapshotRuns, returning the runs whose
// records are live in the snapshot. A run record the registry holds a
// newer version of already changes nothing (applyRunRecord); the steps of
// meta.logs are appended to what each run holds.
func (db *DB) applySnapshotRunsLive(meta snapMeta) (map[RunID]bool, error) {
	live := map[RunID]bool{}
	if meta.version == 0 {
		return live, nil // no snapshot
	}
	prefix := append([]byte(nil), db.system.scope...)
	prefix = append(prefix, keys.TagRunMeta)
	var ferr error
	db.store.Current().Scan(prefix, meta.version, nil, func(key, val []byte, v uint64) bool {
		id, ok := db.isRunRecordKey(key)
		if !ok {
			ferr = fmt.Errorf("run record key %q: %w", key, ErrCorruption)
			return false
		}
		var rec runRecord
		if err := json.Unmarshal(val, &rec); err != nil {
			ferr = fmt.Errorf("run record: %v: %w", err, ErrCorruption)
			return false
		}
		db.applyRunRecordOf(id, &rec, v)
		live[id] = true
		return true
	})
	if ferr != nil {
		return nil, ferr
	}
	for id, log := range meta.logs {
		db.runsMu.RLock()
		rs := db.runs[id]
		db.runsMu.RUnlock()
		if rs == nil {
			continue // its record is not live: a deleted run's steps
		}
		for _, st := range log {
			rs.ApplyStep(st.Version, st.Time)
		}
	}
	db.runsMu.RLock()
	defer db.runsMu.RUnlock()
	for id, n := range meta.steps {
		if rs := db.runs[id]; rs != nil {
			rs.Steps.Store(n)
		}
	}
	return live, nil
}

// removeTemps deletes snapshot files a crash left half written.
func removeTemps(fs vfs.FS, dir string) error {
	names, err := fs.List(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if strings.HasSuffix(n, ".snap.tmp") {
			if err := fs.Remove(filepath.Join(dir, n)); err != nil {
				return err
			}
		}
	}
	return nil
}
