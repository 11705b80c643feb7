//go:build !linux

package vfs

// Preallocate does nothing where fallocate is not available: the space is
// allocated as it is written.
func (f osFile) Preallocate(int64) error { return nil }
