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

// TestElementOfKey: the record key of every element is taken by its own
// function, the shortest names and the largest ids included.
func TestElementOfKey(t *testing.T) {
	for _, name := range []string{"x", "cell", string(make([]byte, MaxName))} {
		got, ok := CellOfKey(key(cellEntry, []byte(name)))
		require.True(t, ok, "cell %q", name)
		require.Equal(t, name, got)
	}
	for _, id := range []uint64{0, 1, 1<<64 - 1} {
		seq, ok := EventOfKey(EventKey(id))
		require.True(t, ok)
		require.Equal(t, id, seq)
		span, ok := SpanOfKey(key(spanEntry, be64(id)))
		require.True(t, ok)
		require.Equal(t, SpanID(id), span)
	}
	_, ok := CellOfKey([]byte{cellEntry})
	require.False(t, ok, "a cell has a name")
}
