package engine

import (
	"encoding/binary"
	"testing"

	"github.com/inmem-db/inmem/internal/errs"
	"github.com/stretchr/testify/require"
)

func TestBatchRoundTrip(t *testing.T) {
	for _, typ := range []byte{RecBatch, RecBatchTimed} {
		hdr := 8
		if typ == RecBatchTimed {
			hdr = BatchHeader
		}
		b := make([]byte, hdr, 64)
		binary.LittleEndian.PutUint64(b, 42)
		if typ == RecBatchTimed {
			binary.LittleEndian.PutUint64(b[8:], 1234)
		}
		b = binary.AppendUvarint(b, 2)
		b = AppendBatchEntry(b, []byte("k1"), []byte{0}, []byte("v1"))
		b = AppendBatchEntry(b, []byte("k2"), nil)
		var got [][2]string
		ts, err := DecodeBatch(typ, b, func(v uint64, k, val []byte) error {
			require.Equal(t, uint64(42), v)
			got = append(got, [2]string{string(k), string(val)})
			return nil
		})
		require.NoError(t, err)
		if typ == RecBatchTimed {
			require.Equal(t, int64(1234), ts)
		} else {
			require.Zero(t, ts)
		}
		require.Equal(t, [][2]string{{"k1", "\x00v1"}, {"k2", ""}}, got)
		for cut := 0; cut < len(b); cut++ {
			_, err := DecodeBatch(typ, b[:cut], func(uint64, []byte, []byte) error { return nil })
			require.ErrorIs(t, err, errs.ErrCorruption, "type %d cut %d", typ, cut)
		}
	}
}

// FuzzDecodeBatch: arbitrary bytes never panic, fail only as corruption,
// and what decodes re-encodes to a batch that decodes to the same writes and time.
func FuzzDecodeBatch(f *testing.F) {
	seed := make([]byte, BatchHeader)
	seed = binary.AppendUvarint(seed, 1)
	seed = AppendBatchEntry(seed, []byte("key"), []byte("value"))
	f.Add(true, seed)
	f.Add(false, seed[8:])
	f.Add(true, []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, timed bool, b []byte) {
		typ := RecBatch
		if timed {
			typ = RecBatchTimed
		}
		type w struct {
			v    uint64
			k, x string
		}
		collect := func(b []byte) ([]w, int64, error) {
			var out []w
			ts, err := DecodeBatch(typ, b, func(v uint64, k, val []byte) error {
				out = append(out, w{v, string(k), string(val)})
				return nil
			})
			return out, ts, err
		}
		first, ts, err := collect(b)
		if err != nil {
			require.ErrorIs(t, err, errs.ErrCorruption)
			return
		}
		re := binary.LittleEndian.AppendUint64(nil, binary.LittleEndian.Uint64(b))
		if timed {
			re = binary.LittleEndian.AppendUint64(re, uint64(ts))
		}
		re = binary.AppendUvarint(re, uint64(len(first)))
		for _, e := range first {
			re = AppendBatchEntry(re, []byte(e.k), []byte(e.x))
		}
		second, ts2, err := collect(re)
		require.NoError(t, err)
		require.Equal(t, first, second)
		require.Equal(t, ts, ts2)
	})
}
