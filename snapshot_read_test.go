package inmem

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/inmem-db/inmem/wal"
	"github.com/stretchr/testify/require"
)

// TestReadSnapshotStreams: checking a snapshot (as every checkpoint does
// to its fallback, and Open and Verify do) reads it a frame at a time, so
// it allocates a small fixed amount, not the file's size.
func TestReadSnapshotStreams(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, WithDurability(Async(time.Second)))
	require.NoError(t, err)
	run, err := db.BeginRun(Name("big"))
	require.NoError(t, err)
	val := make([]byte, 4<<10)
	for i := range 4000 {
		binary.LittleEndian.PutUint32(val, uint32(i))
		require.NoError(t, run.KV().Put(fmt.Sprintf("k%05d", i), val))
	}
	require.NoError(t, db.Checkpoint())
	require.NoError(t, db.Close())
	snaps, err := snapshots(vfs.OS, dir)
	require.NoError(t, err)
	path := filepath.Join(dir, snapshotName(snaps[0]))

	var before, after runtime.MemStats
	entries := 0
	runtime.ReadMemStats(&before)
	meta, err := readSnapshot(vfs.OS, path, func([]byte, uint64, []byte) error { entries++; return nil })
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	require.Greater(t, meta.bytes, int64(16e6))
	require.GreaterOrEqual(t, entries, 4000)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20), "allocated while checking a %d-byte snapshot", meta.bytes)
}

// TestReadSnapshotDamagedFrames: a frame whose length runs past the end of
// the file, a torn last frame and bytes after the trailer are corruption,
// and a damaged length is not allocated.
func TestReadSnapshotDamagedFrames(t *testing.T) {
	h := []byte(snapMagic)
	h = binary.LittleEndian.AppendUint64(h, 3)
	h = binary.LittleEndian.AppendUint64(h, 2)
	h = binary.AppendUvarint(h, 0)
	e := binary.AppendUvarint(nil, 1)
	e = append(e, 'k')
	e = binary.AppendUvarint(e, 3)
	e = binary.AppendUvarint(e, 1)
	e = append(e, 'v')
	var good []byte
	good = wal.AppendRecord(good, engine.RecSnapHeader, h)
	good = wal.AppendRecord(good, engine.RecSnapEntries, e)
	good = wal.AppendRecord(good, engine.RecSnapTrailer, binary.LittleEndian.AppendUint64(nil, 1))

	read := func(data []byte) (snapMeta, error) {
		fs := vfs.NewMemFS(0)
		f, err := fs.Create("/s.snap")
		require.NoError(t, err)
		_, err = f.Write(data)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		return readSnapshot(fs, "/s.snap", func([]byte, uint64, []byte) error { return nil })
	}
	meta, err := read(good)
	require.NoError(t, err)
	require.Equal(t, int64(len(good)), meta.bytes)

	huge := append([]byte(nil), good...)
	hdrLen := len(wal.AppendRecord(nil, engine.RecSnapHeader, h))
	binary.LittleEndian.PutUint32(huge[hdrLen:], 400<<20) // the entries frame claims 400 MiB
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = read(huge)
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, ErrCorruption)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20))

	for name, data := range map[string][]byte{
		"torn last frame": good[:len(good)-3],
		"torn header":     good[:hdrLen+4],
		"after trailer":   append(append([]byte(nil), good...), 0),
		"no trailer":      good[:hdrLen],
		"empty":           nil,
	} {
		_, err := read(data)
		require.ErrorIs(t, err, ErrCorruption, name)
	}
}
