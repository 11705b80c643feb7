package ycsbdb

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRecordEncoding(t *testing.T) {
	rec := map[string][]byte{"field0": []byte("a"), "field1": {}, "field2": []byte("ccc")}
	b := encodeRecord(nil, rec)
	got, err := decodeRecord(b, nil)
	require.NoError(t, err)
	require.Equal(t, rec, got)

	got, err = decodeRecord(b, []string{"field2", "absent"})
	require.NoError(t, err)
	require.Equal(t, map[string][]byte{"field2": []byte("ccc")}, got)

	merged, err := mergeRecord(b, map[string][]byte{"field1": []byte("b"), "field9": []byte("new")})
	require.NoError(t, err)
	got, err = decodeRecord(merged, nil)
	require.NoError(t, err)
	require.Equal(t, map[string][]byte{"field0": []byte("a"), "field1": []byte("b"), "field2": []byte("ccc"), "field9": []byte("new")}, got)

	// A cut inside a field is an error; a cut between fields is a valid,
	// shorter record.
	boundary := map[int]bool{}
	for rest := b; len(rest) > 0; {
		var err error
		_, _, rest, err = nextField(rest)
		require.NoError(t, err)
		boundary[len(b)-len(rest)] = true
	}
	for n := 1; n < len(b); n++ {
		_, err := decodeRecord(b[:n], nil)
		require.Equal(t, !boundary[n], err != nil, "a cut at %d of %d", n, len(b))
	}
	_, err = mergeRecord(b[:3], nil)
	require.Error(t, err)
}
