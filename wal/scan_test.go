package wal

import (
	"bytes"
	"os"
	"testing"

	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/stretchr/testify/require"
)

// TestScanSegmentReadOnly: ScanSegment delivers each record with its
// offset, and reports a torn tail and damage in the middle apart, leaving
// the file as it was (Recover is what cuts a torn tail).
func TestScanSegmentReadOnly(t *testing.T) {
	dir := t.TempDir()
	path := writeLog(t, dir, 4)
	full, err := os.ReadFile(path)
	require.NoError(t, err)
	rec := int64(HeaderSize + len(payload(0)))
	hdr := int64(len(segmentHeader(1)))

	var offs []int64
	res, err := ScanSegment(vfs.OS, dir, 1, func(off int64, typ byte, p []byte) error {
		require.Equal(t, TypeUser, typ)
		require.Equal(t, payload(len(offs)), p)
		offs = append(offs, off)
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, res.Bad)
	require.Equal(t, []int64{hdr, hdr + rec, hdr + 2*rec, hdr + 3*rec}, offs)
	require.Equal(t, 4, res.Records)
	require.Equal(t, int64(len(full)), res.Bytes)

	// The last record cut short: torn, and the file keeps its bytes.
	short := full[:len(full)-3]
	require.NoError(t, os.WriteFile(path, short, 0o644))
	res, err = ScanSegment(vfs.OS, dir, 1, func(int64, byte, []byte) error { return nil })
	require.NoError(t, err)
	require.ErrorIs(t, res.Bad, ErrCorruption)
	require.True(t, res.Torn)
	require.Equal(t, hdr+3*rec, res.BadAt)
	require.Equal(t, 3, res.Records)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.Equal(short, after), "scanning changes nothing")

	// A flip in the second record, valid records after it: not torn.
	bad := bytes.Clone(full)
	bad[hdr+rec+HeaderSize] ^= 0x40
	require.NoError(t, os.WriteFile(path, bad, 0o644))
	res, err = ScanSegment(vfs.OS, dir, 1, func(int64, byte, []byte) error { return nil })
	require.NoError(t, err)
	require.ErrorIs(t, res.Bad, ErrCorruption)
	require.False(t, res.Torn)
	require.Equal(t, hdr+rec, res.BadAt)
	require.Equal(t, 1, res.Records)

	// An empty file: no header, torn at 0.
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	res, err = ScanSegment(vfs.OS, dir, 1, func(int64, byte, []byte) error { return nil })
	require.NoError(t, err)
	require.True(t, res.Torn)
	require.Zero(t, res.BadAt)
	require.ErrorIs(t, res.Bad, ErrCorruption)
}
