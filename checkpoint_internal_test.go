package inmem

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCheckpointWaitsForASnapshotsWorthOfWAL: after a checkpoint, the next
// is due only once the WAL written since holds as many bytes as that
// snapshot (and WithCheckpointEvery), so a growing database is not
// rewritten every interval.
func TestCheckpointWaitsForASnapshotsWorthOfWAL(t *testing.T) {
	db, err := Open(t.TempDir(), WithCheckpointEvery(1<<40)) // no background checkpoints
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	val := make([]byte, 200)
	for i := range 5000 {
		require.NoError(t, run.KV().Put(fmt.Sprintf("k%06d", i), val))
	}
	require.NoError(t, db.Checkpoint())
	snap := db.lastSnapBytes.Load()
	require.Greater(t, snap, int64(5000*200))
	db.opts.checkpointEvery = 16 << 10
	i := 5000
	for db.store.Log.Stats().Appended-db.walAtCheckpoint.Load() < snap-1024 {
		require.NoError(t, run.KV().Put(fmt.Sprintf("k%06d", i), val))
		i++
		require.False(t, db.checkpointDue(), "due after %d bytes of WAL, the snapshot took %d", db.store.Log.Stats().Appended-db.walAtCheckpoint.Load(), snap)
	}
	for !db.checkpointDue() {
		require.NoError(t, run.KV().Put(fmt.Sprintf("k%06d", i), val))
		i++
	}
	require.GreaterOrEqual(t, db.store.Log.Stats().Appended-db.walAtCheckpoint.Load(), snap)
}
