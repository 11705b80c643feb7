package hnsw

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The set must come back empty after every reset, across the epoch's
// wrap-around too, where a stale tag would equal the new epoch.
func TestTagSetAcrossWrap(t *testing.T) {
	var s tagSet
	s.reset(10)
	require.False(t, s.add(3))
	for i := range 3 * 65536 {
		s.reset(10)
		require.False(t, s.has(3), "reset %d", i)
		require.False(t, s.has(uint32(i%10)), "reset %d", i)
		if i%2 == 0 {
			require.False(t, s.add(uint32(i%10)))
			require.True(t, s.add(uint32(i%10)))
		}
	}
	s.reset(100) // growing keeps the set empty
	for i := range uint32(100) {
		require.False(t, s.has(i))
	}
}
