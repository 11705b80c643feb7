package hnsw

import (
	"unsafe"

	"github.com/inmem-db/inmem/arena"
)

// mappings holds the functions that free the index's flat arrays. The
// arrays live outside the Go heap where that is cheaper (arena.Reserve):
// huge pages make the random vector and link reads of a search miss the
// TLB far less, and capacity grown ahead of use costs no memory until it
// is written. A cleanup attached to the Index frees them once it is
// unreachable; growth frees the old arrays itself, under the write lock,
// when no goroutine is inside the index.
type mappings struct {
	vecs, links0, insVer, meta func()
}

// release frees every mapped array. Nothing may touch them afterwards.
func (m *mappings) release() {
	for _, f := range []*func(){&m.vecs, &m.links0, &m.insVer, &m.meta} {
		if *f != nil {
			(*f)()
			*f = nil
		}
	}
}

// flatElem are the element types kept in flat arrays: none holds a Go
// pointer, so the arrays may live where the garbage collector does not look.
type flatElem interface {
	~uint32 | ~uint64 | ~float32 | nodeMeta
}

// nodeMeta is what a search checks of each node it reaches, kept together so
// that the check costs one cache line: 16 bytes, so four nodes share a line
// and none straddles two.
type nodeMeta struct {
	delVer uint64 // atomic; 0 = live
	state  uint32 // atomic; stateEmpty/Writing/Ready/Dying
	level  uint8  // write-once before stateReady
	_      [3]byte
}

// regrow returns a zeroed array of n elements holding a copy of old, and
// frees old through *rel, which it replaces with the new array's release.
// Only call it with no goroutine able to touch old.
func regrow[T flatElem](old []T, n int, rel *func()) []T {
	var zero T
	mem, r := arena.Reserve(n * int(unsafe.Sizeof(zero)))
	s := unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(mem))), n)
	copy(s, old)
	if *rel != nil {
		(*rel)()
	}
	*rel = r
	return s
}
