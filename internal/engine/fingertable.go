package engine

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/inmem-db/inmem/skiplist"
)

// fingerTable keeps the places of a run's writers past its two finger
// caches: many goroutines committing to one run, each in a key range of
// its own (a stream per user, per tool, per worker), found both caches
// busy, and each of their commits descended from the index or the head. The table
// holds, for up to tableSlots recent commits, where the first write was
// linked, sorted by key; a commit starts from the place nearest below its
// first key, which for a writer appending to its own range is the place
// its previous commit left.
//
// A commit linked right after a place, or writing a place's own key
// again, moves that place forward; any other adds one, in a free slot or
// the one used longest ago. So a writer
// appending keeps one place, and one rewriting keys in order (each new
// version lands after the older versions of the key before) leaves a
// trail that the least recently used slots give back.
//
// It is made the first time a commit finds both caches busy, so a run
// with one or two writers never pays for it. A commit whose key has no
// place near it (random keys in a large run) finds out in a few
// comparisons, but adding its place costs more; once such misses
// outnumber hits by tableCredit the table is left alone, but for commits
// whose first node lies in one stretch of arena in trialEvery (see
// consult), so random writers pay next to nothing and writers that find
// order again win the table back.
type fingerTable struct {
	mu  sync.Mutex
	gen uint64 // generation the places point into
	// slots hold the places; order lists the slots in use by key, so a
	// place is found by binary search and one is added by moving bytes.
	slots [tableSlots]tableSlot
	order [tableSlots]uint8
	n     int
	tick  uint32 // counts lookups and places: what a slot's used is read against
	// credit is hits minus misses, kept within ±tableCredit: the table is
	// consulted while it is positive. Written under mu, read without it.
	credit atomic.Int32
}

// tableSlot is one place: a finger and when it was last used.
type tableSlot struct {
	f    skiplist.Finger
	used uint32
}

const (
	// tableSlots bounds the places (and the table's memory: about 11 KiB),
	// twice the committers the group-commit benchmarks run, so that as
	// many writers as that keep their places with room for newcomers.
	tableSlots = 128
	// tableCredit bounds the credit, so that writers turning random lose
	// the table's cost within that many commits, and writers finding
	// their places again win it back as fast.
	tableCredit = 32
	// Without credit, commits whose first node lies in one stretch of
	// 1<<trialShift bytes of arena in trialEvery try the table: a few
	// hundred commits in a row, enough for an appending writer to leave
	// a place and find it again. The arena offset is a clock every writer
	// reads for free; a shared counter would cost them a contended line.
	trialShift = 16
	trialEvery = 64
)

// table returns the run's finger table, making it if create is set.
func (r *runFingers) table(create bool) *fingerTable {
	t := r.tbl.Load()
	if t == nil && create {
		t = new(fingerTable)
		t.credit.Store(tableCredit) // a new table has its chance
		if !r.tbl.CompareAndSwap(nil, t) {
			t = r.tbl.Load()
		}
	}
	return t
}

// consult reports whether a commit whose first node is at off should try
// the table: while it has credit, and on a trial stretch of arena.
func (t *fingerTable) consult(off uint64) bool {
	return t.credit.Load() > 0 || (off>>trialShift)%trialEvery == 0
}

// key is the key of slot s's place in gen.
func (t *fingerTable) key(gen *Generation, s uint8) []byte {
	return gen.List.FingerKey(&t.slots[s].f)
}

// above returns the first position in order whose key sorts after k.
func (t *fingerTable) above(gen *Generation, k []byte) int {
	lo, hi := 0, t.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(t.key(gen, t.order[m]), k) <= 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// locate places the prepared node at off (key k, a commit's first write)
// from the place nearest below k, if the table has one in gen and it
// helps. tried reports whether the table was consulted: only then is the
// commit's place to be recorded. It is nil-safe.
func (t *fingerTable) locate(gen *Generation, off uint64, k []byte, sp *skiplist.Splice) (ok, tried bool) {
	if t == nil || !t.consult(off) {
		return false, false
	}
	t.mu.Lock()
	if t.gen != gen.ID || t.n == 0 {
		t.mu.Unlock()
		return false, true
	}
	p := t.above(gen, k)
	if p == 0 {
		t.miss()
		t.mu.Unlock()
		return false, true
	}
	s := t.order[p-1]
	t.tick++
	t.slots[s].used = t.tick
	f := t.slots[s].f
	t.mu.Unlock()
	// Outside the lock: the finger is a copy, and a list's fingers stay
	// valid for its life.
	ok = gen.List.LocateNear(off, sp, &f)
	t.mu.Lock()
	if ok {
		t.credit.Store(min(t.credit.Load()+1, tableCredit))
	} else {
		t.miss()
	}
	t.mu.Unlock()
	return ok, true
}

// miss counts a lookup that found no place near its key; under mu.
func (t *fingerTable) miss() {
	t.credit.Store(max(t.credit.Load()-1, -tableCredit))
}

// record keeps where a commit linked its first write (offs[0], located
// at sps[0]) in gen. It is nil-safe.
func (t *fingerTable) record(gen *Generation, offs []uint64, sps []skiplist.Splice) {
	if t == nil {
		return
	}
	f := gen.List.FingerAt(offs[0], &sps[0])
	t.keep(gen, gen.List.FingerKey(&f), f)
}

// keep records f, where an entry of key k was linked in gen.
func (t *fingerTable) keep(gen *Generation, k []byte, f skiplist.Finger) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen != gen.ID {
		t.gen, t.n = gen.ID, 0
		t.credit.Store(tableCredit)
	}
	t.tick++
	p := t.above(gen, k)
	if p > 0 {
		if s := t.order[p-1]; f.Follows(&t.slots[s].f) || bytes.Equal(t.key(gen, s), k) {
			t.slots[s] = tableSlot{f: f, used: t.tick}
			return
		}
	}
	var s uint8
	if t.n < tableSlots {
		s = uint8(t.n)
	} else {
		// The slot used longest ago (ticks wrap: compare ages).
		at := 0
		for i := 1; i < t.n; i++ {
			if t.tick-t.slots[t.order[i]].used > t.tick-t.slots[t.order[at]].used {
				at = i
			}
		}
		s = t.order[at]
		copy(t.order[at:t.n-1], t.order[at+1:t.n])
		t.n--
		if at < p {
			p--
		}
	}
	copy(t.order[p+1:t.n+1], t.order[p:t.n])
	t.order[p] = s
	t.n++
	t.slots[s] = tableSlot{f: f, used: t.tick}
}
