package inmem

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/inmem-db/inmem/internal/vfs"
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

// writeBackFS records, per file, the bytes handed to File.WriteBack.
type writeBackFS struct {
	vfs.FS
	mu   sync.Mutex
	back map[string]int64
}

type writeBackFile struct {
	vfs.File
	fs   *writeBackFS
	name string
}

func (fs *writeBackFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return &writeBackFile{File: f, fs: fs, name: filepath.Base(name)}, nil
}

func (f *writeBackFile) WriteBack(off, n int64) error {
	f.fs.mu.Lock()
	f.fs.back[f.name] += n
	f.fs.mu.Unlock()
	return f.File.WriteBack(off, n)
}

// TestCheckpointWritesBehind: a snapshot is handed to the disk as it is
// written (File.WriteBack every few MiB), not left dirty for its Sync,
// behind which the WAL's fsyncs would queue.
func TestCheckpointWritesBehind(t *testing.T) {
	fs := &writeBackFS{FS: vfs.OS, back: map[string]int64{}}
	db, err := Open(t.TempDir(), withFS(fs), WithCheckpointEvery(1<<40))
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	val := make([]byte, 1000)
	require.NoError(t, run.Update(func(tx *Tx) error {
		for i := range 20000 {
			if err := tx.KV().Put(fmt.Sprintf("k%06d", i), val); err != nil {
				return err
			}
		}
		return nil
	}))
	require.NoError(t, db.Checkpoint())
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var snap int64
	for name, n := range fs.back {
		if strings.HasSuffix(name, ".snap.tmp") {
			snap += n
		}
	}
	// 20 MB: all but the last few MiB before the Sync.
	require.GreaterOrEqual(t, snap, int64(16<<20), "%v", fs.back)
}
