package inmem

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"

	"github.com/hashicorp/raft"
	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/wal"
)

// clusterFSM is the raft state machine of a cluster node: the database.
// Every node applies the records the cluster commits through the one
// apply path (apply.go), the same way recovery applies the WAL, with the
// versions and times the leader gave them.
type clusterFSM struct{ c *clusterNode }

// Apply applies a log entry: a group of commit records, in version order.
// It returns the versions it applied (appliedRange), or the error that
// stopped the node.
func (f clusterFSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	c := f.c
	c.applyMu.Lock()
	defer c.applyMu.Unlock()
	if err := c.broken(); err != nil {
		return err
	}
	var r appliedRange
	b := l.Data
	for len(b) > 0 {
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) || n < engine.BatchHeader {
			return c.failApply(fmt.Errorf("cluster: raft entry %d: bad record length: %w", l.Index, ErrCorruption))
		}
		rec := b[w : w+int(n)]
		b = b[w+int(n):]
		v, err := c.applyRecord(rec)
		if err != nil {
			return c.failApply(fmt.Errorf("cluster: raft entry %d: %w", l.Index, err))
		}
		if v != 0 {
			if r.lo == 0 {
				r.lo = v
			}
			r.hi = v
		}
	}
	return r
}

// appliedRange is what Apply returns for an entry: the versions lo..hi
// of its records that it applied (none: hi is 0). The others were passed
// over (see applyRecord).
type appliedRange struct{ lo, hi uint64 }

// failApply stops the node from applying more of the log: its state could
// no longer be the cluster's. Its reads keep what it applied.
func (c *clusterNode) failApply(err error) error {
	c.fault.CompareAndSwap(nil, &err)
	c.writable.Store(false)
	c.db.opts.logger.Error("cluster node stopped applying the log", "error", err)
	return err
}

// applyRecord applies one commit record and returns its version, or 0 if
// it passed the record over: every node applies a record only if it is the
// next version, and passes it over otherwise, the same way on every node
// since they apply the same log from the same state. A record at or below
// the applied version is one this node's WAL already held when it opened
// (raft replays the log from its last snapshot), or a proposal of a
// leadership that ended and whose version another leader reused. One past
// a gap is a proposal made after an earlier one of the same leader was
// lost, by a leader that lost and regained its leadership in between: its
// committer is told nothing was written, and the leader settles before it
// proposes again.
func (c *clusterNode) applyRecord(rec []byte) (uint64, error) {
	db := c.db
	s := db.store
	v := binary.LittleEndian.Uint64(rec)
	applied := s.Oracle.Visible()
	if v == 0 {
		return 0, fmt.Errorf("a commit record of version 0: %w", ErrCorruption)
	}
	if v <= applied {
		return 0, nil
	}
	if v != applied+1 {
		db.opts.logger.Warn("cluster: a record after a gap passed over", "version", v, "applied", applied)
		return 0, nil
	}
	s.Oracle.Adopt(v)
	var writes []engine.Write
	if _, err := db.applyRecord(engine.RecBatchTimed, rec, applied, true, func(key []byte, _ uint64, val []byte) error {
		writes = append(writes, engine.Write{Key: key, Val: val})
		return nil
	}); err != nil {
		return 0, err
	}
	if err := s.ApplyAt(&c.applyScope, writes, v, rec); err != nil {
		return 0, err
	}
	s.Oracle.Done(v)
	if s.AfterCommit != nil {
		s.AfterCommit()
	}
	if v&(engine.ReclaimCheckEvery-1) == 0 && s.ReclaimCheck != nil {
		s.ReclaimCheck()
	}
	return v, nil
}

// clusterSnapMagic starts a raft snapshot of a cluster node: the
// database's newest snapshot file follows, after its version.
const clusterSnapMagic = "inmem-raft-snap-1"

// Snapshot captures the applied version; Persist writes the database's
// checkpoint at or after it.
func (f clusterFSM) Snapshot() (raft.FSMSnapshot, error) {
	return &clusterSnap{c: f.c, at: f.c.db.store.Oracle.Visible()}, nil
}

// Restore is called when the leader sends this node a snapshot because
// the log it needs was compacted away: a node added to a cluster whose log
// no longer starts at the beginning, or one that was down while the
// leader compacted past what it had applied. What the node applied is a
// prefix of what the snapshot holds, so the node catches up by taking
// what the snapshot holds after it (restoreSnapshot). A snapshot the node
// already holds changes nothing.
func (f clusterFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	c := f.c
	br := bufio.NewReader(rc)
	hdr := make([]byte, len(clusterSnapMagic)+8)
	if _, err := io.ReadFull(br, hdr); err != nil || string(hdr[:len(clusterSnapMagic)]) != clusterSnapMagic {
		return fmt.Errorf("cluster: raft snapshot: bad header: %w", ErrCorruption)
	}
	v := binary.LittleEndian.Uint64(hdr[len(clusterSnapMagic):])
	c.applyMu.Lock()
	defer c.applyMu.Unlock()
	if err := c.broken(); err != nil {
		return err
	}
	if v <= c.db.store.Oracle.Visible() {
		return nil
	}
	if err := c.db.restoreSnapshot(br, v); err != nil {
		return c.failApply(fmt.Errorf("cluster: loading the leader's snapshot: %w", err))
	}
	return nil
}

// restoreSnapshot brings this database from the version it applied up to
// a database snapshot at version v, read from r, that holds everything it
// applied and more: the file goes into the directory (its WAL segment made
// this database's own), the entries after the applied version into the
// arena, unseen by readers until the end; runs are registered, brought up
// to their records and given their later steps, runs deleted meanwhile
// are dropped, vector graphs are forgotten (built again on first use);
// then v becomes visible. The caller holds the apply lock, and nothing is
// proposed meanwhile (a follower).
func (db *DB) restoreSnapshot(r io.Reader, v uint64) error {
	db.ckptMu.Lock() // and so no reclaim copies the arena meanwhile
	defer db.ckptMu.Unlock()
	applied := db.store.Oracle.Visible()
	// A new WAL segment: what is applied after the snapshot goes there,
	// and the snapshot says recovery starts from it.
	cut, err := db.store.Log.Rotate()
	if err != nil {
		return err
	}
	segment, err := cut.Wait()
	if err != nil {
		return err
	}
	h := make([]byte, wal.HeaderSize)
	if _, err := io.ReadFull(r, h); err != nil {
		return fmt.Errorf("snapshot header: %w", err)
	}
	n := binary.LittleEndian.Uint32(h)
	if n > wal.MaxRecord {
		return fmt.Errorf("snapshot header of %d bytes: %w", n, ErrCorruption)
	}
	frame := append(h, make([]byte, n)...)
	if _, err := io.ReadFull(r, frame[wal.HeaderSize:]); err != nil {
		return fmt.Errorf("snapshot header: %w", err)
	}
	typ, p, _, err := wal.DecodeRecord(frame)
	if err != nil || typ != engine.RecSnapHeader {
		return fmt.Errorf("snapshot header: %w", ErrCorruption)
	}
	meta, err := decodeSnapHeader(p)
	if err != nil || meta.version != v {
		return fmt.Errorf("snapshot header (version %d, want %d): %w", meta.version, v, ErrCorruption)
	}
	binary.LittleEndian.PutUint64(p[len(snapMagic)+8:], segment)
	nh := wal.Header(typ, p)

	path := filepath.Join(db.dir, snapshotName(v))
	tmp := path + ".tmp"
	f, err := db.fs.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	_, err = w.Write(nh[:])
	if err == nil {
		_, err = w.Write(p)
	}
	if err == nil {
		_, err = io.Copy(w, r)
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = db.fs.Rename(tmp, path)
	}
	if err == nil {
		err = db.fs.SyncDir(db.dir)
	}
	if err != nil {
		_ = db.fs.Remove(tmp)
		return err
	}
	ld := engine.NewLoader(db.store.Current().List)
	meta, err = readSnapshot(db.fs, path, func(key []byte, ver uint64, val []byte) error {
		if ver <= applied {
			return nil // linked already
		}
		return ld.Add(key, ver, val)
	})
	ld.Finish()
	if err != nil {
		return err
	}
	for id, logs := range meta.logs { // the steps this node applied, it holds
		meta.logs[id] = slices.DeleteFunc(logs, func(st engine.StepRec) bool { return st.Version <= applied })
	}
	live, err := db.applySnapshotRunsLive(meta)
	if err != nil {
		return err
	}
	db.runsMu.RLock()
	var gone []RunID
	for id := range db.runs {
		if !live[id] {
			gone = append(gone, id)
		}
	}
	db.runsMu.RUnlock()
	for _, id := range gone {
		db.applyRunRecordOf(id, nil, v) // deleted after what this node applied
	}
	db.vecMu.Lock()
	built := maps.Clone(db.vecs)
	db.vecMu.Unlock()
	for k, vi := range built {
		db.evictVectorIndex(k, vi)
	}
	db.lastSnapBytes.Store(meta.bytes)
	db.snapAt.Store(v)
	db.store.Oracle.Restart(v)
	return nil
}

// clusterSnap is a raft snapshot: the database checkpoints, then the
// newest snapshot file is copied into raft's sink.
type clusterSnap struct {
	c  *clusterNode
	at uint64
}

func (s *clusterSnap) Persist(sink raft.SnapshotSink) error {
	err := s.persist(sink)
	if err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *clusterSnap) persist(w io.Writer) error {
	db := s.c.db
	// The checkpoint makes every commit up to s.at durable in the
	// database's own files before raft may drop the log before it.
	if err := db.checkpoint(); err != nil {
		return err
	}
	db.ckptMu.Lock() // no checkpoint retires the file while it is copied
	defer db.ckptMu.Unlock()
	snaps, err := snapshots(db.fs, db.dir)
	if err != nil {
		return err
	}
	if len(snaps) == 0 {
		return errors.New("cluster: no database snapshot after a checkpoint")
	}
	v := snaps[0] // the newest
	if v < s.at {
		return fmt.Errorf("cluster: the newest database snapshot (version %d) is older than the state to persist (%d)", v, s.at)
	}
	hdr := binary.LittleEndian.AppendUint64([]byte(clusterSnapMagic), v)
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	f, err := db.fs.Open(filepath.Join(db.dir, snapshotName(v)))
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

func (s *clusterSnap) Release() {}
