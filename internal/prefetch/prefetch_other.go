//go:build !amd64

package prefetch

import "unsafe"

// Lines starts loading the n cache lines from p on; here it does nothing.
func Lines(p unsafe.Pointer, n int) {}

// Rows starts loading the first n cache lines of row id of the array at
// base, rows stride bytes apart, for every id in ids; here it does nothing.
func Rows(base unsafe.Pointer, stride uintptr, ids []uint32, n int) {}
