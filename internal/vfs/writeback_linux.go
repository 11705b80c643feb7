package vfs

import "syscall"

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start writeback of the
// range's dirty pages, waiting for nothing.
const syncFileRangeWrite = 2

func (f osFile) WriteBack(off, n int64) error {
	if n == 0 {
		return nil
	}
	rc, err := f.SyscallConn() // not Fd: that would switch the file to blocking mode
	if err != nil {
		return err
	}
	var werr error
	if err := rc.Control(func(fd uintptr) {
		werr = syscall.SyncFileRange(int(fd), off, n, syncFileRangeWrite)
	}); err != nil {
		return err
	}
	return werr
}
