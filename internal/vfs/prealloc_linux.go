package vfs

import (
	"errors"
	"os"
	"syscall"
)

// fallocKeepSize is FALLOC_FL_KEEP_SIZE: allocate blocks past the end of
// the file without moving the end, so what readers see (and a log's scan
// for its last record) does not change.
const fallocKeepSize = 1

// Filesystem magic numbers (statfs f_type) of filesystems in memory.
const (
	tmpfsMagic = 0x01021994
	ramfsMagic = 0x858458f6
)

// noReserve reports whether a filesystem of type fsType gains nothing from
// space reserved ahead: tmpfs and ramfs keep files in memory, where there
// are no blocks to allocate and a reservation pins memory the file may
// never use.
func noReserve(fsType uint32) bool { return fsType == tmpfsMagic || fsType == ramfsMagic }

func (f osFile) Preallocate(size int64) error {
	if size <= 0 {
		return nil
	}
	rc, err := f.SyscallConn() // not Fd: that would switch the file to blocking mode
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		var st syscall.Statfs_t
		if syscall.Fstatfs(int(fd), &st) == nil && noReserve(uint32(st.Type)) {
			return
		}
		for {
			ferr = syscall.Fallocate(int(fd), fallocKeepSize, 0, size)
			if !errors.Is(ferr, syscall.EINTR) {
				return
			}
		}
	}); err != nil {
		// Control fails only for a closed file; say so as the file's
		// other methods do.
		return &os.PathError{Op: "fallocate", Path: f.Name(), Err: os.ErrClosed}
	}
	if errors.Is(ferr, syscall.EOPNOTSUPP) || errors.Is(ferr, syscall.ENOSYS) {
		return nil // a filesystem without it: the space is allocated as written
	}
	if ferr != nil {
		return &os.PathError{Op: "fallocate", Path: f.Name(), Err: ferr}
	}
	return nil
}
