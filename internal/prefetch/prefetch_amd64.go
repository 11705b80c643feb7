package prefetch

import "unsafe"

// Lines starts loading the n cache lines from p on. n <= 0 does nothing.
//
//go:noescape
func Lines(p unsafe.Pointer, n int)

// Rows starts loading the first n cache lines of row id of the array at
// base, rows stride bytes apart, for every id in ids. n <= 0 does nothing.
//
//go:noescape
func Rows(base unsafe.Pointer, stride uintptr, ids []uint32, n int)
