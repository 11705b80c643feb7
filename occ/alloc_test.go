//go:build !race

// The race detector's instrumentation allocates, so these counts only hold
// without -race.

package occ

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAllocsRingPush: a ring whose live writes still fit its buffer
// takes more without allocating, up to exactly full.
func TestAllocsRingPush(t *testing.T) {
	var r writeRing
	ws := make([]Write, minRing)
	r.push(ws)
	allocs := testing.AllocsPerRun(100, func() {
		r.dropTo(r.head + 7)
		r.push(ws[:7]) // exactly full again
	})
	require.Zero(t, allocs)
	require.Len(t, r.buf, minRing)
}
