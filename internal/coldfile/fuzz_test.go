package coldfile

import (
	"bytes"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/inmem-db/inmem/internal/errs"
	"github.com/inmem-db/inmem/internal/vfs"
)

// FuzzOpenBlock: any bytes given as a block either fail their checks or
// decode into entries in order, and a point index of them finds each
// entry at its version, whatever last key the file's index claims (a
// wrong one is an error, never a wrong answer); never a panic.
func FuzzOpenBlock(f *testing.F) {
	raw := appendEntry(nil, nil, []byte("key-a"), 9, []byte("value"))
	raw = appendEntry(raw, []byte("key-a"), []byte("key-a"), 3, nil)
	raw = appendEntry(raw, []byte("key-a"), []byte("key-b"), 1, []byte("v"))
	raw = appendRestarts(raw, []uint32{0})
	for _, c := range []Codec{CodecNone, CodecS2, CodecZstd} {
		f.Add(sealBlock(nil, raw, c))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := openBlock(b)
		if err != nil {
			return
		}
		it, err := parseBlock(out)
		if err != nil {
			return
		}
		start := it
		var prev []byte
		var pv uint64
		var es []modelEntry
		for it.next() {
			if len(es) > 0 {
				require.Negative(t, compare(prev, pv, it.cur.key, it.cur.version))
			}
			prev, pv = append(prev[:0], it.cur.key...), it.cur.version
			es = append(es, modelEntry{key: string(it.cur.key), version: it.cur.version, value: bytes.Clone(it.cur.value)})
		}
		for _, last := range [][]byte{prev, []byte("key-a"), nil} {
			var pt pointTable
			err := pt.build(start, last)
			if it.err == nil && bytes.Equal(last, prev) {
				require.NoError(t, err, "a well-formed block indexes")
			}
			if err != nil {
				continue
			}
			for _, e := range es {
				off, n, v, ok := pt.get([]byte(e.key), e.version)
				require.True(t, ok, "%q@%d", e.key, e.version)
				require.Equal(t, e.version, v)
				require.Equal(t, e.value, start.data[off:off+n])
			}
		}
	})
}

// FuzzDecodeIndex: any bytes given as an index either fail their checks or
// describe blocks that tile the file in order.
func FuzzDecodeIndex(f *testing.F) {
	f.Add(appendIndex(nil, []indexEntry{{lastKey: []byte("a"), lastVersion: 3, off: 0, length: 40}, {lastKey: []byte("b"), lastVersion: 1, off: 40, length: 10}}), int64(50))
	f.Add(appendIndex(nil, nil), int64(0))
	f.Fuzz(func(t *testing.T, b []byte, end int64) {
		idx, err := decodeIndex(b, end)
		if err != nil {
			return
		}
		var next int64
		for _, e := range idx {
			require.Equal(t, next, e.off)
			require.GreaterOrEqual(t, e.length, int64(blockTail))
			next = e.off + e.length
		}
		require.Equal(t, end, next)
	})
}

// FuzzOpen: any file either fails to open with ErrCorruption or reads
// without panicking, every failure wrapping ErrCorruption.
func FuzzOpen(f *testing.F) {
	rng := rand.New(rand.NewSource(1))
	es := randomEntries(rng, 6)
	for i := range es {
		es[i].value = es[i].value[:min(len(es[i].value), 60)]
	}
	fs := vfs.NewMemFS(1)
	writeFile(f, fs, "s.cold", CodecS2, es, 128)
	var buf bytes.Buffer
	r, err := fs.Open("s.cold")
	require.NoError(f, err)
	_, err = buf.ReadFrom(r)
	require.NoError(f, err)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		fs := vfs.NewMemFS(1)
		writeRaw(t, fs, "f.cold", b)
		r, err := Open(fs, "f.cold", 1, nil)
		if err != nil {
			require.ErrorIs(t, err, errs.ErrCorruption)
			return
		}
		defer r.Close()
		it := r.Iter()
		for it.First(); it.Valid(); it.Next() {
			if _, _, _, err := r.Get(it.Key(), it.Version()); err != nil {
				require.ErrorIs(t, err, errs.ErrCorruption)
			}
		}
		if it.Err() != nil {
			require.ErrorIs(t, it.Err(), errs.ErrCorruption)
		}
		if err := r.Verify(); err != nil {
			require.ErrorIs(t, err, errs.ErrCorruption)
		}
	})
}
