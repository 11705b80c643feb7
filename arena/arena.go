package arena

import (
	"errors"
	"fmt"
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
	// that is 4 TiB of arena, far past any machine's memory.
	MaxChunks = 4096
	// MinChunkSize is the size of the first chunk.
	MinChunkSize = 1 << 20
	// MaxChunkSize is the size chunks stop doubling at. A single allocation
	// larger than this gets a chunk of its own.
	MaxChunkSize = 1 << 30
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
}

// New returns an arena whose first chunk holds initial bytes (at least
// MinChunkSize is not required: small arenas for tests are fine).
func New(initial int) *Arena {
	if initial < 4096 {
		initial = 4096
	}
	a := &Arena{}
	a.mu.Lock()
	c := a.newChunkLocked(uint64(initial))
	a.mu.Unlock()
	// Offset 0 must never be returned: burn the first Align bytes.
	c.pos.Store(Align)
	a.cur.Store(c)
	return a
}

func (a *Arena) newChunkLocked(size uint64) *chunk {
	buf := make([]byte, size+Slack)
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
			return c.idx<<32 | (end - sz), nil
		}
		if err := a.grow(c, sz); err != nil {
			return 0, err
		}
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
	size := full.size * 2
	if size > MaxChunkSize {
		size = MaxChunkSize
	}
	if size < MinChunkSize {
		size = MinChunkSize
	}
	if need > size {
		size = need
	}
	a.cur.Store(a.newChunkLocked(size))
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
	Used     int64 // bytes handed out by Alloc
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
