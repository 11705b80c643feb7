// Linux specifics of the cold-tier measurement: dropping a file's pages
// from the page cache, and disk usage in allocated blocks.

package main

import (
	"os"
	"syscall"
)

// posixFadvDontneed is POSIX_FADV_DONTNEED: the kernel drops the file's
// clean cached pages, so the next read of them goes to the device. It
// needs no privilege, unlike /proc/sys/vm/drop_caches, and touches no
// other file on the machine.
const posixFadvDontneed = 4

func dropPageCache(f *os.File) error {
	_, _, errno := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, posixFadvDontneed, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// diskUsage is what du reports for the files: allocated 512-byte blocks.
func diskUsage(paths []string) int64 {
	var n int64
	for _, p := range paths {
		var st syscall.Stat_t
		if syscall.Stat(p, &st) == nil {
			n += st.Blocks * 512
		}
	}
	return n
}
