package inmem

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/inmem-db/inmem/wal"
	"github.com/stretchr/testify/require"
)

// FuzzReadSnapHeader: readSnapHeader, which reads a snapshot's header
// record alone, never panics, reports damage as ErrCorruption, returns the
// metadata of a whole header frame at offset 0 (which re-encodes to a
// header decoding to the same), and agrees with readSnapshot on every file
// that reads whole. With framed set the input is the header's payload,
// framed with a valid checksum by the target, so the fuzzer reaches the
// payload's checks.
func FuzzReadSnapHeader(f *testing.F) {
	// A real snapshot with runs in its header.
	mem := vfs.NewMemFS(1)
	db, err := Open(plDir, withFS(mem), WithDurability(Strict()))
	require.NoError(f, err)
	require.NoError(f, db.Shared(plNS).KV().Put("k", []byte("v")))
	for _, name := range []string{"a", "b"} {
		run, err := db.BeginRun(Name(name))
		require.NoError(f, err)
		require.NoError(f, run.KV().Put("r", []byte(name)))
	}
	require.NoError(f, db.Checkpoint())
	require.NoError(f, db.Close())
	snaps, err := snapshots(mem, plDir)
	require.NoError(f, err)
	real, err := plReadFile(mem, plDir+"/"+snapshotName(snaps[0]))
	require.NoError(f, err)
	_, p, n, err := wal.DecodeRecord(real)
	require.NoError(f, err)
	meta, err := decodeSnapHeader(p)
	require.NoError(f, err)
	require.Len(f, meta.steps, 2)
	f.Add(real, false)
	f.Add(real[:n], false)
	f.Add(real[:n-1], false)
	f.Add(real[:wal.HeaderSize], false)
	f.Add([]byte{}, false)
	f.Add(p, true)
	f.Add(p[:len(p)-1], true)
	f.Add(encodeSnapHeader(snapMeta{version: 9, segment: 2}), true)
	f.Add([]byte(snapMagic), true)

	f.Fuzz(func(t *testing.T, data []byte, framed bool) {
		if framed {
			data = wal.AppendRecord(nil, engine.RecSnapHeader, data)
		}
		fs := vfs.NewMemFS(0)
		file, err := fs.Create("/s.snap")
		require.NoError(t, err)
		_, err = file.Write(data)
		require.NoError(t, err)
		require.NoError(t, file.Close())

		meta, size, err := readSnapHeader(fs, "/s.snap")
		whole, werr := readSnapshot(fs, "/s.snap", func([]byte, uint64, []byte) error { return nil })
		if err != nil {
			require.ErrorIs(t, err, ErrCorruption)
			require.Error(t, werr, "readSnapshot took a file whose header readSnapHeader refused")
			return
		}
		typ, p, n, derr := wal.DecodeRecord(data)
		require.NoError(t, derr)
		require.Equal(t, engine.RecSnapHeader, typ)
		require.Equal(t, n, size)
		want, derr := decodeSnapHeader(p)
		require.NoError(t, derr)
		requireSameSnapHeader(t, want, meta)
		again, derr := decodeSnapHeader(encodeSnapHeader(meta))
		require.NoError(t, derr)
		requireSameSnapHeader(t, meta, again)
		if werr == nil {
			requireSameSnapHeader(t, meta, whole)
		} else if !errors.Is(werr, ErrCorruption) && !errors.Is(werr, wal.ErrCorruption) {
			t.Fatalf("readSnapshot: error is not corruption: %v", werr)
		}
	})
}

// encodeSnapHeader is the header payload writeSnapshot writes, its runs in
// id order.
func encodeSnapHeader(m snapMeta) []byte {
	h := []byte(snapMagic)
	h = binary.LittleEndian.AppendUint64(h, m.version)
	h = binary.LittleEndian.AppendUint64(h, m.segment)
	h = binary.AppendUvarint(h, uint64(len(m.steps)))
	ids := make([]RunID, 0, len(m.steps))
	for id := range m.steps {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b RunID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range ids {
		h = append(h, id[:]...)
		h = binary.AppendUvarint(h, uint64(m.steps[id]))
	}
	return h
}

// requireSameSnapHeader compares what a snapshot's header says.
func requireSameSnapHeader(t *testing.T, want, got snapMeta) {
	require.Equal(t, want.version, got.version)
	require.Equal(t, want.segment, got.segment)
	require.Equal(t, want.steps, got.steps)
}

// FuzzParseSnapshotName: a name parses only if it is the name snapshotName
// gives its version (recovery opens snapshots by that name), and every
// snapshot's name parses back to its version.
func FuzzParseSnapshotName(f *testing.F) {
	f.Add(snapshotName(7), uint64(7))
	f.Add("snap-7.snap", uint64(0))
	f.Add("snap-+0000000000000000007.snap", uint64(1<<64-1))
	f.Add(snapshotName(7)+".tmp", uint64(1))
	f.Fuzz(func(t *testing.T, name string, v uint64) {
		if got, ok := parseSnapshotName(name); ok {
			require.Equal(t, snapshotName(got), name)
		}
		got, ok := parseSnapshotName(snapshotName(v))
		require.True(t, ok)
		require.Equal(t, v, got)
	})
}
