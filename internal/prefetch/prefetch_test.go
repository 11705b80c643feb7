package prefetch

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// A prefetch is a hint: whatever it is asked, memory stays as it was and
// nothing faults, not even for rows far past the end of the array.
func TestPrefetchChangesNothing(t *testing.T) {
	buf := make([]byte, 1<<16)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	want := append([]byte(nil), buf...)
	base := unsafe.Pointer(&buf[0])

	Lines(base, 0)
	Lines(base, -3)
	Lines(base, 1)
	Lines(base, len(buf)/64)
	Rows(base, 64, nil, 4)
	Rows(base, 64, []uint32{0, 5, 1023}, 0)
	Rows(base, 64, []uint32{0, 5, 1023}, 1)
	Rows(base, 512, []uint32{127, 0, 64}, 8)
	// Rows 4 GiB and more past the array: unmapped addresses.
	Rows(base, 1<<12, []uint32{1 << 20, 1<<31 - 1}, 2)

	require.Equal(t, want, buf)
}

func BenchmarkRows(b *testing.B) {
	buf := make([]byte, 1<<20)
	ids := []uint32{3, 900, 17, 1500, 42, 1999, 7, 640}
	for b.Loop() {
		Rows(unsafe.Pointer(&buf[0]), 512, ids, 8)
	}
}
