package coldfile

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/inmem-db/inmem/internal/vfs"
)

// BlockCache holds decompressed blocks between reads. Its keys are
// (file id, block number) made into one number by the reader. A nil cache
// reads every block from the file.
//
// A reader keeps a pointer to each block the cache returned to it, so a
// warm read skips the cache's lookup; the cache must call Block.Drop on
// every block it lets go (evicted, rejected, replaced), which takes the
// block out of those pointers, and is told of such reads through Hit.
type BlockCache interface {
	Get(key uint64) (*Block, bool)
	Set(key uint64, block *Block)
	Hit(key uint64)
}

// Block is a decompressed block whose restart points were checked, as the
// cache holds it. A point read needs its point index (a pointTable): a
// hash probe, not a binary search of the restart points and a decode of
// up to restartEvery entries. A scan does not; the index is built before
// a cache takes the block (so its cost never changes) if a point read
// loads it, and by an uncached reader's first point read.
type Block struct {
	// First, so that a warm point read finds the table's headers on the
	// cache line it loads to check once.
	once       sync.Once
	points     pointTable
	err        error        // why the point index could not be built (a malformed entry)
	indexBytes atomic.Int64 // what the point index takes, once built
	indexed    atomic.Bool  // the point index is built
	it         blockIter    // unpositioned
	// Where a reader keeps a pointer to the block (see BlockCache), and
	// whether the cache has let it go: then no reader may keep one.
	slot    atomic.Pointer[atomic.Pointer[Block]]
	dropped atomic.Bool
}

// Cost is what the block counts for in a cache bounded in bytes: its
// entries and its point index.
func (b *Block) Cost() int64 { return int64(len(b.it.data)) + b.indexBytes.Load() }

// Drop tells the block its cache has let it go: the reader pointing to it
// forgets it, so the cache's bound holds for every block readers reach.
func (b *Block) Drop() {
	b.dropped.Store(true)
	if s := b.slot.Load(); s != nil {
		s.CompareAndSwap(b, nil)
	}
}

// keep points slot at b, unless its cache let it go or another reader's
// slot points at it (one slot a block, so Drop knows which to clear).
// Drop stores dropped before it loads slot, and keep stores slot before
// it loads dropped: whichever runs second clears the slot.
func (b *Block) keep(slot *atomic.Pointer[Block]) {
	if !b.slot.CompareAndSwap(nil, slot) && b.slot.Load() != slot {
		return
	}
	slot.Store(b)
	if b.dropped.Load() {
		slot.CompareAndSwap(b, nil)
	}
}

// pointIndex builds (once) and returns the block's point index; last is
// the block's last key.
func (b *Block) pointIndex(last []byte) (*pointTable, error) {
	b.once.Do(func() {
		b.err = b.points.build(b.it, last)
		b.indexBytes.Store(b.points.size())
		b.indexed.Store(true)
	})
	return &b.points, b.err
}

// Reader reads one cold file. It is safe for concurrent use.
type Reader struct {
	f       vfs.File
	path    string
	id      uint64 // the cache's name for this file
	index   []indexEntry
	entries uint64
	size    int64
	cache   BlockCache
	blocks  []atomic.Pointer[Block] // the blocks the cache holds, as far as known (see BlockCache)
}

// Open checks a cold file's footer and index and returns its reader. id
// names the file in cache (unique among the files sharing one); cache may
// be nil.
func Open(fs vfs.FS, path string, id uint64, cache BlockCache) (*Reader, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cold file %s: %w", path, err)
	}
	r, err := newReader(f, path, id, cache)
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func newReader(f vfs.File, path string, id uint64, cache BlockCache) (*Reader, error) {
	size, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("cold file %s: %w", path, err)
	}
	if size < footerSize {
		return nil, errCorrupt(path, 0, "%d bytes, shorter than a footer", size)
	}
	fb := make([]byte, footerSize)
	if _, err := f.ReadAt(fb, size-footerSize); err != nil {
		return nil, fmt.Errorf("cold file %s: %w", path, err)
	}
	ft, err := decodeFooter(fb, size)
	if err != nil {
		return nil, errCorrupt(path, size-footerSize, "footer: %v", err)
	}
	ib := make([]byte, ft.indexLen)
	if _, err := f.ReadAt(ib, ft.indexOff); err != nil && err != io.EOF {
		return nil, fmt.Errorf("cold file %s: %w", path, err)
	}
	idx, err := decodeIndex(ib, ft.indexOff)
	if err != nil {
		return nil, errCorrupt(path, ft.indexOff, "index: %v", err)
	}
	r := &Reader{f: f, path: path, id: id, index: idx, entries: ft.entries, size: size, cache: cache}
	if cache != nil {
		r.blocks = make([]atomic.Pointer[Block], len(idx))
	}
	return r, nil
}

// Close closes the file, and lets go of the blocks the reader kept, so a
// reader of the same file opened later can keep them. No read may be in
// flight.
func (r *Reader) Close() error {
	for i := range r.blocks {
		if b := r.blocks[i].Swap(nil); b != nil {
			b.slot.CompareAndSwap(&r.blocks[i], nil)
		}
	}
	return r.f.Close()
}

// Path is the file's path.
func (r *Reader) Path() string { return r.path }

// Size is the file's size in bytes.
func (r *Reader) Size() int64 { return r.size }

// Entries is the number of entries the file holds.
func (r *Reader) Entries() uint64 { return r.entries }

// Blocks is the number of blocks the file holds.
func (r *Reader) Blocks() int { return len(r.index) }

// block returns block i decompressed and parsed, through the cache. A
// point read (point) gets it with its point index: a cached block is
// indexed before the cache takes it, so its cost never changes, and a
// cached block a scan loaded is replaced by an indexed copy.
func (r *Reader) block(i int, point bool) (*Block, error) {
	return r.blockAhead(i, point, nil)
}

// ahead is the next block, read from the file with the one before it.
type ahead struct {
	i   int
	raw []byte // nil: none
}

// blockAhead is block; with next, a block it reads from the file comes
// with the block after it in the same read, kept in *next, and a block
// *next holds is not read again. A scan that crosses into the next block
// then waits for the disk once, not twice.
func (r *Reader) blockAhead(i int, point bool, next *ahead) (*Block, error) {
	key := r.id<<24 | uint64(i)
	var b *Block
	if r.cache != nil {
		if b = r.blocks[i].Load(); b != nil {
			r.cache.Hit(key)
		} else if c, ok := r.cache.Get(key); ok {
			b = c
			b.keep(&r.blocks[i])
		}
	}
	e := &r.index[i]
	if b == nil {
		raw, err := r.read(i, next)
		if err != nil {
			return nil, err
		}
		data, err := openBlock(raw)
		if err != nil {
			return nil, errCorrupt(r.path, e.off, "block %d: %v", i, err)
		}
		it, err := parseBlock(data)
		if err != nil {
			return nil, errCorrupt(r.path, e.off, "block %d: %v", i, err)
		}
		b = &Block{it: it}
		if r.cache == nil {
			return b, nil // indexed by its first point read, if any
		}
		if point {
			_, _ = b.pointIndex(e.lastKey) // a malformed entry is the caller's error
		}
		r.cache.Set(key, b)
		return b, nil
	}
	if point && !b.indexed.Load() {
		nb := &Block{it: b.it}
		_, _ = nb.pointIndex(e.lastKey)
		r.cache.Set(key, nb) // the cache drops b, and readers forget it
		b = nb
	}
	return b, nil
}

// read reads block i's bytes from the file, or takes them from next, and
// with next reads the block after it too (the two share an array: for an
// uncompressed block, which aliases it, the array lives while either does).
func (r *Reader) read(i int, next *ahead) ([]byte, error) {
	e := &r.index[i]
	if next != nil && next.raw != nil && next.i == i {
		raw := next.raw
		next.raw = nil
		return raw, nil
	}
	n := e.length
	more := next != nil && i+1 < len(r.index)
	if more {
		n += r.index[i+1].length
	}
	raw := make([]byte, n)
	if _, err := r.f.ReadAt(raw, e.off); err != nil && err != io.EOF {
		return nil, fmt.Errorf("cold file %s: block %d: %w", r.path, i, err)
	}
	if more {
		next.i, next.raw = i+1, raw[e.length:]
	}
	return raw[:e.length:e.length], nil
}

// parsed returns block i ready to walk.
func (r *Reader) parsed(i int) (blockIter, error) {
	b, err := r.block(i, false)
	if err != nil {
		return blockIter{}, err
	}
	return b.it, nil
}

// find returns the block holding the place of (key, version): the first
// whose last entry sorts at or after it (len(index) when none does).
func (r *Reader) find(key []byte, version uint64) int {
	return r.findIn(0, len(r.index), key, version)
}

// findIn is find among blocks [lo, hi) (hi when none of them).
func (r *Reader) findIn(lo, hi int, key []byte, version uint64) int {
	return lo + sort.Search(hi-lo, func(i int) bool {
		e := &r.index[lo+i]
		return compare(e.lastKey, e.lastVersion, key, version) >= 0
	})
}

// Span returns the blocks [lo, hi) that hold every entry whose key starts
// with prefix (lo == hi: none). A run's keys share its scope's prefix, so
// its reads can search its few blocks instead of the whole file's index
// (which, searched whole, costs a cache miss a probe).
func (r *Reader) Span(prefix []byte) (lo, hi int) {
	lo = r.find(prefix, ^uint64(0))
	hi = lo + sort.Search(len(r.index)-lo, func(i int) bool {
		k := r.index[lo+i].lastKey
		return !bytes.HasPrefix(k, prefix) && bytes.Compare(k, prefix) > 0
	})
	return lo, min(hi+1, len(r.index))
}

// Get returns the newest version of key at or below snapshot, the way the
// skiplist's Get does: value as stored (the caller decodes tombstones and
// expiry). It reads one block.
func (r *Reader) Get(key []byte, snapshot uint64) (value []byte, version uint64, ok bool, err error) {
	return r.GetIn(0, len(r.index), key, snapshot)
}

// GetIn is Get for a key whose place is in blocks [lo, hi): a Span of a
// prefix of key.
func (r *Reader) GetIn(lo, hi int, key []byte, snapshot uint64) (value []byte, version uint64, ok bool, err error) {
	if lo < 0 || hi > len(r.index) || lo > hi {
		return nil, 0, false, fmt.Errorf("cold file %s: blocks [%d, %d) of %d", r.path, lo, hi, len(r.index))
	}
	i := r.findIn(lo, hi, key, snapshot)
	if i == hi {
		return nil, 0, false, nil
	}
	b, err := r.block(i, true)
	if err != nil {
		return nil, 0, false, err
	}
	// The block holds the place of (key, snapshot): the newest version of
	// key at or below snapshot is in it if anywhere.
	points, err := b.pointIndex(r.index[i].lastKey)
	if err != nil {
		return nil, 0, false, errCorrupt(r.path, r.index[i].off, "block %d: %v", i, err)
	}
	off, n, version, ok := points.get(key, snapshot)
	if !ok {
		return nil, 0, false, nil
	}
	return b.it.data[off : off+n : off+n], version, true, nil
}

// Iter returns an iterator over the file's entries; SeekGE or First
// positions it.
func (r *Reader) Iter() *Iter { return &Iter{r: r, blk: -1} }

// Iter walks a file's entries in order. Key and Value are valid until the
// next move. Err reports a failed check, after which Valid is false.
type Iter struct {
	r     *Reader
	blk   int
	it    blockIter
	valid bool
	err   error
	next  ahead
}

// First moves to the file's first entry.
func (it *Iter) First() { it.load(0); it.step() }

// SeekGE moves to the first entry at or after (key, version).
func (it *Iter) SeekGE(key []byte, version uint64) {
	it.load(it.r.find(key, version))
	if it.err == nil && it.blk < len(it.r.index) {
		it.it.seekRestart(key, version)
	}
	for it.step() && compare(it.it.cur.key, it.it.cur.version, key, version) < 0 {
	}
}

// Next moves to the next entry.
func (it *Iter) Next() { it.step() }

// load reads block i (none past the last).
func (it *Iter) load(i int) {
	it.blk, it.valid = i, false
	if it.err != nil || i >= len(it.r.index) {
		it.it = blockIter{}
		return
	}
	b, err := it.r.blockAhead(i, false, &it.next)
	if err != nil {
		it.err = err
		return
	}
	it.it = b.it
}

// step decodes the next entry, crossing into the next block at a block's
// end; it reports Valid.
func (it *Iter) step() bool {
	for it.err == nil && it.blk < len(it.r.index) {
		if it.it.next() {
			it.valid = true
			return true
		}
		if it.it.err != nil {
			it.err = errCorrupt(it.r.path, it.r.index[it.blk].off, "block %d: %v", it.blk, it.it.err)
			break
		}
		it.load(it.blk + 1)
	}
	it.valid = false
	return false
}

// Valid reports whether the iterator is at an entry.
func (it *Iter) Valid() bool { return it.valid && it.err == nil }

// Key is the entry's key.
func (it *Iter) Key() []byte { return it.it.cur.key }

// Version is the entry's version.
func (it *Iter) Version() uint64 { return it.it.cur.version }

// Value is the entry's value as stored.
func (it *Iter) Value() []byte { return it.it.cur.value }

// Err is the failed check that stopped the iterator, if any.
func (it *Iter) Err() error { return it.err }

// Verify reads every block past the cache, checks it, the order of its
// entries within and across blocks, that each block ends where the index
// says, and the entry count the footer gives.
func (r *Reader) Verify() error {
	plain := *r
	plain.cache = nil
	var prev []byte
	var prevVersion, n uint64
	for i, e := range r.index {
		it, err := plain.parsed(i)
		if err != nil {
			return err
		}
		first := true
		for it.next() {
			if first && n > 0 && compare(prev, prevVersion, it.cur.key, it.cur.version) >= 0 {
				return errCorrupt(r.path, e.off, "block %d starts before block %d ends", i, i-1)
			}
			first = false
			n++
			prev, prevVersion = append(prev[:0], it.cur.key...), it.cur.version
		}
		if it.err != nil {
			return errCorrupt(r.path, e.off, "block %d: %v", i, it.err)
		}
		if it.ri != it.numRestarts() {
			return errCorrupt(r.path, e.off, "block %d: %d of %d restart points on an entry", i, it.ri, it.numRestarts())
		}
		if first {
			return errCorrupt(r.path, e.off, "block %d is empty", i)
		}
		if compare(prev, prevVersion, e.lastKey, e.lastVersion) != 0 {
			return errCorrupt(r.path, e.off, "block %d ends at %q@%d, the index says %q@%d", i, prev, prevVersion, e.lastKey, e.lastVersion)
		}
	}
	if n != r.entries {
		return errCorrupt(r.path, r.size-footerSize, "%d entries, the footer says %d", n, r.entries)
	}
	return nil
}
