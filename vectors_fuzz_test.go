package inmem

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzDecodeVecRecord: decodeVecRecord (a stored vector and its metadata)
// never panics, fails only with ErrCorruption, and what it decodes
// re-encodes (encodeVecRecord) to a record decoding to the same vector,
// bit for bit, and metadata; to the same bytes when there is no metadata,
// whose JSON need not be written as json.Marshal writes it.
func FuzzDecodeVecRecord(f *testing.F) {
	meta, err := json.Marshal(map[string]any{"i": 3.5, "tag": "x", "l": []any{1, "a"}})
	require.NoError(f, err)
	f.Add(uint8(3), encodeVecRecord([]float32{1, -2, 3}, nil))
	f.Add(uint8(3), encodeVecRecord([]float32{1, float32(math.Inf(1)), float32(math.NaN())}, meta))
	f.Add(uint8(2), encodeVecRecord([]float32{0, 1}, []byte("null")))
	f.Add(uint8(2), encodeVecRecord([]float32{0, 1}, []byte("[1]")))
	f.Add(uint8(4), []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, dim uint8, b []byte) {
		d := int(dim%32) + 1
		v, m, err := decodeVecRecord(d, b)
		if err != nil {
			require.ErrorIs(t, err, ErrCorruption)
			return
		}
		require.Len(t, v, d)
		for i, x := range v {
			require.Equal(t, binary.LittleEndian.Uint32(b[4*i:]), math.Float32bits(x))
		}
		var mj []byte
		if len(m) > 0 {
			mj, err = json.Marshal(m)
			require.NoError(t, err)
		}
		re := encodeVecRecord(v, mj)
		if len(b) == 4*d {
			require.Equal(t, b, re)
		}
		v2, m2, err := decodeVecRecord(d, re)
		require.NoError(t, err)
		require.Equal(t, re, encodeVecRecord(v2, mj), "the same vector, bit for bit (NaN != NaN)")
		if len(m) == 0 {
			m = nil // absent and empty metadata alike
		}
		require.Equal(t, m, m2)
	})
}

// FuzzVectorOfKey: vectorOfKey (a stored vector record's key, split into
// collection and key) never panics, and what it splits re-encodes
// (vecRecordPrefix) to a key splitting the same way; to the same bytes
// when the length prefix is in its shortest form, the only one the
// package writes.
func FuzzVectorOfKey(f *testing.F) {
	f.Add(append(vecRecordPrefix("coll"), "key"...))
	f.Add(vecRecordPrefix(""))
	f.Add([]byte{vecRecord, 0x85, 0x00, 'c'})
	f.Add([]byte{vecRecord, 0xff})
	f.Add([]byte{vecConfig, 0})
	f.Fuzz(func(t *testing.T, k []byte) {
		coll, key, ok := vectorOfKey(k)
		if !ok {
			return
		}
		re := append(vecRecordPrefix(coll), key...)
		if n, w := binary.Uvarint(k[1:]); len(binary.AppendUvarint(nil, n)) == w {
			require.Equal(t, k, re)
		}
		coll2, key2, ok := vectorOfKey(re)
		require.True(t, ok)
		require.Equal(t, coll, coll2)
		require.Equal(t, key, key2)
	})
}
