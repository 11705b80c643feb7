package skiplist

// fingerLevels is how many levels a Finger remembers: enough for all but
// one node in 2*4^7, which falls back to a full search.
const fingerLevels = 8

// maxClimb bounds how far above the new node's own levels LocateNear
// climbs before it gives up on a finger as too far away.
const maxClimb = 2

// Finger is where an entry was linked: the entry and, at each level, a
// node known to sort before it. A writer that keeps writing near the same
// keys (an append-only log, a counter, a time index) starts its next search
// from there instead of from the head. It is only valid for the list it
// came from, and stays valid for that list's life: nodes are never
// unlinked.
type Finger struct {
	off    uint64
	height uint8 // the entry's own height
	levels uint8 // levels of prev filled
	prev   [fingerLevels]uint64
}

// FingerAt returns the finger of the entry at off, linked from a position
// sp that Locate, LocateAfter or LocateNear filled.
func (s *List) FingerAt(off uint64, sp *Splice) Finger {
	f := Finger{off: off, height: uint8(s.node(off).height)}
	if sp.height != int(f.height) {
		// sp did not place the entry: it was taller than the list when
		// located (or equal to another), and LinkAt searched for itself.
		// Find its predecessors again, once, so the finger can start a
		// search (a finger of no levels never does).
		own := Splice{Unindexed: true}
		s.locate(off, ^uint64(0), &own, nil)
		sp = &own
	}
	n := min(sp.levels, fingerLevels)
	f.levels = uint8(n)
	copy(f.prev[:n], sp.prev[:n])
	return f
}

// Follows reports whether f's entry was located right after g's: g's
// entry was its predecessor on the bottom level when it was placed.
func (f *Finger) Follows(g *Finger) bool { return f.levels > 0 && f.prev[0] == g.off }

// FingerKey returns the key of the finger's entry, aliasing arena memory.
func (s *List) FingerKey(f *Finger) []byte { return s.key(f.off, s.node(f.off)) }

// LocateNear is Locate starting from f, an entry whose key sorts at or
// before the prepared node's key. It reports false, leaving sp for Locate
// to fill, when f cannot help: its key sorts after the node's, it lacks
// the node's levels, or the node's place is too far from it.
//
// The search climbs from the node's top level while the finger's
// successor there still sorts before the node, then descends as Locate
// does. Fingers need only sort before the key at each level and not
// increase going up, which an entry's own position (below its height) and
// its located predecessors (above) do, also after later inserts.
func (s *List) LocateNear(off uint64, sp *Splice, f *Finger) bool {
	n := s.node(off)
	key := s.key(off, n)
	h := int(n.height)
	levels := int(f.levels)
	if h > levels {
		return false
	}
	c := s.compare(f.off, key, ^uint64(0))
	if c >= 0 {
		// An older version of the same key compares after the node (it
		// sorts newest first); anything else sorts after the key itself.
		fk := s.key(f.off, s.node(f.off))
		if len(fk) != len(key) || string(fk) != string(key) {
			return false
		}
	}
	var fl [fingerLevels]uint64
	for l := 0; l < levels; l++ {
		if c < 0 && l < int(f.height) {
			fl[l] = f.off
		} else {
			fl[l] = f.prev[l]
		}
	}
	top := h - 1
	for {
		nx := s.node(fl[top]).tower[top].Load()
		if nx == 0 || s.compare(nx, key, ^uint64(0)) > 0 {
			break // fl[top] is the node's predecessor at top
		}
		if top+1 >= levels || top+1 > h-1+maxClimb {
			return false
		}
		top++
	}
	if s.index != nil && !sp.Unindexed {
		s.index.prepare(keyHash(sp, key))
	}
	pred, moved := fl[top], false
	for l := top; l >= 0; l-- {
		start := fl[l]
		if moved {
			start = pred // past fl[l]: fingers do not increase going up
		}
		p, nx := s.findSplice(key, ^uint64(0), start, l)
		sp.prev[l], sp.next[l] = p, nx
		moved, pred = p != fl[l], p
	}
	for l := top + 1; l < levels; l++ {
		sp.prev[l] = fl[l] // before the key: good enough as a later hint
	}
	sp.height, sp.levels = h, levels
	return true
}
