package skiplist

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"sync/atomic"

	"github.com/inmem-db/inmem/arena"
	"github.com/inmem-db/inmem/internal/prefetch"
	"github.com/zeebo/xxh3"
)

// List is a lock-free skiplist of (key, version, value) entries.
type List struct {
	arena  *arena.Arena
	head   uint64
	height atomic.Uint32
	count  atomic.Int64
	index  *PointIndex
	tallState
	// bits, when set (by tests), replaces rand.Uint64 as the source of
	// the bits node heights are drawn from, to build lists of a chosen
	// shape: all nodes at MaxHeight, say.
	bits func() uint64
}

// New returns an empty list allocating from a. With withIndex, the list
// keeps a PointIndex so Get costs one hash probe.
func New(a *arena.Arena, withIndex bool) (*List, error) {
	head, err := a.Alloc(nodeSize(MaxHeight, 0, 0))
	if err != nil {
		return nil, err
	}
	s := &List{arena: a, head: head}
	s.node(head).height = MaxHeight
	s.height.Store(1)
	if withIndex {
		s.index = newPointIndex()
	}
	return s, nil
}

// Len returns the number of entries.
func (s *List) Len() int64 {
	n := s.count.Load()
	if s.index != nil {
		n += s.index.entries()
	}
	return n
}

// Arena returns the arena the list allocates from.
func (s *List) Arena() *arena.Arena { return s.arena }

// Wait returns once no background work of the list or its arena runs:
// chunks the arena prepares and point index tables built ahead of use.
func (s *List) Wait() {
	s.arena.Wait()
	if s.index != nil {
		s.index.wait()
	}
	s.tallBuilds.wait()
}

// randomHeight draws a height with P(h >= 2) = 1/2 and, above that,
// P(h >= k+1 | h >= k) = 1/4. The denser second level is for the tall
// index (a descent from it walks the bottom level between two nodes of
// the second level): at 1/4 a random insert into a million entries
// walked 4.6 nodes, at 1/2, 3.0, for a node in two holding one more tower
// word. Above it, 1/4 keeps descents from the head short.
func (s *List) randomHeight() int {
	var r uint64
	if s.bits != nil {
		r = s.bits()
	} else {
		r = rand.Uint64()
	}
	h := 1
	if r&1 == 0 {
		h++
		r >>= 1
		for h < MaxHeight && r&3 == 0 {
			h++
			r >>= 2
		}
	}
	return h
}

// compare orders the entry at off against (key, version): key ascending,
// then version descending.
func (s *List) compare(off uint64, key []byte, version uint64) int {
	n := s.node(off)
	nk := s.key(off, n)
	// Most comparisons on the way down are decided in the first eight
	// bytes: compare them as one word before calling into bytes.Compare.
	if len(nk) >= 8 && len(key) >= 8 {
		a, b := binary.BigEndian.Uint64(nk), binary.BigEndian.Uint64(key)
		if a != b {
			if a < b {
				return -1
			}
			return 1
		}
	}
	if c := bytes.Compare(nk, key); c != 0 {
		return c
	}
	switch {
	case n.version > version:
		return -1
	case n.version < version:
		return 1
	}
	return 0
}

// findSplice returns the nodes between which (key, version) belongs at
// level, starting the walk at before. If an equal entry exists, both results
// are that entry.
func (s *List) findSplice(key []byte, version uint64, before uint64, level int) (uint64, uint64) {
	p, nx, _ := s.findSpliceWithin(key, version, before, level, math.MaxInt)
	return p, nx
}

// findSpliceWithin is findSplice that gives up, reporting false, after
// limit steps along the level.
func (s *List) findSpliceWithin(key []byte, version uint64, before uint64, level, limit int) (uint64, uint64, bool) {
	for range limit {
		bn := s.node(before)
		next := bn.tower[level].Load()
		if level > 0 {
			// The walk one level down starts here if it stops at next, as
			// it does once a level: its first node then loads while next
			// is compared, not after.
			if down := bn.tower[level-1].Load(); down != next && down != 0 {
				prefetch.Lines(s.arena.Pointer(down), 1)
			}
		}
		if next == 0 {
			return before, 0, true
		}
		step()
		// A node's key starts after its header and tower and mostly ends
		// in the next line: ask for both at once, or the key's line is
		// asked for only once the header's has come.
		prefetch.Lines(s.arena.Pointer(next), 2)
		c := s.compare(next, key, version)
		if c == 0 {
			return next, next, true
		}
		if c > 0 {
			return before, next, true
		}
		before = next
	}
	return 0, 0, false
}

// Insert adds (key, version, value). It returns the new entry's offset and
// true, or false if an entry with the same key and version exists (the list
// is unchanged). key and value are copied.
func (s *List) Insert(key []byte, version uint64, value []byte) (uint64, bool, error) {
	off, err := s.Prepare(key, value, nil)
	if err != nil {
		return 0, false, err
	}
	if !s.Link(off, version) {
		return 0, false, nil
	}
	return off, true, nil
}

// InsertEntry is Insert for an entry that may be unindexed (see
// Splice.Unindexed): how entries are copied from one list to another.
func (s *List) InsertEntry(key []byte, version uint64, value []byte, unindexed bool) (uint64, bool, error) {
	off, err := s.Prepare(key, value, nil)
	if err != nil {
		return 0, false, err
	}
	sp := Splice{Unindexed: unindexed} // not located: LinkAt searches, duplicates included
	if !s.LinkAt(off, version, &sp) {
		return 0, false, nil
	}
	return off, true, nil
}

// NodeAt returns the key, value, version and unindexed flag of the linked
// entry at off (an offset Prepare returned), aliasing arena memory.
func (s *List) NodeAt(off uint64) (key, value []byte, version uint64, unindexed bool) {
	n := s.node(off)
	return s.key(off, n), s.value(off, n), n.version, n.flags&flagUnindexed != 0
}

// Prepare copies key and the concatenation of value parts v1 and v2 into a
// new, unlinked node and returns its offset. The node is invisible until
// Link; PreparedKey aliases its key, which stays valid for the arena's life.
func (s *List) Prepare(key, v1, v2 []byte) (uint64, error) {
	return s.PrepareIn(nil, key, v1, v2)
}

// PrepareIn is Prepare allocating from l, a block of the list's arena that
// the caller holds alone (see arena.Local), or from the arena if l is nil.
func (s *List) PrepareIn(l *arena.Local, key, v1, v2 []byte) (uint64, error) {
	h := s.randomHeight()
	var off uint64
	var err error
	if size := nodeSize(h, len(key), len(v1)+len(v2)); l != nil {
		off, err = s.arena.AllocLocal(l, size)
	} else {
		off, err = s.arena.Alloc(size)
	}
	if err != nil {
		return 0, err
	}
	n := s.node(off)
	n.keyLen = uint32(len(key))
	n.valLen = uint32(len(v1) + len(v2))
	n.height = uint32(h)
	copy(s.key(off, n), key)
	val := s.value(off, n)
	copy(val[copy(val, v1):], v2)
	return off, nil
}

// PreparedKey returns the key of the node at off, aliasing arena memory.
func (s *List) PreparedKey(off uint64) []byte { return s.key(off, s.node(off)) }

// Splice is a prepared node's position in the list, found by Locate before
// the node has a version, so that the search (the costly part of an insert:
// a cache miss per level) runs before the commit's version is assigned and
// LinkAt, which runs while later commits wait for this one, only swings
// pointers. It is a large value; keep it on the stack.
type Splice struct {
	prev, next [MaxHeight]uint64
	height     int // the node's levels located; 0 means none
	levels     int // levels of prev filled (the list's height at Locate)

	// Unindexed, set before Locate, keeps the entry out of the point index:
	// for keys that are only ever iterated (secondary index entries), which
	// saves a hash-table probe on the write. Get does not find such an
	// entry, so every version of such a key must be unindexed, or deleted
	// with an indexed tombstone.
	Unindexed bool

	// Hash, when not 0, is xxh3.Hash of the node's key, set before Locate
	// by a caller that computed it anyway (a commit fingerprints every key
	// it writes); the point index then does not hash the key again.
	Hash uint64
}

// keyHash is sp's Hash of key, computing it when sp does not carry one.
func keyHash(sp *Splice, key []byte) uint64 {
	if sp != nil && sp.Hash != 0 {
		return sp.Hash
	}
	return xxh3.Hash(key)
}

// Locate records in sp where the prepared node at off goes at every level
// of its tower, placing it before every existing version of its key. A node
// linked later can only fall between a located pair (nodes are never
// unlinked), and any version of the key linked since is older than the
// version the node will get (versions are assigned in order and linked
// after assignment), so LinkAt finds the true place by walking on from
// the located predecessor when a pointer swing fails.
func (s *List) Locate(off uint64, sp *Splice) { s.LocateAfter(off, sp, nil) }

// LocateAfter is Locate for a node whose key sorts after the one hint was
// located for (hint may be nil): each level's walk starts at the further
// of the level above's result and hint's predecessor, so locating a
// commit's writes in key order costs a short walk each instead of a
// descent from the head.
func (s *List) LocateAfter(off uint64, sp *Splice, hint *Splice) {
	s.locate(off, ^uint64(0), sp, hint)
}

// locate is LocateAfter for (key, version): the place of the node at that
// version among what is linked. An equal entry leaves sp unlocated (its
// link searches, and reports the duplicate).
func (s *List) locate(off, version uint64, sp *Splice, hint *Splice) {
	n := s.node(off)
	key := s.key(off, n)
	if s.index != nil && !sp.Unindexed {
		s.index.prepare(keyHash(sp, key))
	}
	h := int(n.height)
	listHeight := int(s.height.Load())
	if listHeight < h {
		sp.height, sp.levels = 0, 0 // LinkAt raises the height and searches itself
		return
	}
	if hint == nil && listHeight > tallHeight && s.tallLocate(key, version, h, sp) {
		return
	}
	before, levels := s.head, listHeight
	for i := listHeight - 1; i >= 0; i-- {
		if hint != nil && i < hint.levels {
			if hp := hint.prev[i]; hp != s.head && (before == s.head || s.after(hp, before)) {
				before = hp
			}
		}
		p, nx := s.findSplice(key, version, before, i)
		if p == nx && nx != 0 {
			sp.height, sp.levels = 0, 0
			return
		}
		sp.prev[i], sp.next[i] = p, nx
		before = p
	}
	sp.height, sp.levels = h, levels
}

// LinkFrom is Link for a loader that links nodes with known versions,
// mostly in order: hint (may be nil) is what LinkFrom left in sp for a
// node linked earlier that sorts before this one at (key, version), and
// the search starts from there instead of the head. sp gets what the
// next call may take as its hint. Unlike LocateAfter's, the place found
// is the node's at its version, so versions may arrive in any order.
func (s *List) LinkFrom(off, version uint64, sp, hint *Splice) bool {
	s.locate(off, version, sp, hint)
	if !s.linkAt(off, version, sp, nil) {
		sp.levels = 0
		return false
	}
	// The node itself is now the nearest start below its height.
	h := int(s.node(off).height)
	if sp.levels < h {
		sp.levels = 0 // not located (the list grew): no hint
		return true
	}
	for i := 0; i < h; i++ {
		sp.prev[i] = off
	}
	return true
}

// after reports whether the linked node a sorts after the linked node b.
func (s *List) after(a, b uint64) bool {
	nb := s.node(b)
	return s.compare(a, s.key(b, nb), nb.version) > 0
}

// Link gives the prepared node at off its version and links it in. It
// returns false if an entry with the same key and version exists.
func (s *List) Link(off uint64, version uint64) bool {
	return s.LinkAt(off, version, nil)
}

// LinkAt is Link starting from a position found by Locate (sp may be nil).
func (s *List) LinkAt(off uint64, version uint64, sp *Splice) bool {
	return s.linkAt(off, version, sp, nil)
}

// LinkBatch links the prepared nodes offs, in key order and with distinct
// keys, at one version from the positions sps located for them. It returns
// false if an entry with the same key and version existed for any of them.
//
// Each node's walk on after a failed pointer swing starts from the last
// node of the batch linked at that level, when that is further along than
// the located predecessor: all of a batch's new keys in one gap are located
// at the same pair, and walking from it over the ones linked before would
// cost n^2/2 steps.
func (s *List) LinkBatch(offs []uint64, version uint64, sps []Splice) bool {
	var floors [MaxHeight]uint64
	ok := true
	for i, off := range offs {
		ok = s.linkAt(off, version, &sps[i], &floors) && ok
	}
	return ok
}

// linkAt is LinkAt; floors (may be nil) holds at each level a linked node
// known to sort before the node, or 0, and gets the node at its levels.
func (s *List) linkAt(off uint64, version uint64, sp *Splice, floors *[MaxHeight]uint64) bool {
	n := s.node(off)
	n.version = version
	if sp != nil && sp.Unindexed {
		n.flags |= flagUnindexed
	}
	key := s.key(off, n)
	h := int(n.height)

	var prev, next [MaxHeight + 1]uint64
	if sp != nil && sp.height == h {
		copy(prev[:h], sp.prev[:h])
		copy(next[:h], sp.next[:h])
	} else {
		listHeight := s.height.Load()
		for int(listHeight) < h {
			if s.height.CompareAndSwap(listHeight, uint32(h)) {
				listHeight = uint32(h)
				break
			}
			listHeight = s.height.Load()
		}
		prev[listHeight] = s.head
		for i := int(listHeight) - 1; i >= 0; i-- {
			prev[i], next[i] = s.findSplice(key, version, prev[i+1], i)
			if prev[i] == next[i] && next[i] != 0 {
				s.duplicate(key, version, next[i])
				return false
			}
		}
	}

	for i := 0; i < h; i++ {
		for {
			n.tower[i].Store(next[i])
			if s.node(prev[i]).tower[i].CompareAndSwap(next[i], off) {
				break
			}
			// Someone linked a node between prev and next: recompute.
			start := prev[i]
			if floors != nil {
				if f := floors[i]; f != 0 && s.after(f, start) {
					start = f
				}
			}
			prev[i], next[i] = s.findSplice(key, version, start, i)
			if prev[i] == next[i] && next[i] != 0 {
				// Only level 0 decides membership, so this happens at level
				// 0, before anything of this node was linked.
				s.duplicate(key, version, next[i])
				return false
			}
		}
	}
	if floors != nil {
		for i := 0; i < h; i++ {
			floors[i] = off
		}
	}
	// The entry count lives in the index shard when there is one: that
	// cache line is already this writer's, while a list-wide counter would
	// bounce between cores on every insert.
	if s.index != nil && (sp == nil || !sp.Unindexed) {
		s.index.publish(s, key, keyHash(sp, key), version, off, true)
	} else {
		s.count.Add(1)
	}
	return true
}

// duplicate handles an Insert that lost to an equal entry at off: the
// winner may not have published it to the index yet, and the loser's caller
// must be able to read it back once Link returns.
func (s *List) duplicate(key []byte, version, off uint64) {
	if s.index != nil {
		s.index.publish(s, key, xxh3.Hash(key), version, off, false)
	}
}

// seekGE returns the first entry >= (key, version), or 0.
func (s *List) seekGE(key []byte, version uint64) uint64 {
	x := s.head
	var next, stop uint64
	for level := int(s.height.Load()) - 1; level >= 0; level-- {
		for {
			next = s.node(x).tower[level].Load()
			if next == 0 {
				break
			}
			// The node that stopped the walk one level up is usually the
			// successor here too: it is known to be >= the target.
			if next == stop {
				break
			}
			step()
			c := s.compare(next, key, version)
			if c == 0 {
				return next
			}
			if c > 0 {
				stop = next
				break
			}
			x = next
		}
	}
	// next is the level-0 successor of x that was compared (or 0). Loading
	// x's successor again could return an entry < (key, version) that a
	// concurrent Insert has just linked after x.
	return next
}

// seekLT returns the last entry < (key, version), or 0.
func (s *List) seekLT(key []byte, version uint64) uint64 {
	x := s.head
	var stop uint64
	for level := int(s.height.Load()) - 1; level >= 0; level-- {
		for {
			next := s.node(x).tower[level].Load()
			if next == 0 || next == stop {
				break
			}
			step()
			if s.compare(next, key, version) >= 0 {
				stop = next
				break
			}
			x = next
		}
	}
	if x == s.head {
		return 0
	}
	return x
}

// last returns the last entry, or 0.
func (s *List) last() uint64 {
	x := s.head
	for level := int(s.height.Load()) - 1; level >= 0; level-- {
		for {
			next := s.node(x).tower[level].Load()
			if next == 0 {
				break
			}
			step()
			x = next
		}
	}
	if x == s.head {
		return 0
	}
	return x
}

// maxVersionWalk is how many newer versions of a key Get steps over
// before it seeks instead.
const maxVersionWalk = 8

// Get returns the value of the newest entry for key with version <=
// snapshot. The returned slice aliases arena memory: copy it before handing
// it to anyone who may keep it.
func (s *List) Get(key []byte, snapshot uint64) (value []byte, version uint64, ok bool) {
	if s.index == nil {
		return s.GetHashed(key, 0, snapshot)
	}
	return s.GetHashed(key, xxh3.Hash(key), snapshot)
}

// GetHashed is Get for a caller that has hash = xxh3.Hash(key) already
// (a transaction fingerprints every key it reads); a list without a point
// index ignores it.
func (s *List) GetHashed(key []byte, hash uint64, snapshot uint64) (value []byte, version uint64, ok bool) {
	var off uint64
	if s.index != nil {
		off = s.index.lookup(s, key, hash)
		// An old snapshot walks back from the newest version; past a few
		// versions a seek is cheaper than the rest of the walk.
		for walked := 0; off != 0; walked++ {
			step()
			n := s.node(off)
			if n.version <= snapshot {
				break
			}
			if walked == maxVersionWalk {
				off = s.seekGE(key, snapshot)
				if off != 0 && !bytes.Equal(s.key(off, s.node(off)), key) {
					off = 0
				}
				break
			}
			off = n.tower[0].Load()
			if off != 0 && !bytes.Equal(s.key(off, s.node(off)), key) {
				off = 0
			}
		}
	} else {
		off = s.seekGE(key, snapshot)
		if off != 0 && !bytes.Equal(s.key(off, s.node(off)), key) {
			off = 0
		}
	}
	if off == 0 {
		return nil, 0, false
	}
	n := s.node(off)
	return s.value(off, n), n.version, true
}
