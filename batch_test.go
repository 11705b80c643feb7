package inmem

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBatchRoundTrip(t *testing.T) {
	b := make([]byte, 8, 64)
	binary.LittleEndian.PutUint64(b, 42)
	b = binary.AppendUvarint(b, 2)
	b = appendBatchEntry(b, []byte("k1"), []byte{0}, []byte("v1"))
	b = appendBatchEntry(b, []byte("k2"), nil)
	var got [][2]string
	require.NoError(t, decodeBatch(b, func(v uint64, k, val []byte) error {
		require.Equal(t, uint64(42), v)
		got = append(got, [2]string{string(k), string(val)})
		return nil
	}))
	require.Equal(t, [][2]string{{"k1", "\x00v1"}, {"k2", ""}}, got)
	for cut := 0; cut < len(b); cut++ {
		require.ErrorIs(t, decodeBatch(b[:cut], func(uint64, []byte, []byte) error { return nil }), ErrCorruption, "cut %d", cut)
	}
}

// FuzzDecodeBatch: arbitrary bytes never panic, and what decodes
// re-encodes to a batch that decodes to the same writes.
func FuzzDecodeBatch(f *testing.F) {
	seed := make([]byte, 8)
	seed = binary.AppendUvarint(seed, 1)
	seed = appendBatchEntry(seed, []byte("key"), []byte("value"))
	f.Add(seed)
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		type w struct {
			v    uint64
			k, x string
		}
		collect := func(b []byte) ([]w, error) {
			var out []w
			err := decodeBatch(b, func(v uint64, k, val []byte) error {
				out = append(out, w{v, string(k), string(val)})
				return nil
			})
			return out, err
		}
		first, err := collect(b)
		if err != nil {
			return
		}
		re := binary.LittleEndian.AppendUint64(nil, binary.LittleEndian.Uint64(b))
		re = binary.AppendUvarint(re, uint64(len(first)))
		for _, e := range first {
			re = appendBatchEntry(re, []byte(e.k), []byte(e.x))
		}
		second, err := collect(re)
		require.NoError(t, err)
		require.Equal(t, first, second)
	})
}
