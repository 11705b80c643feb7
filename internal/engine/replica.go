package engine

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/inmem-db/inmem/internal/errs"
	"github.com/inmem-db/inmem/occ"
	"github.com/inmem-db/inmem/skiplist"
)

// Replica is the replication a clustered store commits through. The
// leader's commits are validated and versioned by the oracle as on one
// node, but their records are proposed to the Replica instead of being
// linked and logged; every node, the leader included, links the records
// the replication commits, in version order, through ApplyAt. So a record
// changes a node's state only once a quorum holds it.
type Replica interface {
	// Enter is called before a commit is validated: it returns nil if
	// this node may propose commits now, and otherwise the error the
	// commit fails with (not the leader; or a transaction with reads
	// whose snapshot is older than this node's leadership, which may
	// have missed conflicts: ErrConflict). A nil return is paired with
	// one Leave, once the commit is over.
	Enter(snapshot uint64, reads bool) error
	// Propose queues rec, a commit's RecBatchTimed record stamped with
	// its version v and step time. It runs inside the commit critical
	// section, so records queue in version order; it must not block, and
	// it copies rec. An error refuses the commit before v is taken.
	Propose(v uint64, rec []byte) (Proposal, error)
	// Leave ends what Enter began.
	Leave()
}

// Proposal is a proposed commit's outcome.
type Proposal interface {
	// Wait returns nil once the commit of version v is applied on this
	// node, or the error the commit fails with: nothing was written (not
	// the leader, or a conflict), or an outcome that cannot be known.
	Wait(v uint64) error
}

// replGuard proposes a commit's record once the inner guard admitted it.
type replGuard struct {
	inner occ.Guard
	sc    *Scope
	r     Replica
	rec   []byte
	p     Proposal
}

func (g *replGuard) Admit(v uint64) error {
	if g.inner != nil {
		if err := g.inner.Admit(v); err != nil {
			return err
		}
	}
	binary.LittleEndian.PutUint64(g.rec, v)
	var t int64
	if !g.sc.Shared && g.sc.Proposed.Version == v {
		t = g.sc.Proposed.Time
	}
	binary.LittleEndian.PutUint64(g.rec[8:], uint64(t))
	p, err := g.r.Propose(v, g.rec)
	g.p = p
	return err
}

// commitReplicated is Commit on a clustered store: the record is built
// first, the oracle validates and versions it, the guard proposes it, and
// the commit returns once this node applied it (ApplyAt, from the
// replication's apply loop), visible to its readers.
func (s *Store) commitReplicated(sc *Scope, writes []Write, tail []byte, rd *occ.Txn, guard occ.Guard) (uint64, error) {
	var snapshot uint64
	reads := false
	if rd != nil {
		snapshot, reads = rd.Snapshot, len(rd.Reads)+len(rd.Prefixes) > 0
	}
	if err := s.Replica.Enter(snapshot, reads); err != nil {
		return 0, err
	}
	defer s.Replica.Leave()
	n := len(writes)
	size := BatchHeader + 10
	for _, w := range writes {
		size += len(w.Key) + len(w.Val) + 20
	}
	rec := make([]byte, BatchHeader, size+len(tail))
	rec = binary.AppendUvarint(rec, uint64(n))
	at := make([]int, n) // where each key starts in rec
	for i, w := range writes {
		t := tail
		if i > 0 {
			t = nil
		}
		rec = binary.AppendUvarint(rec, uint64(len(w.Key)))
		at[i] = len(rec)
		rec = append(rec, w.Key...)
		rec = binary.AppendUvarint(rec, uint64(len(w.Val)+len(t)))
		rec = append(rec, w.Val...)
		rec = append(rec, t...)
	}
	// The oracle keeps the keys while the commit can conflict: they alias
	// rec, which it keeps.
	var one occ.Write
	for i, w := range writes {
		k := rec[at[i] : at[i]+len(w.Key)]
		wr := occ.Write{FP: Fingerprint(k), Key: k}
		if rd != nil {
			rd.Writes[i] = wr
		} else {
			one = wr
		}
	}
	g := &replGuard{inner: guard, sc: sc, r: s.Replica, rec: rec}
	var v uint64
	var err error
	if rd == nil {
		v, err = s.Oracle.CommitBlind(one, rec, g)
	} else {
		rd.Keep = rec
		v, err = s.Oracle.Commit(rd, g)
	}
	if err != nil {
		if errors.Is(err, occ.ErrConflict) {
			return 0, fmt.Errorf("commit: %w", errs.ErrConflict)
		}
		return 0, err
	}
	if err := g.p.Wait(v); err != nil {
		return 0, err
	}
	s.Oracle.WaitVisible(v)
	return v, nil
}

// ApplyAt links a replicated commit's writes (in key order, each value as
// stored) at version v, and appends its record rec to the WAL if there is
// one, without waiting for it to be durable: the replication's log is the
// durable copy. sc is the applier's scope, for its fingers. The caller
// applies records one at a time, in version order, and publishes v
// (Oracle.Done) once what it derives from the record is applied too.
func (s *Store) ApplyAt(sc *Scope, writes []Write, v uint64, rec []byte) error {
	if len(writes) > 0 {
		gen := s.Gen.Load()
		offs := make([]uint64, len(writes))
		sps := make([]skiplist.Splice, len(writes))
		fc := sc.fingers.take(gen, writes[0].Key)
		_, err := fc.prepare(gen, writes, nil, offs, sps, nil)
		if err == nil {
			err = s.link(gen, offs, sps, v)
		}
		fc.keep(gen, err == nil && s.Gen.Load() == gen, offs, sps)
		if err != nil {
			return err
		}
	}
	if s.Log == nil {
		return nil
	}
	_, wake, err := s.Log.AppendNoWake(RecBatchTimed, rec)
	if wake {
		s.Log.Wake()
	}
	return err
}
