package inmem

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/inmem-db/inmem/wal"
	"github.com/stretchr/testify/require"
)

// FuzzSnapshotDecode: readSnapshot never panics on arbitrary file content,
// reports damage as corruption, and what it accepts is consistent (entry
// versions within the snapshot's version, the trailer's count).
func FuzzSnapshotDecode(f *testing.F) {
	// A real snapshot, from a small database on a MemFS.
	mem := vfs.NewMemFS(1)
	db, err := Open(plDir, withFS(mem), WithDurability(Strict()))
	require.NoError(f, err)
	w := newPLWorkload(5, 6, 0, 20)
	sh := db.Shared(plNS)
	for k := 1; k <= w.commits; k++ {
		require.NoError(f, w.commit(sh, k))
	}
	run, err := db.BeginRun(Name("fuzz"))
	require.NoError(f, err)
	require.NoError(f, run.KV().Put("r", []byte("v")))
	require.NoError(f, db.Checkpoint())
	require.NoError(f, db.Close())
	snaps, err := snapshots(mem, plDir)
	require.NoError(f, err)
	require.Len(f, snaps, 1)
	real, err := plReadFile(mem, plDir+"/"+snapshotName(snaps[0]))
	require.NoError(f, err)
	f.Add(real)
	f.Add(real[:len(real)/2])
	f.Add(real[:len(real)-1])
	f.Add([]byte{})
	f.Add([]byte("INMEMSNP"))

	// Hand-built: a header with runs, an empty entries record, a trailer.
	h := []byte(snapMagic)
	h = binary.LittleEndian.AppendUint64(h, 3)
	h = binary.LittleEndian.AppendUint64(h, 2)
	h = binary.AppendUvarint(h, 1)
	h = append(h, make([]byte, 16)...)
	h = binary.AppendUvarint(h, 7)
	var b []byte
	b = wal.AppendRecord(b, engine.RecSnapHeader, h)
	e := binary.AppendUvarint(nil, 1)
	e = append(e, 'k')
	e = binary.AppendUvarint(e, 3)
	e = binary.AppendUvarint(e, 1)
	e = append(e, 'v')
	b = wal.AppendRecord(b, engine.RecSnapEntries, e)
	b = wal.AppendRecord(b, engine.RecSnapTrailer, binary.LittleEndian.AppendUint64(nil, 1))
	f.Add(b)
	// A header whose run count claims more than is there.
	h2 := []byte(snapMagic)
	h2 = binary.LittleEndian.AppendUint64(h2, 1)
	h2 = binary.LittleEndian.AppendUint64(h2, 1)
	h2 = binary.AppendUvarint(h2, 1<<40)
	f.Add(wal.AppendRecord(nil, engine.RecSnapHeader, h2))

	// The same seeds in the unframed form plFrame turns back into records,
	// so the fuzzer can reach the decoding behind the checksums.
	for _, b := range [][]byte{real, b} {
		f.Add(plUnframe(f, b))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		plCheckSnapshot(t, data)
		plCheckSnapshot(t, plFrame(data))
	})
}

// plFrame reads data as records (type offset byte, uvarint length,
// payload) and returns them framed as a snapshot file would hold them,
// with valid checksums.
func plFrame(data []byte) []byte {
	var out []byte
	for len(data) > 0 {
		typ := engine.RecSnapHeader + data[0]%4 // header, entries, trailer, or a stray type
		data = data[1:]
		n, k := binary.Uvarint(data)
		if k <= 0 {
			n, k = uint64(len(data)), 0
		}
		data = data[k:]
		n = min(n, uint64(len(data)))
		out = wal.AppendRecord(out, typ, data[:n])
		data = data[n:]
	}
	return out
}

// plUnframe is the inverse of plFrame for a valid snapshot file.
func plUnframe(tb testing.TB, file []byte) []byte {
	var out []byte
	for len(file) > 0 {
		typ, p, n, err := wal.DecodeRecord(file)
		require.NoError(tb, err)
		out = append(out, typ-engine.RecSnapHeader)
		out = binary.AppendUvarint(out, uint64(len(p)))
		out = append(out, p...)
		file = file[n:]
	}
	return out
}

// plCheckSnapshot runs readSnapshot over data as a file's content.
func plCheckSnapshot(t *testing.T, data []byte) {
	fs := vfs.NewMemFS(0)
	file, err := fs.Create("/s.snap")
	require.NoError(t, err)
	_, err = file.Write(data)
	require.NoError(t, err)
	require.NoError(t, file.Close())
	var versions []uint64
	meta, err := readSnapshot(fs, "/s.snap", func(key []byte, version uint64, value []byte) error {
		versions = append(versions, version)
		return nil
	})
	if err != nil {
		if !errors.Is(err, ErrCorruption) && !errors.Is(err, wal.ErrCorruption) {
			t.Fatalf("error is not corruption: %v", err)
		}
		return
	}
	for _, v := range versions {
		if v == 0 || v > meta.version {
			t.Fatalf("accepted entry version %d outside (0, %d]", v, meta.version)
		}
	}
	// Accepted: it ends with a trailer whose count matches.
	if len(data) < 8 || binary.LittleEndian.Uint64(data[len(data)-8:]) != uint64(len(versions)) {
		t.Fatalf("accepted a snapshot whose trailer does not count its %d entries", len(versions))
	}
}
