package inmem

import (
	"sync"
	"sync/atomic"
)

// Vacuuming vector graphs.
//
// Every upsert adds a graph node and a replaced or deleted vector stays in
// its graph as a tombstone, so that older snapshots still find it. Reclaim
// drops the old records from the store, but the graph would keep growing
// under churn (memory, and search time through ever more tombstones). A
// vacuum removes the tombstones nothing can read any more and frees their
// ids for the next nodes.
//
// When: a collection is vacuumed in the background once its tombstones are
// over a quarter of its nodes and at least vacuumMin, checked after each
// commit that applied a vector write to it. Writers that outrun a running
// pass by as many tombstones again as started it wait for it to end, so a
// graph under churn stays within about twice its trigger however the
// vacuum's goroutine is scheduled. The trigger is per collection
// and counts graph nodes, not arena bytes, because graph growth is not
// tied to the arena: a small collection churning in a large database
// would otherwise grow its graph many times over before the arena-driven
// reclaim ran. DB.Reclaim also vacuums every graph with anything to
// remove, so a caller asking for memory back gets the graphs' too.
//
// What: the tombstones deleted at or below the scope's horizon (see
// vacuumHorizon), which no reader can see.

// vacuumMin is the fewest tombstones worth a pass: a pass reads every
// node's lists, so a small graph is not vacuumed for a handful.
const vacuumMin = 512

// vacState is a collection's vacuum bookkeeping.
type vacState struct {
	// mu is held for a whole pass, and by encodeVecIndex so that a
	// snapshot's graph and id lists come from the same side of one.
	mu      sync.Mutex
	running atomic.Bool // a background pass is queued or running
	// next is the tombstone count at which the trigger looks again: what
	// the last pass could not remove (held back by the horizon) plus the
	// threshold, so a pinned horizon does not start a pass per commit.
	next atomic.Int64
	// done is closed when the running background pass ends. startMu is
	// held from before a pass counts as running until its done is set,
	// so a writer that sees it running waits for it, not on the last
	// pass's channel, closed already.
	startMu sync.Mutex
	done    chan struct{}
}

// vacuumThreshold is how many tombstones over those a pass could not remove
// start the next pass: a quarter of the graph (a third of the live nodes),
// and at least vacuumMin.
func vacuumThreshold(live int) int64 { return max(vacuumMin, int64(live)/3) }

// vacuumDue reports whether vi's tombstones warrant a background pass,
// and whether they are over that trigger by as much again, so that a
// writer should wait for the running pass.
func (vi *vecIndex) vacuumDue() (due, outran bool) {
	d := int64(vi.idx.Deleted())
	th := vacuumThreshold(vi.idx.Len())
	trigger := max(th, vi.vac.next.Load())
	return d >= trigger, d >= trigger+th
}

// vacuumHorizon returns the version at or below which a tombstone of the
// scope's graphs is invisible to every reader, or false when its history
// must be kept whole.
//
//   - Registered transactions read at the oracle's watermark or later, for
//     every scope. A committing transaction stays registered until its
//     vector writes reached the graph, so no write at or below the
//     watermark is still to come.
//   - A run serves AsOf at any step, so only a compacted run gives way, up
//     to its compaction point (no view or fork reads below it). A deleted
//     run is read only by its forks.
//   - A fork reads each base's graph at its fork version.
//
// Shared scopes keep no history, so the watermark alone bounds them.
func (db *DB) vacuumHorizon(scope string) (uint64, bool) {
	h := db.store.Oracle.Watermark()
	db.runsMu.RLock()
	defer db.runsMu.RUnlock()
	for _, rs := range db.runs {
		if string(rs.scope) == scope {
			c := int(rs.compacted.Load())
			if c <= 0 || c > rs.Log.Len() {
				return 0, false
			}
			h = min(h, rs.Log.At(c-1).Version)
		}
		for _, b := range rs.bases {
			if string(b.scope) == scope {
				h = min(h, b.version)
			}
		}
	}
	return h, h > 0
}

// vacuum removes vi's tombstones at or below horizon, frees their ids for
// reuse and forgets the deleted keys whose last node went with them. It
// returns how many nodes it removed.
func (vi *vecIndex) vacuum(horizon uint64) (int, error) {
	vi.vac.mu.Lock()
	defer vi.vac.mu.Unlock()
	stuck := int64(vi.idx.Deleted())
	freed, err := vi.idx.Vacuum(horizon)
	if err != nil {
		return 0, err
	}
	stuck -= int64(len(freed))
	vi.vac.next.Store(stuck + vacuumThreshold(vi.idx.Len()))
	if len(freed) == 0 {
		return 0, nil
	}
	// A deleted entry at or below the horizon is not needed to turn away
	// a late older write: every write at or below the horizon has been
	// applied. The lookups run under the read lock, so that searches
	// wait only for the stores below.
	stale := func(key string) bool {
		e, ok := vi.byKey[key]
		return ok && e.deleted && e.version <= horizon
	}
	var gone []string
	vi.mu.RLock()
	for _, id := range freed {
		if key := vi.byID[id].key; stale(key) {
			gone = append(gone, key)
		}
	}
	vi.mu.RUnlock()
	vi.mu.Lock()
	for _, key := range gone {
		if stale(key) { // not written again meanwhile
			delete(vi.byKey, key)
		}
	}
	for _, id := range freed {
		vi.byID[id] = vecNode{}
	}
	// Handed out last-first, so the lowest freed ids are reused first
	// and the graph's arrays stop growing at their peak.
	for i := len(freed) - 1; i >= 0; i-- {
		vi.free = append(vi.free, freed[i])
	}
	vi.mu.Unlock()
	return len(freed), nil
}

// maybeVacuum starts a background pass over the collection's graph when its
// tombstones are due (see vacuumDue), or, when one is running and the
// writers outran it, waits for it. It runs after a commit applied a vector
// write, in the committing goroutine (no lock held that a pass takes), and
// costs a few atomic loads when nothing is due.
func (db *DB) maybeVacuum(k vecIndexKey, vi *vecIndex) {
	due, outran := vi.vacuumDue()
	if !due {
		return
	}
	if vi.vac.running.Load() {
		if !outran {
			return
		}
		vi.vac.startMu.Lock()
		ch := vi.vac.done
		vi.vac.startMu.Unlock()
		db.vecWaits.Add(1)
		<-ch
		return
	}
	done := make(chan struct{})
	vi.vac.startMu.Lock()
	defer vi.vac.startMu.Unlock()
	if db.background(&vi.vac.running, func() { defer close(done); db.vacuumPass(k, vi) }) {
		vi.vac.done = done
	}
}

// vacuumPass is a background vacuum of vi's graph.
func (db *DB) vacuumPass(k vecIndexKey, vi *vecIndex) {
	if gate := db.opts.vacuumGate; gate != nil {
		gate()
	}
	if db.closed.Load() {
		return
	}
	h, ok := db.vacuumHorizon(k.scope)
	if !ok || vi.idx.Reclaimable(h) == 0 {
		vi.vac.next.Store(int64(vi.idx.Deleted()) + vacuumThreshold(vi.idx.Len()))
		return
	}
	n, err := vi.vacuum(h)
	if err != nil {
		db.opts.logger.Error("vector graph vacuum failed", "collection", k.coll, "error", err)
		return
	}
	db.vecVacuums.Add(1)
	db.vecVacuumed.Add(uint64(n))
}

// vacuumVectors vacuums every built graph that holds tombstones its
// scope's horizon lets go (DB.Reclaim). It returns the nodes removed.
func (db *DB) vacuumVectors() (int64, error) {
	type built struct {
		k  vecIndexKey
		vi *vecIndex
	}
	var todo []built
	db.vecMu.Lock()
	for k, vi := range db.vecs {
		todo = append(todo, built{k, vi})
	}
	db.vecMu.Unlock()
	var total int64
	for _, b := range todo {
		<-b.vi.built
		if b.vi.err != nil || b.vi.idx.Deleted() == 0 {
			continue
		}
		h, ok := db.vacuumHorizon(b.k.scope)
		if !ok || b.vi.idx.Reclaimable(h) == 0 {
			continue
		}
		n, err := b.vi.vacuum(h)
		if err != nil {
			return total, err
		}
		db.vecVacuums.Add(1)
		db.vecVacuumed.Add(uint64(n))
		total += int64(n)
	}
	return total, nil
}

// vectorStats sums the graphs' sizes for Stats.
func (db *DB) vectorStats() (nodes, tombstones, bytes int64) {
	db.vecMu.Lock()
	defer db.vecMu.Unlock()
	for _, vi := range db.vecs {
		if vi.idx == nil {
			continue
		}
		d := int64(vi.idx.Deleted())
		nodes += int64(vi.idx.Len()) + d
		tombstones += d
		bytes += vi.idx.Bytes()
	}
	return nodes, tombstones, bytes
}
