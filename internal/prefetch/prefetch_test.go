package prefetch

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// A prefetch is a hint: whatever it is asked, memory stays as it was and
// nothing faults, not even for lines far past the end of the array.
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
	Lines(unsafe.Add(base, 512), 8)
	// 4 GiB and more past the array: unmapped addresses.
	Lines(unsafe.Add(base, 1<<32), 2)
	Lines(unsafe.Add(base, 1<<40), 2)

	require.Equal(t, want, buf)
}

func BenchmarkLines(b *testing.B) {
	buf := make([]byte, 1<<20)
	for i := 0; b.Loop(); i++ {
		Lines(unsafe.Pointer(&buf[(i*4099)%(len(buf)-512)]), 8)
	}
}
