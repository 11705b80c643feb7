package inmem

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/inmem-db/inmem/wal"
	"github.com/stretchr/testify/require"
)

// progressFixture writes a database with a snapshot of about 2 MiB and
// WAL after it, and returns its directory and the number of keys.
func progressFixture(t *testing.T) (string, int) {
	t.Helper()
	dir := t.TempDir()
	db, err := Open(dir)
	require.NoError(t, err)
	run, err := db.BeginRun(Name("big"))
	require.NoError(t, err)
	val := []byte(strings.Repeat("v", 1000))
	const n = 3000
	for i := 0; i < n; i++ {
		require.NoError(t, run.KV().Put(fmt.Sprintf("k%05d", i), val))
		if i == 2*n/3 {
			require.NoError(t, db.Checkpoint())
		}
	}
	require.NoError(t, db.Close())
	return dir, n
}

// TestRecoveryProgress: reopening a database with a snapshot and WAL
// reports progress in bytes that never goes back, moves while the snapshot
// loads and while the WAL replays, is called about once per percent, and
// ends at a total equal to the snapshot's size plus the WAL after it.
func TestRecoveryProgress(t *testing.T) {
	dir, n := progressFixture(t)
	snaps, err := snapshots(vfs.OS, dir)
	require.NoError(t, err)
	require.NotEmpty(t, snaps)
	snapPath := filepath.Join(dir, snapshotName(snaps[0]))
	meta, _, err := readSnapHeader(vfs.OS, snapPath)
	require.NoError(t, err)
	snapSize := fileStat(t, snapPath)
	want := snapSize
	segs, err := wal.Segments(vfs.OS, walDir(dir))
	require.NoError(t, err)
	var walSize int64
	for _, s := range segs {
		if s >= meta.segment {
			walSize += fileStat(t, filepath.Join(walDir(dir), wal.SegmentName(s)))
		}
	}
	require.Positive(t, walSize-wal.HeaderSize*2, "WAL records after the snapshot")
	want += walSize

	type call struct{ done, total int64 }
	var calls []call
	db, err := Open(dir, WithRecoveryProgress(func(done, total int64) { calls = append(calls, call{done, total}) }))
	require.NoError(t, err)
	defer db.Close()
	run, err := db.Runs().List(RunQuery{})
	require.NoError(t, err)
	require.Len(t, run, 1)
	require.EqualValues(t, n, run[0].Steps, "everything recovered")

	require.NotEmpty(t, calls)
	var inSnap, inWAL bool
	for i, c := range calls {
		require.Equal(t, want, c.total, "call %d", i)
		require.LessOrEqual(t, c.done, c.total)
		if i > 0 {
			require.GreaterOrEqual(t, c.done, calls[i-1].done, "call %d goes back", i)
		}
		inSnap = inSnap || (c.done > 0 && c.done < snapSize)
		inWAL = inWAL || (c.done > snapSize && c.done < want)
	}
	require.True(t, inSnap, "progress while the snapshot loads")
	require.True(t, inWAL, "progress while the WAL replays")
	require.Equal(t, call{want, want}, calls[len(calls)-1], "ends at the total")
	require.LessOrEqual(t, len(calls), 102, "at most about one call per percent")
}

// TestRecoveryProgressNil: a nil callback is refused, like every option.
func TestRecoveryProgressNil(t *testing.T) {
	_, err := Open(t.TempDir(), WithRecoveryProgress(nil))
	require.ErrorIs(t, err, ErrInvalidArgument)
}

func fileStat(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	require.NoError(t, err)
	return st.Size()
}
