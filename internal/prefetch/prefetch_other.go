//go:build !amd64

package prefetch

import "unsafe"

// Lines starts loading the n cache lines from p on; here it does nothing.
func Lines(p unsafe.Pointer, n int) {}

// LinesL2 is Lines into the outer caches; here it does nothing.
func LinesL2(p unsafe.Pointer, n int) {}
