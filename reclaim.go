package inmem

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inmem-db/inmem/internal/keys"
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

// rebuild is a reclaim in progress as commits see it.
type rebuild struct {
	base     uint64 // commits above it are not in the copy: they record their links
	cut      uint64 // set before swapping
	swapping atomic.Bool
	swapped  chan struct{} // closed when commits above cut may link (swapped or aborted)

	mu  sync.Mutex
	log []linkedEntry
}

type linkedEntry struct {
	g   *generation
	off uint64
}

// record notes entries a commit above base linked in g.
func (rb *rebuild) record(g *generation, offs []uint64, _ uint64) {
	rb.mu.Lock()
	for _, o := range offs {
		rb.log = append(rb.log, linkedEntry{g, o})
	}
	rb.mu.Unlock()
}

func (rb *rebuild) take() []linkedEntry {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	l := rb.log
	rb.log = nil
	return l
}

// keepRule is what a reclaim keeps of one scope's keys: every version
// above horizon and the newest at or below it (unless dropDead and it is a
// delete or expired).
type keepRule struct {
	horizon  uint64
	dropDead bool
}

// retention returns the rules by scope; scopes not in it get def.
func (db *DB) retention(horizon uint64) (map[string]keepRule, keepRule) {
	rules := map[string]keepRule{}
	db.runsMu.RLock()
	defer db.runsMu.RUnlock()
	for _, rs := range db.runs {
		r := keepRule{} // everything
		if c := int(rs.compacted.Load()); c > 0 && c <= rs.log.len() {
			r.horizon = rs.log.at(c - 1).version
		}
		if _, set := rules[string(rs.scope)]; !set {
			rules[string(rs.scope)] = r
		}
		for _, b := range rs.bases {
			rules[string(b.scope)] = keepRule{} // a fork reads through it
		}
	}
	return rules, keepRule{horizon: horizon, dropDead: true}
}

func (db *DB) reclaim() (ReclaimStats, error) {
	start := time.Now()
	s := db.store
	old := s.current()
	st := ReclaimStats{Before: old.arena.Stats().Used}
	ng, err := newGeneration()
	if err != nil {
		return st, err
	}
	rb := &rebuild{swapped: make(chan struct{})}
	s.oracle.Exclusive(func(last uint64) {
		rb.base = last
		s.rebuild.Store(rb)
	})
	abort := func(err error) (ReclaimStats, error) {
		rb.swapping.Store(false)
		s.rebuild.Store(nil)
		close(rb.swapped)
		return st, fmt.Errorf("reclaim: %w", err)
	}
	s.oracle.WaitVisible(rb.base) // every commit at or below base is linked
	rules, def := db.retention(min(rb.base, s.oracle.Watermark()))
	clock := db.opts.clock

	var (
		cur      []byte
		decided  bool
		rule     keepRule
		lastScop []byte
	)
	it := old.list.Iter()
	for it.First(); it.Valid(); it.Next() {
		k, v := it.Key(), it.Version()
		if v > rb.base {
			continue // recorded by its commit
		}
		if !bytes.Equal(k, cur) {
			cur, decided = k, false
			if n := keys.ScopeLen(k); n < 0 {
				rule = keepRule{} // not a key of any scope: keep it all
				lastScop = nil
			} else if lastScop == nil || !bytes.Equal(k[:n], lastScop) {
				lastScop = k[:n]
				r, ok := rules[string(lastScop)]
				if !ok {
					r = def
				}
				rule = r
			}
		}
		if v <= rule.horizon {
			if decided {
				st.Dropped++
				continue
			}
			decided = true
			if rule.dropDead {
				if _, live := decodeValue(it.Value(), clock); !live {
					st.Dropped++
					continue
				}
			}
		}
		if _, _, err := ng.list.InsertEntry(k, v, it.Value(), it.Unindexed()); err != nil {
			return abort(err)
		}
		st.Kept++
	}
	// What the copy kept is the live data; the catch-up below adds what
	// commits wrote meanwhile, mostly to be overwritten again, so the next
	// trigger is measured from the copy alone.
	live := ng.arena.Stats().Used
	catchUp := func() (int, error) {
		batch := rb.take()
		for _, e := range batch {
			k, val, v, un := e.g.list.NodeAt(e.off)
			if _, _, err := ng.list.InsertEntry(k, v, val, un); err != nil {
				return 0, err
			}
		}
		st.CaughtUp += int64(len(batch))
		return len(batch), nil
	}
	for range 8 { // until little is left, so writers wait only for that
		n, err := catchUp()
		if err != nil {
			return abort(err)
		}
		if n < 256 {
			break
		}
	}
	s.oracle.Exclusive(func(last uint64) {
		rb.cut = last
		rb.swapping.Store(true)
	})
	gap := time.Now()
	s.oracle.WaitVisible(rb.cut) // every commit at or below the cut is linked and recorded
	if _, err := catchUp(); err != nil {
		return abort(err)
	}
	s.gen.Store(ng)
	close(rb.swapped)
	st.WriterGap = time.Since(gap)
	s.rebuild.Store(nil)
	st.After = ng.arena.Stats().Used
	st.Took = time.Since(start)
	db.reclaims.Add(1)
	db.reclaimedAt.Store(live)
	db.markReclaimed()
	return st, nil
}

// release reports a run's data as reclaimable (it was deleted, archived
// or compacted).
func (db *DB) release(rs *runState) {
	w := rs.written.Load()
	db.released.Add(w - rs.released.Swap(w))
}

// garbage estimates the bytes a reclaim would free: what shared scopes and
// run records wrote since the last reclaim (their overwritten versions) and
// what released runs held. It errs high (a shared scope that only adds
// keys frees nothing), which the growth condition of maybeReclaim bounds.
func (db *DB) garbage() int64 {
	g := db.released.Load() + db.system.written.Load() - db.system.reclaimed.Load()
	db.runsMu.RLock()
	for _, rs := range db.shared {
		g += rs.written.Load() - rs.reclaimed.Load()
	}
	db.runsMu.RUnlock()
	return g
}

// markReclaimed resets garbage's counters after a reclaim.
func (db *DB) markReclaimed() {
	db.released.Store(0)
	db.system.reclaimed.Store(db.system.written.Load())
	db.runsMu.RLock()
	for _, rs := range db.shared {
		rs.reclaimed.Store(rs.written.Load())
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
	used := db.store.current().arena.Stats().Used
	trigger := max(limit, 2*db.reclaimedAt.Load())
	if db.reclaimRunning.Load() && used >= 2*trigger {
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
