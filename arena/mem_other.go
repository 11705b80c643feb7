//go:build !linux || race

package arena

// allocChunk returns zeroed memory for a chunk from the Go heap.
//
// Race-enabled builds always use the heap: the race detector tracks
// synchronisation only on memory it knows, and atomics on privately mapped
// memory would look like no synchronisation at all.
func allocChunk(size int) ([]byte, func()) {
	return make([]byte, size), nil
}

func mapMem(size int, _ bool) ([]byte, func()) { return make([]byte, size), nil }

func mapChunk(size int) ([]byte, func()) { return allocChunk(size) }

func populate([]byte, func()) {}
