//go:build linux && !race

package arena

import (
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// From hugePage up, mapped memory starts on a huge-page boundary and the
// mapping covers whole huge pages past its end, so the kernel can back all
// of it with huge pages; callers still get exactly the length they asked
// for, zeroed and writable.
func TestMapAligned(t *testing.T) {
	for _, size := range []int{mapThreshold, 1 << 20, hugePage - 8, hugePage, 3*hugePage + 5, 8 << 20} {
		whole, b, err := mapAligned(size)
		require.NoError(t, err, size)
		require.Len(t, b, size)
		start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		base := uintptr(unsafe.Pointer(unsafe.SliceData(whole)))
		if size >= hugePage {
			require.Zero(t, start%hugePage, "size %d", size)
			require.Zero(t, cap(b)%hugePage, "size %d", size)
			require.GreaterOrEqual(t, cap(b), size)
		}
		// b lies inside whole.
		require.GreaterOrEqual(t, start, base)
		require.LessOrEqual(t, start+uintptr(cap(b)), base+uintptr(len(whole)))
		b[0], b[size-1] = 1, 2
		require.NoError(t, syscall.Munmap(whole))
	}
}

func TestMapIsExactAndZeroed(t *testing.T) {
	for _, populate := range []bool{true, false} {
		for _, size := range []int{100, mapThreshold, 3*hugePage + 5} {
			b, release := mapMem(size, populate)
			require.Len(t, b, size)
			require.Equal(t, size, cap(b), "callers own exactly what they asked for")
			for i := 0; i < size; i += 4093 {
				require.Zero(t, b[i])
			}
			b[size-1] = 7
			if size >= hugePage {
				require.Zero(t, uintptr(unsafe.Pointer(unsafe.SliceData(b)))%hugePage)
			}
			if release != nil {
				release()
			}
		}
	}
}

// Populating faults in every page, piece by piece, the last partial piece
// included; without populate no page is resident until touched (the
// control, so the check can fail).
func TestPopulateFaultsInEveryPiece(t *testing.T) {
	size := 2*populatePiece + 3*4096 + 7
	for _, populate := range []bool{true, false} {
		b, release := mapMem(size, populate)
		pages := (size + 4095) / 4096
		vec := make([]byte, pages)
		_, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(size), uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
		require.Zero(t, errno)
		resident := 0
		for _, v := range vec {
			resident += int(v & 1)
		}
		if populate {
			require.Equal(t, pages, resident)
		} else {
			require.Zero(t, resident)
		}
		release()
	}
}
