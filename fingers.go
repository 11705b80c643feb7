package inmem

import (
	"bytes"
	"sync"

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
}

// maxFingers bounds the fingers a run keeps (and their memory: ~90 bytes
// each); a commit with more writes keeps its first ones.
const maxFingers = 16

// take returns the cache locked for a commit in gen, or nil.
func (c *fingerCache) take() *fingerCache {
	if !c.mu.TryLock() {
		return nil
	}
	return c
}

// locate places the prepared node at off (the i-th write of a commit, in
// key order, key k): from the cached finger nearest below k when one
// helps, else from the previous write's position. *j is where the walk over
// the fingers stands.
func (c *fingerCache) locate(gen *generation, off uint64, k []byte, sp, hint *skiplist.Splice, j *int) {
	if c != nil && c.gen == gen.id && len(c.f) > 0 {
		for *j+1 < len(c.f) && bytes.Compare(gen.list.FingerKey(&c.f[*j+1]), k) <= 0 {
			*j++
		}
		if gen.list.LocateNear(off, sp, &c.f[*j]) {
			return
		}
	}
	gen.list.LocateAfter(off, sp, hint)
}

// keep replaces the fingers with where this commit linked its writes, if
// they were linked in gen, and unlocks the cache.
func (c *fingerCache) keep(gen *generation, linked bool, offs []uint64, sps []skiplist.Splice) {
	if c == nil {
		return
	}
	if linked {
		c.gen = gen.id
		c.f = c.f[:0]
		for i := range offs[:min(len(offs), maxFingers)] {
			c.f = append(c.f, gen.list.FingerAt(offs[i], &sps[i]))
		}
	}
	c.mu.Unlock()
}
