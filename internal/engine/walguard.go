package engine

import (
	"encoding/binary"
	"sync"

	"github.com/inmem-db/inmem/occ"
	"github.com/inmem-db/inmem/wal"
)

// walGuard appends a commit's batch record to the WAL inside the commit
// critical section, right after the inner guard admitted it, so the log
// holds commits in version order and a crash leaves a prefix of them.
type walGuard struct {
	inner occ.Guard
	sc    *Scope // the committing scope: a step of it logs its time
	log   *wal.Log
	rec   []byte // batch; version and step time go into its first 16 bytes
	group *wal.Group
	wake  bool // the syncer is to be woken once the critical section is left
}

// Admit stamps the version and appends. If the append fails (the log is
// poisoned or closed) the commit is refused; side effects the inner guard
// already had are moot then, because a poisoned handle takes no more writes.
func (g *walGuard) Admit(v uint64) error {
	if g.inner != nil {
		if err := g.inner.Admit(v); err != nil {
			return err
		}
	}
	binary.LittleEndian.PutUint64(g.rec, v)
	var t int64
	if !g.sc.Shared {
		// A step the guard just recorded: its time goes to the log with
		// it, so recovery restores the step list exactly.
		if st, ok := g.sc.Log.Last(); ok && st.Version == v {
			t = st.Time
		}
	}
	binary.LittleEndian.PutUint64(g.rec[8:], uint64(t))
	// Inside the critical section: the syncer is woken after it (kick).
	grp, wake, err := g.log.AppendNoWake(RecBatchTimed, g.rec)
	if err != nil {
		return err
	}
	g.group, g.wake = grp, wake
	return nil
}

// kick wakes the syncer if the append asked for it; callers run it right
// after the commit's critical section. It is nil-safe.
func (g *walGuard) kick() {
	if g != nil && g.wake {
		g.wake = false
		g.log.Wake()
	}
}

// walGuards recycles guards and their record buffers: a commit would
// otherwise allocate both (the guard escapes through the occ.Guard
// interface), and the log copies the record, so neither outlives the commit.
var walGuards = sync.Pool{New: func() any { return new(walGuard) }}

// maxPooledRecord bounds the buffer a pooled guard keeps.
const maxPooledRecord = 64 << 10

// logged wraps g so the commit is written to the WAL, when there is one.
// The caller appends the batch to wg.rec, after the batchHeader bytes reserved
// for the version and time, and calls wg.release once the commit is published or failed.
func (s *Store) logged(g occ.Guard, sc *Scope) (occ.Guard, *walGuard) {
	if s.Log == nil {
		return g, nil
	}
	wg := walGuards.Get().(*walGuard)
	wg.inner, wg.sc, wg.log = g, sc, s.Log
	wg.rec = append(wg.rec[:0], make([]byte, BatchHeader)...)
	return wg, wg
}

// release returns the guard to the pool. It is nil-safe.
func (g *walGuard) release() {
	if g == nil {
		return
	}
	g.kick() // never leave a wake-up owed
	g.inner, g.sc, g.log, g.group = nil, nil, nil, nil
	if cap(g.rec) > maxPooledRecord {
		g.rec = nil
	}
	walGuards.Put(g)
}

// publish makes commit v visible once its writes are linked: in Strict
// mode only after its WAL group is durable. The version is released
// whatever happens, so later versions are never blocked; an error means the
// commit was not acknowledged (and the log is poisoned).
//
// In Strict mode v is marked applied before the wait and released after
// it, which vouches for every version below v too: they were appended
// before it (versions are assigned and appended in one critical section),
// so the fsync that released v covered them. The first committer of a
// group to run after its fsync thus makes the whole group visible, and the
// others find themselves visible at once; were each to publish its own
// version after its wait, each would wait for the committers of every
// earlier version in the group to be scheduled first, and at 64 committers
// on 2 cores those waits, yielding by turns, took most of the CPU.
//
// Once it returns, later versions may become visible; the commit itself
// is acknowledged only after settle.
func (s *Store) publish(v uint64, wg *walGuard) error {
	var err error
	if wg != nil && s.Strict {
		s.Oracle.Applied(v)
		err = wg.group.Wait()
		s.Oracle.Release(v)
	} else {
		s.Oracle.Done(v)
	}
	return err
}

// settle runs what follows a commit, published. With a WAL it returns once
// v is visible (every earlier version is too); without one, v is
// acknowledged (occ's Ack) and readers wait for it: with two writers, each
// waited here for the other's commit, taken just before its own.
func (s *Store) settle(v uint64, wg *walGuard) {
	if wg != nil {
		s.Oracle.WaitVisible(v)
		s.AfterCommit()
	} else {
		s.Oracle.Ack(v)
	}
	if v&(ReclaimCheckEvery-1) == 0 && s.ReclaimCheck != nil {
		s.ReclaimCheck()
	}
}
