package skiplist

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"sync/atomic"
)

// tallHeight is the height from which a node is in the tall index: one
// node in 2 (randomHeight). A descent that starts from one of them walks
// levels tallHeight-1 down to 0 only. From height 3 (then one in 16, an
// index a quarter the size) a random put into a million entries took
// 2.24 us, from height 2, 1.74 us (medians of 4 alternating runs).
const tallHeight = 2

// tallMin is how many entries a list has before the index is first
// built: below that the whole descent is a few cached nodes.
const tallMin = 256

// tallIndex is a sorted, compact copy of the list's tall nodes, searched
// to find where a descent for a key can start: the last tall node whose
// key is below it. A descent through the list's upper levels loads a node
// at every step, and below the levels that stay cached each load is a
// cache miss (a random-key insert into a list of a million spent 85% of
// its time there); the index is searched mostly in cache, in arrays of
// words, and the descent from the node it finds walks tallHeight levels.
//
// It is a snapshot: nodes linked since it was built are not in it, which
// only makes the walks from its nodes longer (a node, once linked, stays,
// so every node it names is still below every key it was found for). The
// list builds a new one in the background once it grew by a quarter, as
// its descents find (tallDescent).
//
// Keys are compared as a 64-bit word: the eight bytes at d (zero padded),
// d being where the sampled keys usually start to differ. Within a group
// (the sampled keys sharing key[:d]) the words are in key order, and a
// word strictly below the target's means a key strictly below it. Groups
// are few (one per scope, for in-mem's keys), so finding the target's one
// compares a few cached prefixes.
type tallIndex struct {
	d    int
	ents []tallEntry // the sampled nodes, in list order
	// fence holds the word of every tallFence-th entry: a search halves it
	// in cache, then ends in tallFence entries, a few lines. Halving ents
	// itself (32 MiB for a list of four million) touched a line of its own
	// at each of its last steps.
	fence   []uint64
	groups  []tallGroup
	entries int64 // the list's entries when it was built
}

// tallFence is how many entries one fence word stands for: 256 B, four
// lines, and a fence 1/16 the size of the index (256 KiB for a list of a
// million), which stays in a core's second-level cache.
const tallFence = 16

// tallEntry is a sampled node, its height and its key's word. They share
// a line, so the entry a search ends on gives its node without another
// miss, and the entries before it the nodes of the levels above.
type tallEntry struct{ word, ref uint64 }

// tallHeightShift places a node's height above its offset in a ref:
// arena offsets (a chunk number of 12 bits above a 32-bit offset in it)
// stay below 2^44.
const tallHeightShift = 56

func makeTallEntry(word, off uint64, height int) tallEntry {
	return tallEntry{word: word, ref: off | uint64(height)<<tallHeightShift}
}

// node is the entry's node offset.
func (e tallEntry) node() uint64 { return e.ref & (1<<tallHeightShift - 1) }

// height is the entry's node height.
func (e tallEntry) height() int { return int(e.ref >> tallHeightShift) }

// tallGroup is a run of sampled keys sharing prefix (their first d bytes,
// or the whole key when shorter); its samples are ents[lo:hi].
type tallGroup struct {
	prefix []byte
	lo, hi int
}

// keyWord is the word of key at d: key[d:d+8], big-endian, zero padded.
func keyWord(key []byte, d int) uint64 {
	if d >= len(key) {
		return 0
	}
	rest := key[d:]
	if len(rest) >= 8 {
		return binary.BigEndian.Uint64(rest)
	}
	var b [8]byte
	copy(b[:], rest)
	return binary.BigEndian.Uint64(b[:])
}

// start returns the entry of the last node the index knows whose key is
// below key (-1 if none), and the next tall node the index knows if its
// key is above key (else 0): where the list still links the two at level
// tallHeight-1, they are key's place there, with no key loaded. Equal
// words are not decided by the index; the nodes with one are compared in
// full, by binary search.
func (t *tallIndex) start(s *List, key []byte) (pos int, after uint64) {
	tp := key[:min(t.d, len(key))]
	// The last group whose prefix is <= tp.
	g := sortSearch(len(t.groups), func(i int) bool { return bytes.Compare(t.groups[i].prefix, tp) > 0 }) - 1
	if g < 0 {
		return -1, 0
	}
	gr := &t.groups[g]
	// The first entry of the next group is above key: its prefix is.
	if gr.hi < len(t.ents) {
		after = t.ents[gr.hi].node()
	}
	if !bytes.Equal(gr.prefix, tp) {
		// Every key of the group is below key.
		return gr.hi - 1, after
	}
	w := keyWord(key, t.d)
	j := t.firstAtLeast(gr.lo, gr.hi, w)
	if j < gr.hi && t.ents[j].word > w {
		after = t.ents[j].node()
	}
	// Nodes [j, k) have key's word: the last of them below key, if any,
	// is a better start than j-1.
	if j < gr.hi && t.ents[j].word == w {
		ents := t.ents[j:gr.hi]
		k := sortSearch(len(ents), func(i int) bool { return ents[i].word > w })
		n := sortSearch(k, func(i int) bool {
			off := ents[i].node()
			return bytes.Compare(s.key(off, s.node(off)), key) >= 0
		})
		return j + n - 1, 0
	}
	// j-1 is below key; where j starts the group, so is the group before
	// it, whose last entry is j-1 too.
	return j - 1, after
}

// firstAtLeast returns the first entry in [lo, hi), one group's, whose
// word is at least w, or hi. The fence words of the blocks starting in
// the group narrow it to one block first.
func (t *tallIndex) firstAtLeast(lo, hi int, w uint64) int {
	if bl, bh := (lo+tallFence-1)/tallFence, (hi-1)/tallFence+1; bl < bh {
		// The first block starting in the group whose first word is >= w:
		// the entry sought is at most its start, and past the start of the
		// block before it, whose word is below w.
		b := bl + sortSearch(bh-bl, func(i int) bool { return t.fence[bl+i] >= w })
		if b > bl {
			lo = (b-1)*tallFence + 1
		}
		if b < bh {
			hi = b * tallFence
		}
	}
	return lo + sortSearch(hi-lo, func(i int) bool { return t.ents[lo+i].word >= w })
}

// tallWalk bounds the walk along each level from the nodes the tall
// index names: one or two steps while the index is fresh (it names every
// node of those levels but those linked since its build). Where writers
// appended since the last build, every new node sorts after the last one
// the index names in their region, and the walk from it would cross all
// of them.
const tallWalk = 8

// tallScan bounds how far back the index is read for the nodes of the
// levels above tallHeight-1: a node of height h finds its level h-1 about
// 4^(h-tallHeight) entries back, so up to height 5, one put in a thousand,
// and the taller ones descend from the head.
const tallScan = 64

// tallLocate counts a descent with no hint (tallDescent) and locates
// (key, version), for a node of height h, at every level up to
// max(h, tallHeight)-1, each level's walk starting from the last node of
// that level the tall index names below key. It reports false, leaving sp
// to a descent from the head, when there is no index, it names no node
// below key, a level's node is further back than tallScan entries, or a
// walk is longer than tallWalk.
//
// Before it, only nodes up to tallHeight started from the index, and the
// one in 16 taller than that descended from the head: a third of the
// steps of a random put into a million entries.
func (s *List) tallLocate(key []byte, version uint64, h int, sp *Splice) bool {
	s.tallDescent()
	t := s.tallIdx.Load()
	if t == nil {
		return false
	}
	pos, after := t.start(s, key)
	if pos < 0 {
		return false
	}
	top := max(h, tallHeight) - 1
	var preds [MaxHeight]uint64
	if !t.preds(s, pos, top, &preds) {
		return false
	}
	for i := top; i >= 0; i-- {
		// The index's node of the level, unless the level above found a
		// node the index does not know (then that one is further along).
		// Below the index's levels, the level above's.
		before := preds[i]
		if i < top && (i < tallHeight-1 || sp.prev[i+1] != preds[i+1]) {
			before = sp.prev[i+1]
		}
		var p, nx uint64
		switch {
		case i < tallHeight-1:
			p, nx = s.findSplice(key, version, before, i)
		case i == tallHeight-1 && before == preds[i] && after != 0 &&
			s.node(before).tower[i].Load() == after:
			// Still neighbours: nothing linked between them since the build.
			p, nx = before, after
		default:
			var ok bool
			if p, nx, ok = s.findSpliceWithin(key, version, before, i, tallWalk); !ok {
				return false
			}
		}
		if p == nx && nx != 0 {
			sp.height, sp.levels = 0, 0 // an equal entry: LinkAt reports it
			return true
		}
		sp.prev[i], sp.next[i] = p, nx
	}
	sp.height, sp.levels = h, top+1
	return true
}

// preds fills preds[l], for l from tallHeight-1 to top, with the last node
// at or before entry pos whose height is above l (the head where there is
// none), reading back at most tallScan entries; false if that was not
// enough.
func (t *tallIndex) preds(s *List, pos, top int, preds *[MaxHeight]uint64) bool {
	l := tallHeight - 1
	for i := pos; i >= 0; i-- {
		if pos-i >= tallScan {
			return false
		}
		e := t.ents[i]
		for ; l <= top && e.height() > l; l++ {
			preds[l] = e.node()
		}
		if l > top {
			return true
		}
	}
	for ; l <= top; l++ {
		preds[l] = s.head
	}
	return true
}

// sortSearch is sort.Search without the closure's escape: the smallest i
// in [0, n) for which f is true, or n.
func sortSearch(n int, f func(int) bool) int {
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if !f(m) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// buildTall walks the list's level tallHeight-1 and indexes its nodes;
// entries is the list's length as the build starts.
func (s *List) buildTall(entries int64) *tallIndex {
	// One pass over the nodes: a second one to compute the words loaded
	// every sampled key again, a cache miss each, for about half the
	// build's time. Words are computed at the last build's d; only if this
	// build's d differs are they computed again.
	var size, guess int // the last build's size (grown by half) and d
	if prev := s.tallIdx.Load(); prev != nil {
		size, guess = len(prev.ents)*3/2, prev.d
	}
	ents := make([]tallEntry, 0, size)
	keys := make([][]byte, 0, size)
	// Per sampled key: its common prefix with the one before (capped at
	// tallSame-1; tallSame for versions of one key) and its length (capped
	// at 255, past any d), from which the groups follow without the keys.
	lcps := make([]uint8, 0, size)
	lens := make([]uint8, 0, size)
	var hist [tallSame]int // neighbours by common prefix length
	var prevKey []byte
	for x := s.node(s.head).tower[tallHeight-1].Load(); x != 0; {
		n := s.node(x)
		k := s.key(x, n)
		ents = append(ents, makeTallEntry(keyWord(k, guess), x, int(n.height)))
		keys = append(keys, k)
		l := 0
		for l < len(k) && l < len(prevKey) && l < tallSame-1 && k[l] == prevKey[l] {
			l++
		}
		switch {
		case len(keys) == 1:
		case l == len(k) && l == len(prevKey):
			l = tallSame // versions of one key: in one group whatever d is
		default:
			hist[l]++
		}
		lcps = append(lcps, uint8(l))
		lens = append(lens, uint8(min(len(k), 255)))
		prevKey = k
		x = n.tower[tallHeight-1].Load()
	}
	t := &tallIndex{ents: ents, entries: entries}
	if len(keys) == 0 {
		return t
	}
	// d: the longest common prefix of neighbouring sampled keys that
	// leaves at most maxGroups groups (a group starts wherever neighbours
	// share less than d bytes). In-mem's keys start with their scope, so d
	// is where the scope of most keys ends, and the word holds what
	// follows: one group per scope, and words that differ.
	maxGroups := max(len(keys)/256, 16)
	below := 0
	for d := range hist {
		if below+hist[d] > maxGroups-1 {
			t.d = d
			break
		}
		below += hist[d]
		t.d = d + 1
	}
	t.d = min(t.d, tallSame-1)
	if t.d != guess {
		for i, k := range keys {
			t.ents[i].word = keyWord(k, t.d)
		}
	}
	t.fence = make([]uint64, 0, (len(ents)+tallFence-1)/tallFence)
	for i := 0; i < len(ents); i += tallFence {
		t.fence = append(t.fence, ents[i].word)
	}
	// The groups' prefixes are copied into one buffer: searched on every
	// descent, they stay in cache there, where in the arena each is a
	// line of its own node.
	var buf []byte
	type span struct{ at, n int }
	var spans []span
	for i := range keys {
		if i == 0 || !t.sameGroup(int(lcps[i]), int(lens[i-1]), int(lens[i])) {
			p := keys[i][:min(t.d, len(keys[i]))]
			spans = append(spans, span{len(buf), len(p)})
			buf = append(buf, p...)
			t.groups = append(t.groups, tallGroup{lo: i})
		}
		t.groups[len(t.groups)-1].hi = i + 1
	}
	for i, sp := range spans {
		t.groups[i].prefix = buf[sp.at : sp.at+sp.n : sp.at+sp.n]
	}
	return t
}

// tallSame marks, among a build's common prefix lengths, neighbours that
// are versions of one key; the lengths it counts are below it.
const tallSame = 255

// sameGroup reports whether two neighbouring sampled keys, of lengths la
// and lb with a common prefix of lcp bytes (tallSame: equal keys), have
// the same first d bytes (or whole key, when shorter).
func (t *tallIndex) sameGroup(lcp, la, lb int) bool {
	if lcp == tallSame {
		return true
	}
	pa, pb := min(t.d, la), min(t.d, lb)
	return pa == pb && lcp >= pa
}

// tallCheckEvery is how many descents that could start from the tall
// index pass between checks of whether it is due for a build: a check
// counts the list's entries, 64 shard locks.
const tallCheckEvery = 1024

// tallSample is how many descents one counted descent stands for; it
// divides tallCheckEvery.
const tallSample = 64

// tallUses is how many descents a build must have been asked for by, as
// a share of the list's entries (one in tallUses): a build walks half of
// the entries and saves a descent about 28 steps, so it pays from about
// one descent in 56 entries. Writers whose fingers fail now and then spent
// CPU on builds they hardly used: one writer of ascending keys, one put in
// a few thousand, a sixth of its CPU; two writers of ascending keys
// rewriting keys they wrote before (BenchmarkPutScaling), whose fingers
// miss at 1.7% of puts, 13%.
const tallUses = 32

// tallDescent counts a descent with no hint that could start from the
// tall index and,
// every tallCheckEvery of them, starts a build of the index in the
// background if the list has none and holds tallMin entries, or if it grew
// by a quarter since the last build, and if enough descents asked for it
// (tallUses). Descents, not inserts, drive it: a
// writer whose fingers find its places (ascending keys, an event log) never
// descends from the head, and then the index would only take the CPU its
// builds need, which on two cores is the other writer's.
func (s *List) tallDescent() {
	// One descent in tallSample counts, for tallSample: writers on other
	// cores then write the counter's line once in that many descents, not
	// at every one.
	if rand.Uint32()%tallSample != 0 {
		return
	}
	d := s.descents.Add(tallSample)
	if d%tallCheckEvery != 0 {
		return
	}
	n := s.Len()
	t := s.tallIdx.Load()
	if n < tallMin || (t != nil && n < t.entries+t.entries/4) || int64(d-s.builtAt.Load()) < n/tallUses {
		return
	}
	if !s.tallBuilding.CompareAndSwap(false, true) {
		return
	}
	s.builtAt.Store(d)
	s.tallBuilds.start()
	go func() {
		defer s.tallBuilds.done()
		s.tallIdx.Store(s.buildTall(n))
		s.tallBuilding.Store(false)
	}()
}

// tallState is the tall index's part of a List.
type tallState struct {
	_ [64]byte
	// descents is written by every descent from the head, on a line of its
	// own: on the line of the list's height, which every search reads,
	// two writers on two cores took it from each other at every insert.
	descents     atomic.Uint64
	builtAt      atomic.Uint64 // descents when the last build started
	tallBuilding atomic.Bool
	_            [44]byte
	tallIdx      atomic.Pointer[tallIndex]
	tallBuilds   builds
}
