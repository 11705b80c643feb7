package occ

// writeRing holds the writes of the recent multi-key commits in one
// reused buffer instead of a slice per commit: records are trimmed oldest
// first, so their writes leave from the front in the order they came.
// Positions grow without bound; the buffer (a power of two long) is
// indexed by position modulo its length. Guarded by the oracle's mutex.
type writeRing struct {
	buf        []Write
	head, tail uint64 // live writes are at positions [head, tail)
}

// minRing is the first buffer's length: room for the writes of the
// trimAt commits a trim keeps at the usual handful of writes each.
const minRing = 1 << 10

// push appends ws and returns the position of the first.
func (r *writeRing) push(ws []Write) uint64 {
	if need := r.tail - r.head + uint64(len(ws)); need > uint64(len(r.buf)) {
		r.grow(need)
	}
	start := r.tail
	mask := uint64(len(r.buf) - 1)
	for i, w := range ws {
		r.buf[(start+uint64(i))&mask] = w
	}
	r.tail += uint64(len(ws))
	return start
}

// grow replaces the buffer with one of at least need writes, keeping the
// live ones at their positions.
func (r *writeRing) grow(need uint64) {
	n := max(uint64(len(r.buf)), minRing)
	for n < need {
		n *= 2
	}
	buf := make([]Write, n)
	for p := r.head; p < r.tail; p++ {
		buf[p&(n-1)] = r.at(p)
	}
	r.buf = buf
}

// at returns the write at position p, which must be live.
func (r *writeRing) at(p uint64) Write { return r.buf[p&uint64(len(r.buf)-1)] }

// dropTo forgets the writes before position p (head <= p <= tail),
// clearing them so the keys they point to are not kept reachable.
func (r *writeRing) dropTo(p uint64) {
	mask := uint64(len(r.buf) - 1)
	for ; r.head < p; r.head++ {
		r.buf[r.head&mask] = Write{}
	}
}
