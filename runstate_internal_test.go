package inmem

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestRunStateLayout: a run's status is read by every commit of the run
// (its guard) and never written on the commit path; the Scope fields after
// it are written by every step. The padding keeps them a cache line apart,
// as measured when the fields were laid out.
func TestRunStateLayout(t *testing.T) {
	var rs runState
	status := uintptr(unsafe.Pointer(&rs.status)) + unsafe.Sizeof(rs.status)
	require.GreaterOrEqual(t, uintptr(unsafe.Pointer(&rs.Steps))-status, uintptr(60))
}

// TestRunPutsCommitOutsideTheSection: runState is an occ.Serial guard, so
// a run's puts on a database with no WAL take their versions outside the
// oracle's critical section (the path that lets two writers of one
// database scale); with a WAL every commit takes its version in the
// section, where the log's order is the version order.
func TestRunPutsCommitOutsideTheSection(t *testing.T) {
	for _, durable := range []bool{false, true} {
		var db *DB
		var err error
		if durable {
			db, err = Open(t.TempDir())
		} else {
			db, err = OpenInMemory()
		}
		require.NoError(t, err)
		run, err := db.BeginRun()
		require.NoError(t, err)
		before := db.store.Oracle.Stats()
		for i := range 100 {
			require.NoError(t, run.KV().Put(fmt.Sprintf("k%03d", i), []byte("v")))
		}
		after := db.store.Oracle.Stats()
		require.Equal(t, uint64(100), after.Commits-before.Commits)
		if durable {
			require.Zero(t, after.Outside, "with a WAL")
		} else {
			require.Equal(t, uint64(100), after.Outside-before.Outside, "with no WAL")
		}
		info, err := run.Info()
		require.NoError(t, err)
		require.Equal(t, 100, info.Steps)
		require.NoError(t, db.Close())
	}
}
