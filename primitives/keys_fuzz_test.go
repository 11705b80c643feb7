package primitives

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzElementOfKey: EventOfKey, CellOfKey and SpanOfKey, which tell which
// element a stored key is the record of, never panic, at most one takes a
// key, and what one takes is the key the package writes for that element.
func FuzzElementOfKey(f *testing.F) {
	f.Add(EventKey(7))
	f.Add(key(cellEntry, []byte("cell")))
	f.Add(key(spanEntry, be64(3)))
	f.Add([]byte{evEntry})
	f.Add([]byte{cellEntry})
	f.Add(evHeadKey)
	f.Add(spanNextKey)
	f.Fuzz(func(t *testing.T, k []byte) {
		taken := 0
		if seq, ok := EventOfKey(k); ok {
			taken++
			require.Equal(t, EventKey(seq), k)
		}
		if name, ok := CellOfKey(k); ok {
			taken++
			require.Equal(t, key(cellEntry, []byte(name)), k)
		}
		if id, ok := SpanOfKey(k); ok {
			taken++
			require.Equal(t, key(spanEntry, be64(uint64(id))), k)
		}
		require.LessOrEqual(t, taken, 1)
	})
}
