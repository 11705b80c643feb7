// Package arena is a concurrent bump allocator over large []byte chunks.
//
// Memory handed out is addressed by a 64-bit offset (chunk index in the high
// 32 bits, position in the low 32 bits) rather than by a Go pointer, so the
// structures built on top of it (the skiplist) hold no pointers the garbage
// collector has to scan: a million entries cost the GC a few chunk headers.
//
// Invariants:
//   - Allocation is one atomic add on the current chunk; only the goroutine
//     whose add overflows a chunk takes a mutex, to install the next one.
//     A writer with a Local adds once per block of its own instead, and
//     bumps within the block without atomics; a Local is never shared by
//     two goroutines at once.
//   - Every allocation is 8-byte aligned, so callers may use 64-bit atomics on
//     the memory they get.
//   - Memory is never freed or moved while the arena is reachable: an offset,
//     once returned, stays valid for the arena's lifetime. Reclaiming space
//     means building a new arena and dropping the old one.
//   - Offset 0 is never returned, so callers can use it as nil.
//   - Each chunk carries Slack unused bytes at its end, so a fixed-size header
//     read at any valid offset stays inside the chunk's allocation.
package arena
