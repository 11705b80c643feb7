package inmem

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestRunStateLayout: a run's status is read by every commit of the run
// (its guard) and never written on the commit path; the Scope fields after
// it are written by every step. The padding keeps them a cache line apart,
// as measured when the fields were laid out.
func TestRunStateLayout(t *testing.T) {
	var rs runState
	status := uintptr(unsafe.Pointer(&rs.status)) + unsafe.Sizeof(rs.status)
	require.GreaterOrEqual(t, uintptr(unsafe.Pointer(&rs.Steps))-status, uintptr(60))
}
