package skiplist

import (
	"bytes"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/inmem-db/inmem/arena"
	"github.com/inmem-db/inmem/internal/prefetch"
)

// The index has few shards, so that each shard's table is large: a probe
// is a random read of the table, and a table of 2 MiB or more lives on
// huge pages (arena.Map), where the probe seldom misses the TLB. With 64
// shards a million keys made 64 tables of 1 MiB on 4 KiB pages, and nearly
// every Get paid a page walk: 8 shards cut Get's p99 by about 15% (perfcheck
// -case get). Eight still keep writers of different keys mostly apart: a
// publish holds its shard's lock for a few tens of nanoseconds.
const (
	indexShardBits = 3
	indexShards    = 1 << indexShardBits
	indexMinSlots  = 64
)

// PointIndex maps the hash of a key to the offset of the node holding its
// newest version. Readers probe it without locks: each shard's table is
// swapped atomically when it grows, and each slot is two atomic words. Writers
// (Insert) take the shard's mutex, so writers of different shards never meet.
type PointIndex struct {
	shards [indexShards]indexShard
	builds builds // background builds of large tables, see prepare
	// For tests: tables built to grow a shard, and those of them a publish
	// built (each may waste a table a prepare was building meanwhile).
	grown, publishGrown atomic.Int64
}

type indexShard struct {
	mu      sync.Mutex
	tab     atomic.Pointer[indexTable]
	count   atomic.Int64 // distinct keys; written under mu, read by prepare without it
	entries int64        // entries linked, all versions; guarded by mu
	growing atomic.Bool  // a prepare is building the shard's next table
	_       [31]byte
}

// A table grows when one more key would fill half of it: in prepare, by
// one writer at a time, with the new table built outside the lock, or else
// in publish, under the lock. While a prepare builds, the other writers of
// the shard go on filling the old table, and grow it at once, under the
// lock, only when it is three quarters full.
func softFull(count int64, slots int) bool { return (count+1)*2 > int64(slots) }

func hardFull(count int64, slots int) bool { return count*4 > int64(slots)*3 }

type indexTable struct {
	mask  uint64
	slots []indexSlot
}

// indexSlot is claimed by storing node first and hash second, so a reader
// that sees a hash also sees a node for it.
type indexSlot struct {
	hash atomic.Uint64
	node atomic.Uint64
}

func newPointIndex() *PointIndex {
	p := &PointIndex{}
	for i := range p.shards {
		p.shards[i].tab.Store(newIndexTable(indexMinSlots))
	}
	return p
}

// newIndexTable allocates a table of n slots. Large tables come from
// arena.Map, which avoids a page fault per page on first touch; they are
// unmapped when the table becomes unreachable, and readers keep the table
// alive with runtime.KeepAlive until they are done with its slots.
func newIndexTable(n int) *indexTable {
	mem, release := arena.Map(n * int(unsafe.Sizeof(indexSlot{})))
	t := &indexTable{mask: uint64(n - 1), slots: unsafe.Slice((*indexSlot)(unsafe.Pointer(unsafe.SliceData(mem))), n)}
	if release != nil {
		runtime.AddCleanup(t, func(f func()) { f() }, release)
	}
	return t
}

// lookupPrefetchLines is how many cache lines of a found node lookup asks
// for: a header, a tower, a key and a value of up to about 200 bytes.
const lookupPrefetchLines = 4

// slotHash is the hash a slot holds for a key whose xxh3.Hash is h: never
// 0, which marks an empty slot.
func slotHash(h uint64) uint64 { return h | 1 }

// lookup finds the newest node of key, whose xxh3.Hash is hash.
func (p *PointIndex) lookup(s *List, key []byte, hash uint64) uint64 {
	h := slotHash(hash)
	t := p.shards[h>>(64-indexShardBits)].tab.Load()
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		sl := &t.slots[i]
		sh := sl.hash.Load()
		if sh == 0 {
			runtime.KeepAlive(t)
			return 0
		}
		if sh == h {
			off := sl.node.Load()
			// The caller reads the node's header, key and value next: ask
			// for all their lines at once instead of one after another.
			prefetch.Lines(s.arena.Pointer(off), lookupPrefetchLines)
			if bytes.Equal(s.key(off, s.node(off)), key) {
				runtime.KeepAlive(t)
				return off
			}
		}
	}
}

// publish records off as the node for key (its xxh3.Hash is hash) unless a
// newer version is there.
// linked says off is a newly linked entry, to be counted.
func (p *PointIndex) publish(s *List, key []byte, hash, version, off uint64, linked bool) {
	h := slotHash(hash)
	sh := &p.shards[h>>(64-indexShardBits)]
	sh.mu.Lock()
	if linked {
		sh.entries++
	}
	t := sh.tab.Load()
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		sl := &t.slots[i]
		cur := sl.hash.Load()
		if cur == 0 {
			sl.node.Store(off)
			sl.hash.Store(h)
			n := sh.count.Add(1)
			if n*2 > int64(len(t.slots)) {
				// A prepare building the next table installs it soon:
				// wait for it unless this one is getting too full.
				if !sh.growing.Load() || hardFull(n, len(t.slots)) {
					p.publishGrown.Add(1)
					sh.tab.Store(p.grow(t))
				}
			}
			break
		}
		if cur == h {
			old := sl.node.Load()
			on := s.node(old)
			if bytes.Equal(s.key(old, on), key) {
				if on.version < version {
					sl.node.Store(off)
				}
				break
			}
		}
	}
	sh.mu.Unlock()
}

// prepare readies the shard of the key whose xxh3.Hash is hash for a
// publish that will follow: it grows the table now if one more key would
// fill it, and starts loading the key's probe position so the publish
// finds it in cache. The publish itself then runs while later commits wait
// for this one, so it should be short. The
// probe position is a random line of a large table, nearly always a cache
// miss: prefetched rather than loaded, it no longer stalls the commit (a
// commit of several keys waited for each in turn), and it arrives while
// the commit goes on.
//
// Only a shard about to fill takes its lock here: the commits of other
// cores take it to publish, and a lock acquisition per key and commit
// moved its line between cores for nothing. A prefetch into a table a
// concurrent grow has just replaced (or freed) is a wasted hint, never a
// fault.
func (p *PointIndex) prepare(hash uint64) {
	h := slotHash(hash)
	sh := &p.shards[h>>(64-indexShardBits)]
	t := sh.tab.Load()
	if softFull(sh.count.Load(), len(t.slots)) && sh.growing.CompareAndSwap(false, true) {
		// Map and fault in the bigger table before taking the lock: that
		// is as long as the copy itself, and every writer of the shard
		// waits for whatever runs under the lock. One writer does it: when
		// every writer reaching the shard built its own, two writers on two
		// cores spent three times the CPU on it that one did.
		if len(t.slots) < backgroundSlots {
			t = p.buildNext(sh)
			sh.growing.Store(false)
		} else {
			// A large table is built off the commit path: mapping and
			// faulting in megabytes took the writer that did it out of the
			// commit path for milliseconds, in a virtual machine for most
			// of its time with two writers. The shard's writers go on
			// filling the old table meanwhile.
			p.builds.start()
			go func() {
				defer p.builds.done()
				p.buildNext(sh)
				sh.growing.Store(false)
			}()
		}
	}
	prefetch.Lines(unsafe.Pointer(&t.slots[h&t.mask]), 1)
}

// backgroundSlots is the table size from which prepare builds the next
// table in the background: from 256 KiB of slots, whose successor takes
// a millisecond or more to map and fill, while smaller ones take about as
// long as a goroutine takes to start.
const backgroundSlots = 1 << 14

// wait returns once no background build runs.
func (p *PointIndex) wait() { p.builds.wait() }

// builds counts running background builds. A WaitGroup would not do: a
// build may start while Close waits, which WaitGroup forbids.
type builds struct {
	mu   sync.Mutex
	n    int
	idle sync.Cond
}

func (b *builds) start() {
	b.mu.Lock()
	b.n++
	b.mu.Unlock()
}

func (b *builds) done() {
	b.mu.Lock()
	if b.n--; b.n == 0 && b.idle.L != nil {
		b.idle.Broadcast()
	}
	b.mu.Unlock()
}

func (b *builds) wait() {
	b.mu.Lock()
	if b.idle.L == nil {
		b.idle.L = &b.mu
	}
	for b.n > 0 {
		b.idle.Wait()
	}
	b.mu.Unlock()
}

// buildNext grows sh's table for prepare, which holds sh.growing, and
// returns the shard's table.
func (p *PointIndex) buildNext(sh *indexShard) *indexTable {
	// Read again: the grow before may have finished between prepare's
	// check and its claim.
	t := sh.tab.Load()
	if !softFull(sh.count.Load(), len(t.slots)) {
		return t
	}
	nt := p.newTable(len(t.slots) * 2)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	t = sh.tab.Load()
	if !softFull(sh.count.Load(), len(t.slots)) {
		return t // a publish grew it at three quarters full; nt is dropped
	}
	if len(nt.slots) != 2*len(t.slots) {
		nt = p.newTable(len(t.slots) * 2) // it grew meanwhile, and must again
	}
	t.copyInto(nt)
	sh.tab.Store(nt)
	return nt
}

func (p *PointIndex) entries() int64 {
	var n int64
	for i := range p.shards {
		sh := &p.shards[i]
		sh.mu.Lock()
		n += sh.entries
		sh.mu.Unlock()
	}
	return n
}

// grow copies t into a table twice the size. Called with the shard locked,
// so no slot of t changes while it runs.
func (p *PointIndex) grow(t *indexTable) *indexTable {
	nt := p.newTable(len(t.slots) * 2)
	t.copyInto(nt)
	return nt
}

// newTable is newIndexTable for a growing shard, counted in p.grown.
func (p *PointIndex) newTable(n int) *indexTable {
	p.grown.Add(1)
	return newIndexTable(n)
}

// copyInto inserts every entry of t into nt, an empty table twice its
// size. Called with the shard locked.
func (t *indexTable) copyInto(nt *indexTable) {
	for i := range t.slots {
		h := t.slots[i].hash.Load()
		if h == 0 {
			continue
		}
		for j := h & nt.mask; ; j = (j + 1) & nt.mask {
			if nt.slots[j].hash.Load() == 0 {
				nt.slots[j].node.Store(t.slots[i].node.Load())
				nt.slots[j].hash.Store(h)
				break
			}
		}
	}
}
