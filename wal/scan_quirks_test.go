package wal

import (
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/stretchr/testify/require"
)

// quirkFS opens files whose reads do what io.Reader and io.ReaderAt allow
// but a plain file seldom does: a Read that returns fewer bytes than asked
// (maxRead), a Read or ReadAt that returns io.EOF with the last bytes
// (eofAtEnd), or a Read that fails (failRead).
type quirkFS struct {
	vfs.FS
	maxRead  int
	eofAtEnd bool
	failRead error
}

func (q *quirkFS) Open(name string) (vfs.File, error) {
	f, err := q.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return &quirkFile{File: f, q: q}, nil
}

type quirkFile struct {
	vfs.File
	q   *quirkFS
	off int64 // where Read is
}

func (f *quirkFile) Read(p []byte) (int, error) {
	if f.q.failRead != nil {
		return 0, f.q.failRead
	}
	if f.q.maxRead > 0 && len(p) > f.q.maxRead {
		p = p[:f.q.maxRead]
	}
	n, err := f.File.Read(p)
	f.off += int64(n)
	if size, serr := f.Size(); f.q.eofAtEnd && err == nil && serr == nil && f.off == size {
		err = io.EOF // the last bytes and the end in one call
	}
	return n, err
}

func (f *quirkFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	if f.q.eofAtEnd && err == nil {
		if size, serr := f.Size(); serr == nil && off+int64(n) == size {
			err = io.EOF
		}
	}
	return n, err
}

// writeSizes writes a segment whose records have the given payload sizes,
// on a MemFS, and returns it with the payloads.
func writeSizes(t *testing.T, sizes ...int) (*vfs.MemFS, [][]byte) {
	t.Helper()
	m := vfs.NewMemFS(1)
	require.NoError(t, m.MkdirAll(memDir))
	l, err := Create(Options{FS: m, Dir: memDir, Mode: Async, Interval: time.Hour, SegmentSize: 1 << 30}, 1)
	require.NoError(t, err)
	var want [][]byte
	for i, n := range sizes {
		p := make([]byte, n)
		for j := range p {
			p[j] = byte(i*7 + j)
		}
		_, err := l.Append(TypeUser, p)
		require.NoError(t, err)
		want = append(want, p)
	}
	require.NoError(t, l.Close())
	return m, want
}

// TestScanReadsThroughShortReads: replay gets every record however the
// file's reads are cut, with windows moving at every frame.
func TestScanReadsThroughShortReads(t *testing.T) {
	m, want := writeSizes(t, 10, 3000, 0, 70000, 5)
	got, res, err := memReplay(t, &quirkFS{FS: m, maxRead: 100})
	require.NoError(t, err)
	require.False(t, res.Torn)
	require.Equal(t, want, got)

	_, _, err = memReplay(t, &quirkFS{FS: m, failRead: errors.New("disk gone")})
	require.ErrorContains(t, err, "disk gone")
}

// TestScanWindowEdges: a record header that ends exactly at the end of the
// window, and a segment whose window moved to its middle, are read like
// any others: every record, no damage.
func TestScanWindowEdges(t *testing.T) {
	hdr := len(segmentHeader(1))
	// The second record's header fills the window's last HeaderSize bytes.
	first := replayChunk - hdr - 2*HeaderSize
	m, want := writeSizes(t, first, 100, 10)
	for _, fs := range []vfs.FS{m, &quirkFS{FS: m, eofAtEnd: true}} {
		got, res, err := memReplay(t, fs)
		require.NoError(t, err)
		require.False(t, res.Torn)
		require.Equal(t, want, got)
	}

	// The window moves once, to a frame at 3 MiB of a 6 MiB segment: the
	// segment ends as far from the window's start as the window is from
	// the segment's.
	const mib = 1 << 20
	m, want = writeSizes(t, 3*mib-hdr-HeaderSize, 2*mib-HeaderSize, mib-HeaderSize)
	for _, fs := range []vfs.FS{m, &quirkFS{FS: m, eofAtEnd: true}} {
		sr, err := ScanSegment(fs, memDir, 1, func(int64, byte, []byte) error { return nil })
		require.NoError(t, err)
		require.Nil(t, sr.Bad)
		require.Equal(t, int64(6*mib), sr.Bytes)
		got, res, err := memReplay(t, fs)
		require.NoError(t, err)
		require.False(t, res.Torn)
		require.Equal(t, want, got)
	}
}

// TestScanTornHeader: a few bytes of a header at the end of the last
// segment are a torn tail, cut off; reads that return io.EOF with the
// last bytes change nothing.
func TestScanTornHeader(t *testing.T) {
	for _, eof := range []bool{false, true} {
		m, want := writeSizes(t, 20, 30)
		f, err := m.OpenAppend(segmentPath(memDir, 1))
		require.NoError(t, err)
		_, err = f.Write(AppendRecord(nil, TypeUser, []byte("torn"))[:3])
		require.NoError(t, err)
		require.NoError(t, f.Close())
		got, res, err := memReplay(t, &quirkFS{FS: m, eofAtEnd: eof})
		require.NoError(t, err, "eof at end %v", eof)
		require.True(t, res.Torn)
		require.Equal(t, want, got)
	}
}

// TestScanDamagedLengthAllocatesLittle: a length field claiming gigabytes
// in a small file makes replay report the damage without allocating what
// the field claims.
func TestScanDamagedLengthAllocatesLittle(t *testing.T) {
	m, _ := writeSizes(t, 20, 30, 40)
	f, err := m.OpenAppend(segmentPath(memDir, 1))
	require.NoError(t, err)
	bad := AppendRecord(nil, TypeUser, []byte("x"))
	bad[0], bad[1], bad[2], bad[3] = 0xf0, 0xff, 0xff, 0xff
	_, err = f.Write(append(bad, AppendRecord(nil, TypeUser, []byte("after"))...))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	sr, err := ScanSegment(m, memDir, 1, func(int64, byte, []byte) error { return nil })
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	require.ErrorIs(t, sr.Bad, ErrCorruption)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20))
}
