package vfs

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// allocatedBytes is the space the filesystem holds for path.
func allocatedBytes(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(path, &st))
	return st.Blocks * 512
}

// TestPreallocateReservesOnDiskOnly: on a filesystem with blocks the
// reservation is made (when it supports fallocate at all), past the
// file's end; on one in memory (tmpfs, where /dev/shm usually is) nothing
// is reserved, as that would only pin memory.
func TestPreallocateReservesOnDiskOnly(t *testing.T) {
	require.True(t, noReserve(tmpfsMagic))
	require.True(t, noReserve(ramfsMagic))
	require.False(t, noReserve(0xef53), "ext4")

	const size = 8 << 20
	check := func(dir string) {
		var sf syscall.Statfs_t
		require.NoError(t, syscall.Statfs(dir, &sf))
		p := filepath.Join(dir, "prealloc-test")
		f, err := OS.Create(p)
		require.NoError(t, err)
		defer os.Remove(p)
		_, err = f.Write([]byte("header"))
		require.NoError(t, err)
		require.NoError(t, f.Preallocate(size))
		require.Equal(t, int64(6), must(f.Size()))
		require.NoError(t, f.Close())
		got := allocatedBytes(t, p)
		switch typ := uint32(sf.Type); {
		case noReserve(typ):
			require.Less(t, got, int64(size), "%s is in memory: nothing reserved", dir)
		case typ == 0xef53 || typ == 0x58465342: // ext4, xfs: fallocate works
			require.GreaterOrEqual(t, got, int64(size), "%s: the space is reserved", dir)
		}
	}
	check(t.TempDir())
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		check("/dev/shm")
	}
}
