package prefetch

import "unsafe"

// Lines starts loading the n cache lines from p on. n <= 0 does nothing.
//
//go:noescape
func Lines(p unsafe.Pointer, n int)

// LinesL2 is Lines into the outer caches only (L2 and beyond), for data
// needed a little later: it does not hold one of the few buffers that
// track misses into the first-level cache.
//
//go:noescape
func LinesL2(p unsafe.Pointer, n int)
