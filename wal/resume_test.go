package wal

import (
	"bytes"
	"errors"
	"testing"

	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/stretchr/testify/require"
)

// TestResume: a log resumed on its last segment appends after the records
// there, creates no file until it rolls, removes an unfinished segment a
// crash left after it, gives back its reservation on Close, and refuses a
// full segment.
func TestResume(t *testing.T) {
	m := vfs.NewMemFS(1)
	const segSize = 400
	l, err := Create(memOpts(m, segSize), 1)
	require.NoError(t, err)
	commit(t, l, 0)
	commit(t, l, 1)
	require.NoError(t, l.Close())

	// A crash while segment 2 was being prepared left its file empty.
	f, err := m.Create(segmentPath(memDir, 2))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	got, res, err := memReplay(t, m)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, uint64(1), res.Last)

	l, err = Resume(memOpts(m, segSize), res.Last)
	require.NoError(t, err)
	segs, err := Segments(m, memDir)
	require.NoError(t, err)
	require.Equal(t, []uint64{1}, segs, "the unfinished segment is gone, none was made")
	commit(t, l, 2)
	require.Equal(t, uint64(1), l.Stats().Segment)
	a, err := m.Allocated(segmentPath(memDir, 1))
	require.NoError(t, err)
	require.Equal(t, int64(segSize), a, "the first write reserves the segment's space")
	require.NoError(t, l.Close())
	a, err = m.Allocated(segmentPath(memDir, 1))
	require.NoError(t, err)
	require.Equal(t, int64(len(memFile(t, m, 1))), a, "Close gives back the reservation")
	got, _, err = memReplay(t, m)
	require.NoError(t, err)
	require.Equal(t, [][]byte{payload(0), payload(1), payload(2)}, got)

	// Filled to its size, the segment is not resumed.
	l, err = Resume(memOpts(m, segSize), 1)
	require.NoError(t, err)
	i := 3
	for l.Stats().Segment == 1 {
		commit(t, l, i)
		i++
	}
	require.NoError(t, l.Close())
	_, err = Resume(memOpts(m, int64(len(memFile(t, m, 1)))), 1)
	require.ErrorIs(t, err, ErrSegmentFull)
	_, err = Resume(memOpts(m, segSize), 9)
	require.Error(t, err, "no such segment")

	// A segment holding its header only (a cut, closed before a commit)
	// is resumed; one shorter than a header is damage.
	h := vfs.NewMemFS(2)
	l, err = Create(memOpts(h, segSize), 1)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	require.Len(t, memFile(t, h, 1), int(headerBytes))
	l, err = Resume(memOpts(h, segSize), 1)
	require.NoError(t, err)
	commit(t, l, 0)
	require.NoError(t, l.Close())
	f, err = h.Create(segmentPath(memDir, 2))
	require.NoError(t, err)
	_, err = f.Write(segmentHeader(2)[:headerBytes-1])
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, err = Resume(memOpts(h, segSize), 2)
	require.ErrorIs(t, err, ErrCorruption)
	got, _, err = memReplay(t, m)
	require.NoError(t, err)
	require.Len(t, got, i)
}

// TestReadChangesNothing: Read delivers what Recover would, but leaves a
// torn tail and an unfinished segment where they are.
func TestReadChangesNothing(t *testing.T) {
	m := vfs.NewMemFS(1)
	l, err := Create(memOpts(m, 1<<20), 1)
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		commit(t, l, i)
	}
	require.NoError(t, l.Close())
	f, err := m.OpenAppend(segmentPath(memDir, 1))
	require.NoError(t, err)
	_, err = f.Write([]byte{200, 0, 0, 0, 9})
	require.NoError(t, err)
	require.NoError(t, f.Close())
	f, err = m.Create(segmentPath(memDir, 2))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	torn := memFile(t, m, 1)

	var got [][]byte
	res, err := Read(m, memDir, 1, func(_ byte, p []byte) error {
		got = append(got, bytes.Clone(p))
		return nil
	})
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.True(t, res.Torn)
	require.Equal(t, torn, memFile(t, m, 1), "the torn tail stays")
	segs, err := Segments(m, memDir)
	require.NoError(t, err)
	require.Equal(t, []uint64{1, 2}, segs, "the unfinished segment stays")

	_, _, err = memReplay(t, m)
	require.NoError(t, err)
	require.Less(t, len(memFile(t, m, 1)), len(torn), "Recover cuts the tail")
	require.False(t, errors.Is(err, ErrCorruption))
}
