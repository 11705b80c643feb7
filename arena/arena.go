package arena

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

const (
	// Align is the alignment of every allocation.
	Align = 8
	// Slack is the number of bytes kept unused at the end of every chunk, so
	// that a header of up to Slack bytes can be viewed at any allocated offset.
	Slack = 256
	// MaxChunks bounds the chunk table. With chunks growing to MaxChunkSize,
	// that is 256 GiB of arena.
	MaxChunks = 4096
	// MinChunkSize is the size of the first chunk.
	MinChunkSize = 1 << 20
	// MaxChunkSize is the size chunks stop doubling at. A single allocation
	// larger than this gets a chunk of its own.
	MaxChunkSize = 64 << 20
	// MaxAlloc is the largest single allocation.
	MaxAlloc = 1<<32 - Slack - Align
)

// ErrTooLarge is returned for an allocation larger than MaxAlloc.
var ErrTooLarge = errors.New("arena: allocation too large")

// ErrFull is returned when the chunk table is exhausted.
var ErrFull = errors.New("arena: chunk table full")

// chunk is one contiguous block. pos is the next free position; it may run
// past len(buf) when concurrent allocations overflow, which is how the one
// goroutine that must install the next chunk finds out.
type chunk struct {
	pos  atomic.Uint64
	idx  uint64
	size uint64 // usable bytes: len(buf) - Slack
	buf  []byte
}

// Arena is a chunked bump allocator. The zero value is not usable; call New.
type Arena struct {
	cur   atomic.Pointer[chunk]
	bases [MaxChunks]unsafe.Pointer // base address of each chunk; written before the chunk is published

	mu      sync.Mutex // serialises chunk installation only
	nchunks int
	chunks  []*chunk // for Stats; guarded by mu

	// spare is the next chunk's memory, mapped in the background once the
	// current chunk is half full and faulted in there while it waits (and
	// while it is first used, if writers get to it sooner), so growing
	// never waits for the kernel to fault in a chunk.
	spare atomic.Pointer[[]byte]
	prep  atomic.Pointer[chan struct{}] // non-nil while a spare is mapped or faulted in; closed when done

	rel *releaser

	fill func(b []byte, release func()) // for tests: replaces populate for spares
}

// releaser frees mapped chunks once the arena is unreachable. It is a
// separate object because a cleanup must not keep its arena alive.
type releaser struct {
	mu  sync.Mutex
	fns []func()
}

func (r *releaser) add(f func()) {
	if f == nil {
		return
	}
	r.mu.Lock()
	r.fns = append(r.fns, f)
	r.mu.Unlock()
}

func (r *releaser) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.fns {
		f()
	}
	r.fns = nil
}

// New returns an arena whose first chunk holds initial bytes (at least
// MinChunkSize is not required: small arenas for tests are fine).
func New(initial int) *Arena {
	if initial < 4096 {
		initial = 4096
	}
	a := &Arena{rel: &releaser{}}
	runtime.AddCleanup(a, func(r *releaser) { r.release() }, a.rel)
	a.mu.Lock()
	c := a.newChunkLocked(uint64(initial), uint64(initial))
	a.mu.Unlock()
	// Offset 0 must never be returned: burn the first Align bytes.
	c.pos.Store(Align)
	a.cur.Store(c)
	return a
}

// newChunkLocked makes a chunk of size bytes, or takes the spare if it
// holds need: a spare prepared for a smaller chunk than size (the
// allocation that grew the arena past it needed a chunk of its own) is
// used rather than left in place, where it stopped every later
// preparation and each chunk after it was mapped and faulted in by the
// writer that needed it.
func (a *Arena) newChunkLocked(size, need uint64) *chunk {
	var buf []byte
	if sp := a.spare.Load(); sp != nil && uint64(len(*sp)) >= need+Slack && a.spare.CompareAndSwap(sp, nil) {
		buf = *sp
		size = uint64(len(buf)) - Slack
	} else {
		var rel func()
		buf, rel = allocChunk(int(size + Slack))
		a.rel.add(rel)
	}
	c := &chunk{idx: uint64(a.nchunks), size: size, buf: buf}
	a.bases[a.nchunks] = unsafe.Pointer(&buf[0])
	a.nchunks++
	a.chunks = append(a.chunks, c)
	return c
}

// Alloc reserves n bytes and returns their offset. The memory is zeroed.
func (a *Arena) Alloc(n int) (uint64, error) {
	if n < 0 || uint64(n) > MaxAlloc {
		return 0, fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
	}
	sz := (uint64(n) + Align - 1) &^ (Align - 1)
	if sz == 0 {
		sz = Align
	}
	for {
		c := a.cur.Load()
		end := c.pos.Add(sz)
		if end <= c.size {
			if half := c.size / 2; end > half && end-sz <= half {
				a.prepareNext(c.size)
			}
			return c.idx<<32 | (end - sz), nil
		}
		if err := a.grow(c, sz); err != nil {
			return 0, err
		}
	}
}

// Local is a block of an arena that one writer at a time allocates from
// without touching the arena's shared offset. Two writers sharing the
// offset moved its cache line between cores on every allocation, and
// their nodes, allocated alternately, shared lines too, so each core's
// writes to its own nodes evicted the other's. The zero value is ready;
// a Local belongs to the arena its first block came from until Reset.
//
// A writer allocates straight from the arena until it has allocated
// localStart bytes, and then takes blocks of an eighth of what it has
// allocated, between localMin and localMax: the unused end of its last
// block, what a Local wastes, stays below an eighth of what it allocated,
// and a writer of a few small records wastes nothing.
type Local struct {
	off, end uint64 // the free part of the current block
	used     uint64 // bytes allocated through the Local
}

const (
	localStart = 8 << 10
	localMin   = 4 << 10
	localMax   = 64 << 10
)

// Reset forgets the Local's block, for use with another arena.
func (l *Local) Reset() { *l = Local{} }

// AllocLocal is Alloc from l's block, taking a new block from a when the
// current one has no room. l must be used by one goroutine at a time and
// with one arena (see Reset).
func (a *Arena) AllocLocal(l *Local, n int) (uint64, error) {
	if n < 0 || uint64(n) > MaxAlloc {
		return 0, fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
	}
	sz := max((uint64(n)+Align-1)&^(Align-1), Align)
	l.used += sz
	if l.end-l.off >= sz {
		off := l.off
		l.off += sz
		return off, nil
	}
	block := min(max(l.used/8, localMin), localMax)
	if l.used < localStart || sz > block/4 {
		return a.Alloc(n)
	}
	off, err := a.Alloc(int(block))
	if err != nil {
		return 0, err
	}
	l.off, l.end = off+sz, off+block
	return off, nil
}

// Map returns size bytes of zeroed memory outside the Go heap where that is
// cheaper (see allocChunk), and a function that frees it, or nil if the
// garbage collector owns it. The memory must hold no Go pointers, and
// release must run only when nothing can touch the memory any more.
func Map(size int) (mem []byte, release func()) {
	return allocChunk(size)
}

// Reserve is Map for arrays grown ahead of use: the pages are not touched
// up front but faulted in on first write, so the unused tail of a reserved
// array costs address space, not memory. The same rules as Map apply.
func Reserve(size int) (mem []byte, release func()) {
	return mapMem(size, false)
}

// nextSize is the size of the chunk that follows one of size cur.
func nextSize(cur uint64) uint64 {
	return min(max(cur*2, MinChunkSize), MaxChunkSize)
}

// prepareNext allocates the chunk after one of size cur in the background.
// The spare is offered as soon as it is mapped and faulted in after that:
// writers that fill the current chunk before the faulting is done take the
// spare anyway and fault its remaining pages themselves, which costs them
// no more than the background would, instead of waiting for all of it.
// Writers on every core of a two-core machine filled a 64 MiB chunk in
// about the time it took to fault in the next one, and waited up to a
// quarter of the time for it.
func (a *Arena) prepareNext(cur uint64) {
	if a.spare.Load() != nil || a.prep.Load() != nil {
		return
	}
	done := make(chan struct{})
	if !a.prep.CompareAndSwap(nil, &done) {
		return
	}
	go func() {
		buf, rel := mapChunk(int(nextSize(cur) + Slack))
		a.rel.add(rel)
		a.spare.Store(&buf)
		// Faulting in pages a writer has already touched is a no-op, so
		// this may run beside the chunk's first writes.
		if a.fill != nil {
			a.fill(buf, rel)
		} else {
			populate(buf, rel)
		}
		a.prep.Store(nil)
		close(done)
		// Writers may have taken the spare before it was faulted in and
		// already filled half of it: their call to prepare the next one
		// found this one running and did nothing, so make it here. (A
		// writer crossing half after the Store above finds prep clear.)
		// Under mu, so that the spare and the current chunk are read as
		// grow leaves them: a chunk that still has its spare waiting, or
		// that is full and being replaced by grow, gets none; a spare
		// made for it would be taken by the chunk after, at the wrong size.
		a.mu.Lock()
		c := a.cur.Load()
		pos := c.pos.Load()
		due := a.spare.Load() == nil && pos > c.size/2 && pos <= c.size
		a.mu.Unlock()
		if due {
			a.prepareNext(c.size)
		}
	}()
}

// Wait returns once no background chunk preparation is running.
func (a *Arena) Wait() {
	if p := a.prep.Load(); p != nil {
		<-*p
	}
}

// waitSpare returns once a chunk being prepared is mapped (offered as the
// spare) or its preparation is over.
func (a *Arena) waitSpare() {
	for a.spare.Load() == nil && a.prep.Load() != nil {
		runtime.Gosched()
	}
}

// grow installs a chunk after full, unless another goroutine already did.
func (a *Arena) grow(full *chunk, need uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur.Load() != full {
		return nil
	}
	if a.nchunks >= MaxChunks {
		return ErrFull
	}
	// A chunk being prepared will be ready sooner than a second one.
	a.waitSpare()
	size := max(nextSize(full.size), need)
	a.cur.Store(a.newChunkLocked(size, need))
	return nil
}

// Pointer returns the address of the byte at off. off must come from Alloc.
func (a *Arena) Pointer(off uint64) unsafe.Pointer {
	return unsafe.Add(a.bases[off>>32&(MaxChunks-1)], int(off&0xffffffff))
}

// Bytes returns the n bytes at off as a slice aliasing arena memory.
func (a *Arena) Bytes(off uint64, n int) []byte {
	return unsafe.Slice((*byte)(a.Pointer(off)), n)
}

// Stats reports memory accounting.
type Stats struct {
	Reserved int64 // bytes held from the Go heap, slack included
	Used     int64 // bytes handed out by Alloc, whole blocks of Locals included
	Chunks   int
}

// Stats returns the arena's memory accounting. It walks the chunk table, so
// it is meant for monitoring, not for hot paths.
func (a *Arena) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := Stats{Chunks: a.nchunks}
	for _, c := range a.chunks {
		st.Reserved += int64(len(c.buf))
		st.Used += int64(min(c.pos.Load(), c.size))
	}
	return st
}
