package wal

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParseSegmentName: a name parses only if it is the name SegmentName
// gives its number (the log opens segments by that name), and every
// segment's name parses back to its number.
func FuzzParseSegmentName(f *testing.F) {
	f.Add("000001.log", uint64(1))
	f.Add("1234567.log", uint64(1234567))
	f.Add("0000002.log", uint64(0))
	f.Add("000000.log", uint64(1<<63))
	f.Add("+00001.log", uint64(99))
	f.Add("18446744073709551615.log", uint64(1<<64-1))
	f.Add("000001.log.tmp", uint64(7))
	f.Fuzz(func(t *testing.T, name string, n uint64) {
		if got, ok := parseSegmentName(name); ok {
			require.NotZero(t, got)
			require.Equal(t, SegmentName(got), name)
		}
		if n == 0 {
			return // no segment 0
		}
		got, ok := parseSegmentName(SegmentName(n))
		require.True(t, ok)
		require.Equal(t, n, got)
	})
}
