package engine

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/inmem-db/inmem/internal/errs"
	"github.com/inmem-db/inmem/occ"
	"github.com/inmem-db/inmem/skiplist"
)

// Commit is the one Commit path: a transaction (Tx.Commit) and a
// one-operation write (PutBlind) both end here. In order: each write is
// copied into an arena node and its place in the skiplist located (from
// the run's fingers), with no version yet, so nothing can fail between
// the version and the publish; the oracle validates the read set and
// assigns the version while the guard admits it and the WAL guard appends
// the record (the only critical section; a blind write of a run with no
// WAL takes its version outside it, see occ.Serial); the nodes are
// linked and the version published (after its fsync, in Strict mode);
// the commit returns once every version up to its own is visible, or
// with no WAL once it is acknowledged (occ's Ack: readers wait for it). An
// error after the version was assigned still publishes it, so later
// versions are never blocked.
//
// writes are in key order, each value stored as is (header included);
// tail, if any, is appended to the first one's value, so a one-write put
// needs no buffer to join its header and value. rd is the read set, with
// Writes a scratch slice of len(writes) (the oracle copies it); a nil rd
// is a single write that read nothing, which cannot conflict. offs and
// sps are scratch of len(writes), zeroed, from the caller's stack: sized
// for the path (a put's one Splice, not a transaction's sixteen, is what
// it zeroes). size counts
// toward the scope's bytes written. The arguments are separate, not a
// struct, so that escape analysis keeps a caller's stack arrays on the
// stack (a struct's fields leak together).
func (s *Store) Commit(sc *Scope, gen *Generation, writes []Write, tail []byte, offs []uint64, sps []skiplist.Splice, rd *occ.Txn, guard occ.Guard, size int64) (uint64, error) {
	if s.Replica != nil {
		return s.commitReplicated(sc, writes, tail, rd, guard)
	}
	n := len(writes)
	fc := sc.fingers.take(gen, writes[0].Key)
	tbl := sc.fingers.table(fc == nil)
	linked := false
	defer func() { fc.keep(gen, linked, offs, sps) }()
	tried, err := fc.prepare(gen, writes, tail, offs, sps, tbl)
	if err != nil {
		return 0, err
	}
	var one occ.Write // a blind write's, beside CommitBlind
	for i := range n {
		wr := occ.Write{FP: sps[i].Hash, Key: gen.List.PreparedKey(offs[i])}
		if rd != nil {
			rd.Writes[i] = wr
		} else {
			one = wr
		}
	}
	lg, wg := s.logged(guard, sc)
	defer wg.release()
	if wg != nil {
		wg.rec = binary.AppendUvarint(wg.rec, uint64(n))
		for i, w := range writes {
			t := tail
			if i > 0 {
				t = nil
			}
			wg.rec = AppendBatchEntry(wg.rec, w.Key, w.Val, t)
		}
	}
	var v uint64
	if rd == nil {
		v, err = s.Oracle.CommitBlind(one, gen, lg)
	} else {
		rd.Keep = gen // the keys alias its arena
		v, err = s.Oracle.Commit(rd, lg)
	}
	wg.kick()
	if err != nil {
		if errors.Is(err, occ.ErrConflict) {
			return 0, fmt.Errorf("commit: %w", errs.ErrConflict)
		}
		return 0, err
	}
	lerr := s.link(gen, offs, sps, v)
	// Fingers only for writes linked where they were located: a reclaim
	// swap moves them (see link).
	linked = lerr == nil && s.Gen.Load() == gen
	// What the commit does for later ones (follow) is done before it waits
	// for its fsync in Strict mode (the fsync runs meanwhile; after it, the
	// group's committers would do it all at once), and otherwise once it
	// is published:
	// the committer of the next version waits for this one (in order), and
	// with two writers that wait is as long as the span before Done.
	follow := func() {
		sc.reserveSteps(fc)
		if linked && tried {
			tbl.record(gen, offs, sps)
		}
		sc.Written.Add(size)
	}
	strict := wg != nil && s.Strict
	if strict {
		follow()
	}
	perr := s.publish(v, wg)
	if !strict {
		follow()
	}
	s.settle(v, wg)
	if perr != nil {
		return v, perr
	}
	return v, lerr
}

// prepare copies each write into an arena node of gen and locates its
// place (from the fingers), with no version yet: offs and sps, of
// len(writes), receive the nodes and their splices, and each splice's Hash
// is its key's fingerprint. tail, if any, is appended to the first write's
// value. A first write the cache could not place is placed from tbl, the
// run's finger table, when there is one; tried reports whether the table
// was consulted for it, and so is to keep where it was linked (a cache
// keeps its own writer's place).
func (fc *fingerCache) prepare(gen *Generation, writes []Write, tail []byte, offs []uint64, sps []skiplist.Splice, tbl *fingerTable) (tried bool, err error) {
	fj := 0
	blk := fc.block(gen)
	for i, w := range writes {
		t := tail
		if i > 0 {
			t = nil
		}
		off, err := gen.List.PrepareIn(blk, w.Key, w.Val, t)
		if err != nil {
			return false, fmt.Errorf("commit: %w", err)
		}
		offs[i] = off
		k := gen.List.PreparedKey(off)
		sps[i].Unindexed = ScanOnly(w.Val)
		sps[i].Hash = Fingerprint(k) // the point index hashes as the oracle does
		if fc.near(gen, off, k, &sps[i], &fj) {
			continue
		}
		if i == 0 {
			var ok bool
			if ok, tried = tbl.locate(gen, off, k, &sps[0]); ok {
				continue
			}
		}
		var hint *skiplist.Splice
		if i > 0 {
			hint = &sps[i-1]
		}
		gen.List.LocateAfter(off, &sps[i], hint)
	}
	return tried, nil
}
