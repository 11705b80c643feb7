package hnsw

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMarshalRoundTrip(t *testing.T) {
	n, dim := testSmallN, 16
	data := clustered(61, n, dim, 10)
	for _, m := range []Metric{Cosine, Euclidean, Dot} {
		t.Run(m.String(), func(t *testing.T) {
			x := build(t, Config{Dim: dim, Metric: m, Seed: 9, M: 8}, data[:n-100])
			for i := 0; i < n-100; i += 4 {
				require.NoError(t, x.Delete(uint32(i), 7))
			}
			enc, err := x.MarshalBinary()
			require.NoError(t, err)

			var y Index
			require.NoError(t, y.UnmarshalBinary(enc))
			checkGraph(t, &y)
			require.Equal(t, x.Config(), y.Config())
			require.Equal(t, x.Len(), y.Len())
			require.Equal(t, x.Deleted(), y.Deleted())

			again, err := y.MarshalBinary()
			require.NoError(t, err)
			require.Equal(t, enc, again, "re-encoding is byte-identical")

			// Same graph, same answers, at latest and at an old snapshot.
			for _, q := range queries(62, data, 20) {
				for _, opts := range []SearchOptions{{}, {Snapshot: 1}, {Filter: func(id uint32) bool { return id%2 == 1 }}} {
					a, err := x.Search(q, 10, opts)
					require.NoError(t, err)
					b, err := y.Search(q, 10, opts)
					require.NoError(t, err)
					require.Equal(t, a, b)
				}
			}

			// The decoded index keeps accepting writes.
			insertParallel(t, &y, data, n-100, n, 8)
			require.Equal(t, x.Len()+100, y.Len())
			require.True(t, y.Contains(uint32(n-1)))
			if m != Dot { // under Dot a vector need not be its own best match
				got, err := y.Search(data[n-1], 1, SearchOptions{})
				require.NoError(t, err)
				require.Equal(t, uint32(n-1), got[0].ID)
			}
		})
	}
}

func TestMarshalEmpty(t *testing.T) {
	x, err := New(Config{Dim: 4, Metric: Dot})
	require.NoError(t, err)
	enc, err := x.MarshalBinary()
	require.NoError(t, err)
	var y Index
	require.NoError(t, y.UnmarshalBinary(enc))
	require.Equal(t, 0, y.Len())
	got, err := y.Search([]float32{1, 2, 3, 4}, 3, SearchOptions{})
	require.NoError(t, err)
	require.Empty(t, got)
	require.NoError(t, y.Insert(3, []float32{1, 2, 3, 4}, 1))
	got, err = y.Search([]float32{1, 2, 3, 4}, 3, SearchOptions{})
	require.NoError(t, err)
	require.Len(t, got, 1)
}

func TestUnmarshalCorrupt(t *testing.T) {
	data := clustered(63, 300, 8, 3)
	x := build(t, Config{Dim: 8, Metric: Euclidean, M: 4}, data)
	enc, err := x.MarshalBinary()
	require.NoError(t, err)

	var y Index
	for _, bad := range [][]byte{nil, {}, []byte("HNSW"), enc[:len(enc)-1], enc[:headerSize+4], append(append([]byte(nil), enc...), 0)} {
		require.ErrorIs(t, y.UnmarshalBinary(bad), ErrCorrupt)
	}
	// Every single-bit flip is caught (by the checksum or a check behind it).
	for i := 0; i < len(enc); i += 97 {
		b := append([]byte(nil), enc...)
		b[i] ^= 0x10
		require.ErrorIs(t, y.UnmarshalBinary(b), ErrCorrupt, "flip at %d", i)
	}
	require.Equal(t, 0, y.Len(), "failed decodes leave the index unchanged")
}

// FuzzUnmarshal feeds the decoder garbage. Inputs are re-checksummed so the
// fuzzer reaches the structural checks behind the CRC; the decoder must
// return an error wrapping ErrCorrupt or a usable index, never panic or
// over-allocate, and what it accepts must re-encode to the same bytes.
func FuzzUnmarshal(f *testing.F) {
	// Real encodings, without their checksum: several levels (M 2),
	// tombstones, ids a vacuum freed and inserts reused, under each metric;
	// an index encoded below some of its versions; empty ones.
	data := clustered(64, 40, 4, 2)
	for _, m := range []Metric{Cosine, Euclidean, Dot} {
		x, err := New(Config{Dim: 4, Metric: m, M: 2, Seed: 5})
		require.NoError(f, err)
		for i, v := range data[:30] {
			require.NoError(f, x.Insert(uint32(i), v, uint64(i+1)))
		}
		for i := 0; i < 30; i += 3 {
			require.NoError(f, x.Delete(uint32(i), 40))
		}
		freed, err := x.Vacuum(40)
		require.NoError(f, err)
		require.NotEmpty(f, freed)
		for i, id := range freed[:len(freed)/2] {
			require.NoError(f, x.Insert(id, data[30+i], uint64(50+i)))
		}
		require.NoError(f, x.Delete(1, 60))
		enc, err := x.MarshalBinary()
		require.NoError(f, err)
		require.GreaterOrEqual(f, enc[headerSize-1], byte(2), "the entry point is on level 2 or higher")
		f.Add(enc[:len(enc)-4])
		enc, err = x.MarshalBinaryAt(45)
		require.NoError(f, err)
		f.Add(enc[:len(enc)-4])
	}
	empty, err := New(Config{Dim: 3, Metric: Euclidean})
	require.NoError(f, err)
	require.NoError(f, empty.Insert(7, []float32{1, 2, 3}, 1))
	require.NoError(f, empty.Delete(7, 2))
	enc, err := empty.MarshalBinary()
	require.NoError(f, err)
	f.Add(enc[:len(enc)-4])
	_, err = empty.Vacuum(2)
	require.NoError(f, err)
	enc, err = empty.MarshalBinary()
	require.NoError(f, err)
	f.Add(enc[:len(enc)-4])
	f.Add([]byte("HNSW"))
	f.Fuzz(func(t *testing.T, body []byte) {
		enc := appendCRC(body)
		var y Index
		if err := y.UnmarshalBinary(enc); err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		// The encoding is canonical but for the entry point of an empty
		// graph, which the decoder ignores and the encoder writes as zero.
		want := bytes.Clone(body)
		if binary.LittleEndian.Uint32(want[30:]) == 0 {
			clear(want[34:headerSize])
		}
		again, err := y.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, appendCRC(want), again, "what decodes re-encodes to the same bytes")
		// Whatever decoded must be searchable and keep taking writes.
		q := make([]float32, y.Config().Dim)
		q[0] = 1
		if _, err := y.Search(q, 3, SearchOptions{Snapshot: 5}); err != nil {
			t.Fatal(err)
		}
		if _, err := y.Vacuum(1 << 40); err != nil {
			t.Fatal(err)
		}
		if err := y.Insert(1<<10, q, 1<<41); err != nil && !errors.Is(err, ErrExists) {
			t.Fatal(err)
		}
	})
}

func appendCRC(body []byte) []byte {
	return append(append([]byte(nil), body...), crcBytes(body)...)
}

func crcBytes(b []byte) []byte {
	c := crc32.Checksum(b, castagnoli)
	return []byte{byte(c), byte(c >> 8), byte(c >> 16), byte(c >> 24)}
}

// TestMarshalAt: an index encoded as of a version answers like the
// original at that version, also at "latest", and holds nothing later.
func TestMarshalAt(t *testing.T) {
	const n, dim = 600, 8
	data := clustered(71, n, dim, 6)
	x := build(t, Config{Dim: dim, Metric: Euclidean, Seed: 3, M: 8}, data[:400]) // version 1
	insertParallel(t, x, data, 400, n, 5)                                         // after the horizon
	for i := 0; i < 400; i += 3 {
		require.NoError(t, x.Delete(uint32(i), 2)) // before it
	}
	for i := 1; i < 400; i += 3 {
		require.NoError(t, x.Delete(uint32(i), 6)) // after it
	}
	enc, err := x.MarshalBinaryAt(3)
	require.NoError(t, err)
	var y Index
	require.NoError(t, y.UnmarshalBinary(enc))
	checkGraph(t, &y)
	for _, q := range queries(72, data, 20) {
		want, err := x.Search(q, 10, SearchOptions{Snapshot: 3})
		require.NoError(t, err)
		for _, snap := range []uint64{3, 0, 9} {
			got, err := y.Search(q, 10, SearchOptions{Snapshot: snap})
			require.NoError(t, err)
			require.Equal(t, want, got, "snapshot %d", snap)
		}
	}
	ins, del, ok := y.Versions(450)
	require.True(t, ok)
	require.Equal(t, uint64(5), ins)
	require.Equal(t, ins, del, "inserted after the horizon: never visible")
	_, del, _ = y.Versions(1)
	require.Zero(t, del, "deleted after the horizon: live")
	_, del, _ = y.Versions(0)
	require.Equal(t, uint64(2), del)
	_, _, ok = y.Versions(n + 5)
	require.False(t, ok)
}
