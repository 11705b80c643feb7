//go:build !race

// The race detector's instrumentation allocates, so these counts only hold
// without -race.

package wal

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAllocsTopUpWhenEnough: a round whose blocks, given back, leave the
// free list as full as it should be allocates nothing to top it up.
func TestAllocsTopUpWhenEnough(t *testing.T) {
	l := &Log{}
	written := [][]byte{make([]byte, 0, blockSize)}
	l.free = [][]byte{make([]byte, 0, blockSize)}
	allocs := testing.AllocsPerRun(100, func() {
		l.topUp(written)
		l.free = l.free[:1] // the written block is taken again
	})
	require.Zero(t, allocs)
}
