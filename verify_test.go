package inmem

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/inmem-db/inmem/wal"
	"github.com/stretchr/testify/require"
)

// verifyFixture writes a database with two snapshots and four WAL
// segments: 000002.log (after the older snapshot, the fallback), 000003.log
// (after the newest), and 000004.log and 000005.log, each started by a
// reopen that rolls the log (a reopen alone goes on in the last segment)
// and holding five commits. It returns the directory, the run and the snapshots' names,
// newest first.
func verifyFixture(t *testing.T) (string, RunID, []string) {
	t.Helper()
	dir := t.TempDir()
	db, err := Open(dir)
	require.NoError(t, err)
	run, err := db.BeginRun(Name("r"))
	require.NoError(t, err)
	put := func(r *Run, from int) {
		for i := from; i < from+5; i++ {
			require.NoError(t, r.KV().Put(fmt.Sprintf("k%02d", i), []byte("v")))
		}
	}
	put(run, 0)
	require.NoError(t, db.Checkpoint())
	put(run, 5)
	require.NoError(t, db.Checkpoint())
	put(run, 10)
	require.NoError(t, db.Close())
	for i := 0; i < 2; i++ {
		db, err = Open(dir)
		require.NoError(t, err)
		cut, err := db.store.Log.Rotate()
		require.NoError(t, err)
		_, err = cut.Wait()
		require.NoError(t, err)
		r, err := db.Run(run.ID())
		require.NoError(t, err)
		put(r, 15+5*i)
		require.NoError(t, db.Close())
	}
	segs, err := wal.Segments(vfs.OS, walDir(dir))
	require.NoError(t, err)
	require.Equal(t, []uint64{2, 3, 4, 5}, segs)
	snaps, err := snapshots(vfs.OS, dir)
	require.NoError(t, err)
	require.Len(t, snaps, 2)
	return dir, run.ID(), []string{snapshotName(snaps[0]), snapshotName(snaps[1])}
}

// firstRecordAt is the offset of the first record of a segment, after
// its header.
func firstRecordAt(t *testing.T, dir string, seg uint64) int64 {
	t.Helper()
	at := int64(-1)
	_, err := wal.ScanSegment(vfs.OS, walDir(dir), seg, func(off int64, _ byte, _ []byte) error {
		if at < 0 {
			at = off
		}
		return nil
	})
	require.NoError(t, err)
	return at
}

func problemsOf(r FilesReport) []string {
	var out []string
	for _, p := range r.Problems {
		out = append(out, p.String())
	}
	return out
}

// TestVerifyFilesClean: a database written by the engine verifies, every
// snapshot and segment is read, the versions run from the fallback
// snapshot's on without a gap, and nothing in the directory changes.
func TestVerifyFilesClean(t *testing.T) {
	dir, _, names := verifyFixture(t)
	before := dirState(t, dir)
	r, err := VerifyFiles(dir)
	require.NoError(t, err)
	require.True(t, r.OK(), "%v", problemsOf(r))
	require.Empty(t, r.Notes)
	require.Len(t, r.Snapshots, 2)
	for i, s := range r.Snapshots {
		require.True(t, s.OK)
		require.Equal(t, names[i], s.Name)
		require.Positive(t, s.Entries)
		require.Equal(t, 1, s.Runs)
	}
	newest, fallback := r.Snapshots[0], r.Snapshots[1]
	require.Equal(t, uint64(3), newest.Segment)
	require.Equal(t, uint64(2), fallback.Segment)
	require.Equal(t, []uint64{2, 3, 4, 5}, r.Segments)
	require.Equal(t, fallback.Version+1, r.FirstVersion)
	require.Greater(t, r.LastVersion, newest.Version)
	require.Equal(t, int(r.LastVersion-fallback.Version), r.Records, "one record per version")
	require.Equal(t, before, dirState(t, dir), "verifying changes nothing")
}

// TestVerifyFilesMissingMiddleSegment: a segment removed from the middle
// of the log is reported by name, and so is the version gap it leaves,
// at the first record of the next segment.
func TestVerifyFilesMissingMiddleSegment(t *testing.T) {
	dir, _, _ := verifyFixture(t)
	require.NoError(t, os.Remove(filepath.Join(walDir(dir), wal.SegmentName(4))))
	r, err := VerifyFiles(dir)
	require.NoError(t, err)
	got := problemsOf(r)
	require.Len(t, got, 2, "%v", got)
	require.Equal(t, "wal/000004.log: missing: the log jumps from 000003.log to 000005.log", got[0])
	require.Contains(t, got[1], fmt.Sprintf("wal/000005.log at offset %d: version ", firstRecordAt(t, dir, 5)))
	require.Contains(t, got[1], "missing")
}

// TestVerifyFilesSnapshotSegmentMissing: the segment the newest snapshot
// continues in is gone, so Open would fail: reported, with the versions
// that went with it.
func TestVerifyFilesSnapshotSegmentMissing(t *testing.T) {
	dir, _, names := verifyFixture(t)
	require.NoError(t, os.Remove(filepath.Join(walDir(dir), wal.SegmentName(3))))
	r, err := VerifyFiles(dir)
	require.NoError(t, err)
	got := problemsOf(r)
	require.Contains(t, got, "wal/000003.log: missing: snapshot "+names[0]+" continues in it, so Open fails")
	require.Contains(t, got, "wal/000003.log: missing: the log jumps from 000002.log to 000004.log")
	found := false
	for _, p := range r.Problems {
		found = found || (p.File == "wal/000004.log" && p.Offset == firstRecordAt(t, dir, 4))
	}
	require.True(t, found, "the version gap at the next segment's first record: %v", got)
	_, err = Open(dir)
	require.ErrorIs(t, err, ErrCorruption, "Open agrees")
}

// TestVerifyFilesFallbackSegmentMissing: the older snapshot is useless
// once the segment it continues in is gone; Open still works from the
// newest, but verify says the fallback is lost.
func TestVerifyFilesFallbackSegmentMissing(t *testing.T) {
	dir, _, names := verifyFixture(t)
	require.NoError(t, os.Remove(filepath.Join(walDir(dir), wal.SegmentName(2))))
	r, err := VerifyFiles(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"wal/000002.log: missing: the fallback snapshot " + names[1] + " continues in it, so it cannot stand in for " + names[0]}, problemsOf(r))
	require.Equal(t, []uint64{3, 4, 5}, r.Segments)
}

// TestVerifyFilesVersionGap: a segment written with the engine's own
// encoders whose commits skip versions, then go back, is reported at each
// record's offset.
func TestVerifyFilesVersionGap(t *testing.T) {
	dir, _, _ := verifyFixture(t)
	r, err := VerifyFiles(dir)
	require.NoError(t, err)
	last := r.LastVersion
	l, err := wal.Create(wal.Options{FS: vfs.OS, Dir: walDir(dir), Mode: wal.Strict}, 6)
	require.NoError(t, err)
	batch := func(v uint64) []byte {
		b := binary.LittleEndian.AppendUint64(nil, v)
		b = binary.LittleEndian.AppendUint64(b, 0)
		b = binary.AppendUvarint(b, 1)
		return engine.AppendBatchEntry(b, []byte("key"), []byte("value"))
	}
	for _, v := range []uint64{last + 3, last + 2} {
		g, err := l.Append(engine.RecBatchTimed, batch(v))
		require.NoError(t, err)
		require.NoError(t, g.Wait())
	}
	require.NoError(t, l.Close())

	r, err = VerifyFiles(dir)
	require.NoError(t, err)
	at := firstRecordAt(t, dir, 6)
	rec := int64(wal.HeaderSize + len(batch(0)))
	prevAt := firstRecordAt(t, dir, 5) + 4*rec0(t, dir, 5) // the fifth commit of 000005.log
	require.Equal(t, []FileProblem{
		{File: "wal/000006.log", Offset: at, What: fmt.Sprintf("version %d after version %d (wal/000005.log at offset %d): versions %d..%d missing",
			last+3, last, prevAt, last+1, last+2)},
		{File: "wal/000006.log", Offset: at + rec, What: fmt.Sprintf("version %d after version %d: versions must increase", last+2, last+3)},
	}, r.Problems)
}

// rec0 is the size of the first record of a segment (the fixture's
// records of one run are all the same size).
func rec0(t *testing.T, dir string, seg uint64) int64 {
	t.Helper()
	size := int64(-1)
	_, err := wal.ScanSegment(vfs.OS, walDir(dir), seg, func(_ int64, _ byte, p []byte) error {
		if size < 0 {
			size = int64(wal.HeaderSize + len(p))
		}
		return nil
	})
	require.NoError(t, err)
	return size
}

// rewriteSnapHeader replaces the header record of a snapshot with one
// whose step counts are changed by edit, re-framed with the WAL's record
// encoder, so that every checksum still holds.
func rewriteSnapHeader(t *testing.T, path string, edit func(steps map[RunID]int64)) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	_, p, n, err := wal.DecodeRecord(data)
	require.NoError(t, err)
	meta, err := decodeSnapHeader(p)
	require.NoError(t, err)
	edit(meta.steps)
	h := []byte(snapMagic)
	h = binary.LittleEndian.AppendUint64(h, meta.version)
	h = binary.LittleEndian.AppendUint64(h, meta.segment)
	h = binary.AppendUvarint(h, uint64(len(meta.steps)))
	for id, s := range meta.steps {
		h = append(h, id[:]...)
		h = binary.AppendUvarint(h, uint64(s))
	}
	out := wal.AppendRecord(nil, engine.RecSnapHeader, h)
	require.NoError(t, os.WriteFile(path, append(out, data[n:]...), 0o644))
}

// TestVerifyFilesStepCounts: snapshots whose header step counts disagree
// with their step lists are reported at the header, the newest and the
// fallback alike, though each still loads.
func TestVerifyFilesStepCounts(t *testing.T) {
	dir, id, names := verifyFixture(t)
	rewriteSnapHeader(t, filepath.Join(dir, names[0]), func(steps map[RunID]int64) { steps[id] += 2 })
	other := RunID{7}
	rewriteSnapHeader(t, filepath.Join(dir, names[1]), func(steps map[RunID]int64) { steps[other] = 4 })
	_, err := readSnapshot(vfs.OS, filepath.Join(dir, names[0]), func([]byte, uint64, []byte) error { return nil })
	require.NoError(t, err, "the checksums hold: only the counts are wrong")

	r, err := VerifyFiles(dir)
	require.NoError(t, err)
	require.Equal(t, []string{
		fmt.Sprintf("%s at offset 0: header says run %s has 12 steps, its step list has 10", names[0], id),
		fmt.Sprintf("%s at offset 0: header says run %s has 4 steps, its step list has 0", names[1], other),
	}, problemsOf(r))
	require.False(t, r.Snapshots[0].OK)
	require.False(t, r.Snapshots[1].OK)
}

// TestVerifyFilesDamagedFallback: a flipped byte in the older snapshot,
// which Open never reads while the newest checks out, is reported with its
// offset.
func TestVerifyFilesDamagedFallback(t *testing.T) {
	dir, _, names := verifyFixture(t)
	path := filepath.Join(dir, names[1])
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[len(b)/2] ^= 0x20
	require.NoError(t, os.WriteFile(path, b, 0o644))
	r, err := VerifyFiles(dir)
	require.NoError(t, err)
	require.Len(t, r.Problems, 1, "%v", problemsOf(r))
	p := r.Problems[0]
	require.Equal(t, names[1], p.File)
	require.Positive(t, p.Offset)
	require.Contains(t, p.What, "checksum")
	require.True(t, r.Snapshots[0].OK)
	require.False(t, r.Snapshots[1].OK)
}

// TestVerifyFilesTornTail: a torn tail on the last segment is a note, not
// a problem (Open cuts it), and verifying leaves it in place.
func TestVerifyFilesTornTail(t *testing.T) {
	dir, _, _ := verifyFixture(t)
	path := filepath.Join(walDir(dir), wal.SegmentName(5))
	size := fileStat(t, path)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write(wal.AppendRecord(nil, engine.RecBatchTimed, make([]byte, 40))[:20])
	require.NoError(t, err)
	require.NoError(t, f.Close())
	before := dirState(t, dir)
	r, err := VerifyFiles(dir)
	require.NoError(t, err)
	require.True(t, r.OK(), "%v", problemsOf(r))
	require.Len(t, r.Notes, 1)
	require.Equal(t, FileProblem{File: "wal/000005.log", Offset: size, What: "a write cut short by a crash; Open cuts the log off here"}, r.Notes[0])
	require.Equal(t, before, dirState(t, dir))
}

// TestVerifyFilesLocked: a directory another handle has open is ErrLocked;
// one that is not a database is an error, not a report.
func TestVerifyFilesLocked(t *testing.T) {
	dir, _, _ := verifyFixture(t)
	db, err := Open(dir)
	require.NoError(t, err)
	_, err = VerifyFiles(dir)
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, db.Close())
	_, err = VerifyFiles(dir)
	require.NoError(t, err)

	_, err = VerifyFiles(filepath.Join(t.TempDir(), "nope"))
	require.Error(t, err)
	_, err = VerifyFiles(t.TempDir())
	require.ErrorContains(t, err, "no database here")
	require.ErrorIs(t, err, ErrNotFound)
}

// TestVerifyFilesPreparedSegment: a segment after the last one with
// records that holds only its header (prepared ahead) is fine; one a crash
// left unfinished is a note, gone once the database was opened; a torn
// tail followed by such segments is a note, followed by records a problem.
func TestVerifyFilesPreparedSegment(t *testing.T) {
	dir, _, _ := verifyFixture(t)
	last := filepath.Join(walDir(dir), wal.SegmentName(5))
	size := fileStat(t, last)
	next := filepath.Join(walDir(dir), wal.SegmentName(6))
	l, err := wal.Create(wal.Options{FS: vfs.OS, Dir: walDir(dir), Mode: wal.Strict}, 6)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	header, err := os.ReadFile(next)
	require.NoError(t, err)

	r, err := VerifyFiles(dir)
	require.NoError(t, err)
	require.True(t, r.OK(), "%v", problemsOf(r))
	require.Empty(t, r.Notes, "a segment holding its header only")
	require.Equal(t, []uint64{2, 3, 4, 5, 6}, r.Segments)

	require.NoError(t, os.WriteFile(next, header[:7], 0o644))
	r, err = VerifyFiles(dir)
	require.NoError(t, err)
	require.True(t, r.OK(), "%v", problemsOf(r))
	require.Equal(t, []FileProblem{{File: "wal/000006.log", Offset: 0,
		What: "a segment made ahead of its use that a crash left unfinished, holding no record; Open replaces it"}}, r.Notes)

	// A torn tail of 000005.log, then the unfinished segment: both notes.
	f, err := os.OpenFile(last, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write(wal.AppendRecord(nil, engine.RecBatchTimed, make([]byte, 40))[:20])
	require.NoError(t, err)
	require.NoError(t, f.Close())
	r, err = VerifyFiles(dir)
	require.NoError(t, err)
	require.True(t, r.OK(), "%v", problemsOf(r))
	require.Len(t, r.Notes, 2)
	require.Equal(t, FileProblem{File: "wal/000005.log", Offset: size, What: "a write cut short by a crash; Open cuts the log off here"}, r.Notes[0])

	// Records in the segment after the torn tail: no crash leaves that.
	withRecord := wal.AppendRecord(bytes.Clone(header), engine.RecBatchTimed, []byte("x"))
	require.NoError(t, os.WriteFile(next, withRecord, 0o644))
	r, err = VerifyFiles(dir)
	require.NoError(t, err)
	require.Len(t, r.Problems, 2, "%v", problemsOf(r))
	require.Equal(t, "wal/000005.log", r.Problems[0].File)
	require.Equal(t, size, r.Problems[0].Offset)
	require.Contains(t, r.Problems[0].What, "000006.log after it holds records")
	_, err = Open(dir)
	require.ErrorIs(t, err, ErrCorruption, "Open agrees")

	// Back to the unfinished segment: Open removes it and goes on in
	// 000005.log, and then there is nothing to note.
	require.NoError(t, os.WriteFile(next, nil, 0o644))
	db, err := Open(dir)
	require.NoError(t, err)
	require.NoError(t, db.Shared(Namespace{Tenant: "t"}).KV().Put("after", nil))
	require.NoError(t, db.Close())
	r, err = VerifyFiles(dir)
	require.NoError(t, err)
	require.True(t, r.OK(), "%v", problemsOf(r))
	require.Empty(t, r.Notes)
	require.Equal(t, []uint64{2, 3, 4, 5}, r.Segments)
}
