package occ

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// The oracle's hot fields each start a cache line of their own (see
// Oracle): a field moved by an edit of the padding would share a line
// with another that a different core writes. An Oracle is a large
// object, so its allocation, and so each offset's line, is page-aligned.
func TestOracleLayout(t *testing.T) {
	var o Oracle
	require.Greater(t, unsafe.Sizeof(o), uintptr(32<<10), "a large object, page-aligned")
	require.Equal(t, uintptr(64), unsafe.Sizeof(slot{}))
	for name, off := range map[string]uintptr{
		"mu":       unsafe.Offsetof(o.mu),
		"spin":     unsafe.Offsetof(o.spin),
		"next":     unsafe.Offsetof(o.next),
		"limit":    unsafe.Offsetof(o.limit),
		"limitSet": unsafe.Offsetof(o.limitSet),
		"pub":      unsafe.Offsetof(o.pub),
		"slots":    unsafe.Offsetof(o.slots),
	} {
		require.Zero(t, off%64, "%s at %d", name, off)
	}
	require.Less(t, unsafe.Offsetof(o.seen), unsafe.Offsetof(o.pub)-56, "the section's fields end before pub's line")
	for name, off := range map[string]uintptr{
		"acked":    unsafe.Offsetof(o.acked),
		"released": unsafe.Offsetof(o.released),
		"slowMax":  unsafe.Offsetof(o.slowMax),
		"acking":   unsafe.Offsetof(o.acking),
	} {
		require.Equal(t, unsafe.Offsetof(o.pub)/64, off/64, "%s on pub's line", name)
	}
}
