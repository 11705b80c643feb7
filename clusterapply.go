package inmem

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/hashicorp/raft"
	"github.com/inmem-db/inmem/internal/engine"
)

// clusterFSM is the raft state machine of a cluster node: the database.
// Every node applies the records the cluster commits through the one
// apply path (apply.go), the same way recovery applies the WAL, with the
// versions and times the leader gave them.
type clusterFSM struct{ c *clusterNode }

// Apply applies a log entry: a group of commit records, in version order.
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
	b := l.Data
	for len(b) > 0 {
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) || n < engine.BatchHeader {
			return c.failApply(fmt.Errorf("cluster: raft entry %d: bad record length: %w", l.Index, ErrCorruption))
		}
		rec := b[w : w+int(n)]
		b = b[w+int(n):]
		if err := c.applyRecord(rec); err != nil {
			return c.failApply(fmt.Errorf("cluster: raft entry %d: %w", l.Index, err))
		}
	}
	return nil
}

// failApply stops the node from applying more of the log: its state could
// no longer be the cluster's. Its reads keep what it applied.
func (c *clusterNode) failApply(err error) error {
	c.fault.CompareAndSwap(nil, &err)
	c.writable.Store(false)
	c.db.opts.logger.Error("cluster node stopped applying the log", "error", err)
	return err
}

// applyRecord applies one commit record. A record at or below the applied
// version is one this node's WAL already held when it opened (raft replays
// the log from its last snapshot); any other must be the next version.
func (c *clusterNode) applyRecord(rec []byte) error {
	db := c.db
	s := db.store
	v := binary.LittleEndian.Uint64(rec)
	applied := s.Oracle.Visible()
	if v <= applied {
		return nil
	}
	if v != applied+1 {
		return fmt.Errorf("the log's next commit is version %d, this node applied %d: %w", v, applied, ErrCorruption)
	}
	s.Oracle.Adopt(v)
	var writes []engine.Write
	if _, err := db.applyRecord(engine.RecBatchTimed, rec, applied, true, func(key []byte, _ uint64, val []byte) error {
		writes = append(writes, engine.Write{Key: key, Val: val})
		return nil
	}); err != nil {
		return err
	}
	if err := s.ApplyAt(&c.applyScope, writes, v, rec); err != nil {
		return err
	}
	s.Oracle.Done(v)
	if s.AfterCommit != nil {
		s.AfterCommit()
	}
	if v&(engine.ReclaimCheckEvery-1) == 0 && s.ReclaimCheck != nil {
		s.ReclaimCheck()
	}
	return nil
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
// the log it needs was compacted away. The database cannot take a whole
// new state while it is open, so a snapshot ahead of what this node
// applied is refused (raft retries it); one it already holds is accepted.
func (f clusterFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	br := bufio.NewReader(rc)
	hdr := make([]byte, len(clusterSnapMagic)+8)
	if _, err := io.ReadFull(br, hdr); err != nil || string(hdr[:len(clusterSnapMagic)]) != clusterSnapMagic {
		return fmt.Errorf("cluster: raft snapshot: bad header: %w", ErrCorruption)
	}
	v := binary.LittleEndian.Uint64(hdr[len(clusterSnapMagic):])
	if applied := f.c.db.store.Oracle.Visible(); v > applied {
		err := fmt.Errorf("cluster: the leader sent a snapshot at version %d and this node applied %d: the node must be reopened from a copy of a member's directory", v, applied)
		f.c.db.opts.logger.Error("cluster node cannot catch up from the log", "error", err)
		return err
	}
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
