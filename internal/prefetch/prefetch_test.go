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

	for _, f := range []func(unsafe.Pointer, int){Lines, LinesL2} {
		f(base, 0)
		f(base, -3)
		f(base, 1)
		f(base, len(buf)/64)
		f(unsafe.Add(base, 512), 8)
		// 4 GiB and more past the array: unmapped addresses.
		f(unsafe.Add(base, 1<<32), 2)
		f(unsafe.Add(base, 1<<40), 2)
	}

	require.Equal(t, want, buf)
}

func BenchmarkLines(b *testing.B) {
	buf := make([]byte, 1<<20)
	for i := 0; b.Loop(); i++ {
		Lines(unsafe.Pointer(&buf[(i*4099)%(len(buf)-512)]), 8)
	}
}
