package engine

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/inmem-db/inmem/arena"
	"github.com/inmem-db/inmem/skiplist"
)

// fingerCache keeps where a run's last commit linked its writes, so the
// next commit locates its writes from there (skiplist.LocateNear). An
// agent's steps write the same kinds of keys step after step, mostly just
// after the previous step's (the next event, span, index entry by time),
// so most writes find their place in one or two comparisons instead of a
// descent from the head. A cache that is busy (a concurrent commit of the
// same run), empty or from a retired generation is simply not used.
type fingerCache struct {
	mu  sync.Mutex
	gen uint64 // generation id the fingers point into
	f   []skiplist.Finger
	// local is the arena block the commits holding the cache allocate
	// their nodes from, in generation localGen: a writer's nodes then lie
	// together, apart from other writers'.
	local    arena.Local
	localGen uint64
	commits  uint32 // commits through the cache, see due
	// A run's two caches are taken by two cores at once: the padding keeps
	// their written fields on lines of their own.
	_ [64]byte
}

// reserveEvery is how often, in commits through one cache, a run's step
// log checks whether to reserve its next block; with two caches and its
// window of reserveAhead steps, every boundary is reserved for.
const reserveEvery = 8

// due counts a commit through the cache and reports whether it is one that
// lets the step log reserve; always, for a commit that got no cache.
func (c *fingerCache) due() bool {
	if c == nil {
		return true
	}
	c.commits++
	return c.commits%reserveEvery == 0
}

// block returns the cache's arena block for allocations in gen, or nil
// for no cache.
func (c *fingerCache) block(gen *Generation) *arena.Local {
	if c == nil {
		return nil
	}
	if c.localGen != gen.ID {
		c.local.Reset()
		c.localGen = gen.ID
	}
	return &c.local
}

// maxFingers bounds the fingers a run keeps (and their memory: ~90 bytes
// each); a commit with more writes keeps its first ones.
const maxFingers = 16

// runFingers are a run's finger caches. There are two so that two
// goroutines writing one run keep a place each: with one, each commit
// found the other goroutine's place (or the cache busy) and descended from
// the head instead.
type runFingers struct {
	c [2]fingerCache
	// second is set once c[1] has been taken: until then the run has had
	// one writer at a time, and a commit need not look at c[1].
	second atomic.Bool
	// tbl keeps the places of more writers than two, made the first time
	// a commit finds both caches busy (see fingerTable).
	tbl atomic.Pointer[fingerTable]
}

// take returns a cache locked for a commit whose first write's key is k,
// or nil if both are busy: of two free ones, the one whose first finger is
// the nearest at or below k, which is where a writer's previous commit
// linked when its keys grow.
func (r *runFingers) take(gen *Generation, k []byte) *fingerCache {
	a := r.c[0].take()
	if a != nil && !r.second.Load() {
		return a
	}
	b := r.c[1].take()
	if b == nil {
		return a
	}
	if !r.second.Load() {
		r.second.Store(true)
	}
	if a == nil {
		return b
	}
	if b.nearer(gen, k, a) {
		a.mu.Unlock()
		return b
	}
	b.mu.Unlock()
	return a
}

// take returns the cache locked, or nil.
func (c *fingerCache) take() *fingerCache {
	if !c.mu.TryLock() {
		return nil
	}
	return c
}

// start returns the key of c's first finger, if it points into gen.
func (c *fingerCache) start(gen *Generation) ([]byte, bool) {
	if c.gen != gen.ID || len(c.f) == 0 {
		return nil, false
	}
	return gen.List.FingerKey(&c.f[0]), true
}

// nearer reports whether c starts nearer at or below k than o does.
func (c *fingerCache) nearer(gen *Generation, k []byte, o *fingerCache) bool {
	ck, ok := c.start(gen)
	if !ok || bytes.Compare(ck, k) > 0 {
		return false
	}
	other, has := o.start(gen)
	return !has || bytes.Compare(other, k) > 0 || bytes.Compare(other, ck) < 0
}

// near locates the prepared node at off (the i-th write of a commit, in
// key order, key k) from the cached finger nearest below k, and reports
// whether one helped. *j is where the walk over the fingers stands.
func (c *fingerCache) near(gen *Generation, off uint64, k []byte, sp *skiplist.Splice, j *int) bool {
	if c == nil || c.gen != gen.ID || len(c.f) == 0 {
		return false
	}
	for *j+1 < len(c.f) && bytes.Compare(gen.List.FingerKey(&c.f[*j+1]), k) <= 0 {
		*j++
	}
	return gen.List.LocateNear(off, sp, &c.f[*j])
}

// keep replaces the fingers with where this commit linked its writes, if
// they were linked in gen, and unlocks the cache.
func (c *fingerCache) keep(gen *Generation, linked bool, offs []uint64, sps []skiplist.Splice) {
	if c == nil {
		return
	}
	if linked {
		c.gen = gen.ID
		c.f = c.f[:0]
		for i := range offs[:min(len(offs), maxFingers)] {
			c.f = append(c.f, gen.List.FingerAt(offs[i], &sps[i]))
		}
	}
	c.mu.Unlock()
}
