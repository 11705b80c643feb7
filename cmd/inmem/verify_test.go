package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/inmem-db/inmem/wal"
	"github.com/stretchr/testify/require"
)

// rollWAL adds an empty segment after the last one, as a log rolled at a
// segment's end leaves it: the next Open goes on in it.
func rollWAL(t *testing.T, dir string) {
	t.Helper()
	segs, err := wal.Segments(vfs.OS, filepath.Join(dir, "wal"))
	require.NoError(t, err)
	require.NotEmpty(t, segs)
	l, err := wal.Create(wal.Options{FS: vfs.OS, Dir: filepath.Join(dir, "wal"), Mode: wal.Strict}, segs[len(segs)-1]+1)
	require.NoError(t, err)
	require.NoError(t, l.Close())
}

// addSession opens dir, writes a few keys to a new run and closes it: four
// commits at the end of the last WAL segment.
func addSession(t *testing.T, dir string) {
	t.Helper()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	run, err := db.BeginRun(inmem.Name("later"))
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		require.NoError(t, run.KV().Put(fmt.Sprint("k", i), []byte("v")))
	}
	require.NoError(t, db.Close())
}

func segPath(dir string, n int) string {
	return filepath.Join(dir, "wal", fmt.Sprintf("%06d.log", n))
}

// TestVerifyFiles: on a clean database verify describes the snapshot and
// the WAL and exits 0, before and after a checkpoint.
func TestVerifyFiles(t *testing.T) {
	dir := demoDir(t)
	out, code := run(t, "verify", dir)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "wal: 1 segment (000001.log to 000001.log), 1025 commits, versions 1 to 1025")
	require.Contains(t, out, "files: every checksum holds, the snapshots and the WAL agree")
	_, code = run(t, "checkpoint", dir) // goes on in 000001.log, checkpoints into 000002.log
	require.Equal(t, 0, code)
	addSession(t, dir) // at the end of 000002.log
	out, code = run(t, "verify", dir)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "snapshot snap-00000000000000001025.snap: version 1025, ")
	require.Contains(t, out, "WAL from 000002.log: ok")
	require.Contains(t, out, "wal: 1 segment (000002.log to 000002.log), 4 commits, versions 1026 to 1029")
}

// TestVerifyMissingMiddleSegment: with a segment gone from the middle of
// the log, verify names it and the version gap at the next segment's first
// record, exits 1, and does not open the database (no new segment).
func TestVerifyMissingMiddleSegment(t *testing.T) {
	dir := demoDir(t) // 000001.log
	rollWAL(t, dir)
	addSession(t, dir) // 000002.log
	rollWAL(t, dir)
	addSession(t, dir) // 000003.log
	require.NoError(t, os.Remove(segPath(dir, 2)))
	before, err := os.Stat(segPath(dir, 3))
	require.NoError(t, err)
	out, code := run(t, "verify", dir)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "problem: wal/000002.log: missing: the log jumps from 000001.log to 000003.log\n")
	require.Contains(t, out, "problem: wal/000003.log at offset 25: version 1030 after version 1025")
	require.Contains(t, out, "versions 1026..1029 missing")
	require.Contains(t, out, "2 problems in the files of "+dir+", so it was not opened")
	after, err := os.Stat(segPath(dir, 3))
	require.NoError(t, err)
	require.Equal(t, before.ModTime(), after.ModTime(), "verify opened the database")

	out, code = run(t, "verify", dir, "--json")
	require.Equal(t, 1, code, out)
	var rep verifyOut
	require.NoError(t, json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &rep), out)
	require.False(t, rep.OK)
	require.Len(t, rep.Files.Problems, 2)
	require.Equal(t, "wal/000003.log", rep.Files.Problems[1].File)
	require.Equal(t, int64(25), rep.Files.Problems[1].Offset)
	require.Contains(t, rep.Files.Problems[1].Message, "versions 1026..1029 missing")
}

// TestVerifySnapshotSegmentMissing: the segment the snapshot continues in
// is gone: verify exits 1 naming it.
func TestVerifySnapshotSegmentMissing(t *testing.T) {
	dir := demoDir(t)
	_, code := run(t, "checkpoint", dir) // goes on in 000001.log, checkpoints into 000002.log
	require.Equal(t, 0, code)
	require.NoError(t, os.Remove(segPath(dir, 2)))
	out, code := run(t, "verify", dir)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "problem: wal/000002.log: missing: snapshot snap-00000000000000001025.snap continues in it, so Open fails")
}

// TestVerifyLockedDirectory: a database another handle holds gets the
// clear message, from the file check already.
func TestVerifyLockedDirectory(t *testing.T) {
	dir := demoDir(t)
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	defer db.Close()
	out, code := run(t, "verify", dir)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, dir+" is open in another process (close it; runs, show, export, asof, replay, diff and ui work beside it)")
}

// TestRecoveryBar: the recovery bar draws the progress Open reports up to
// 100% and erases itself; openExisting draws nothing when stderr is not a
// terminal.
func TestRecoveryBar(t *testing.T) {
	dir := demoDir(t)
	_, code := run(t, "checkpoint", dir)
	require.Equal(t, 0, code)
	addSession(t, dir)

	var buf bytes.Buffer
	bar := &recoveryBar{w: &buf}
	db, err := inmem.Open(dir, bar.option())
	require.NoError(t, err)
	bar.finish()
	require.NoError(t, db.Close())
	frames := strings.Split(buf.String(), "\r")[1:]
	require.GreaterOrEqual(t, len(frames), 2, buf.String())
	require.True(t, strings.HasPrefix(frames[0], "recover ["), frames[0])
	require.Equal(t, "recover [##############################] 100%", frames[len(frames)-2])
	require.Equal(t, "\033[K", frames[len(frames)-1])

	buf.Reset()
	db, err = openExisting(dir, &buf)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	require.Empty(t, buf.String())
}
