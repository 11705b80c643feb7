package prefetch

import "unsafe"

// Lines starts loading the n cache lines from p on. n <= 0 does nothing.
//
//go:noescape
func Lines(p unsafe.Pointer, n int)
