package primitives

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScanCells(t *testing.T) {
	m := newMemTxn()
	for _, n := range []string{"d", "b", "a", "c", "b"} {
		_, err := SetCell(m, n, []byte("v"+n))
		require.NoError(t, err)
	}
	require.NoError(t, DefineCell(m, "job", jobMachine()))
	want, err := ListCells(m)
	require.NoError(t, err)
	got, err := collectScan(0, func(fn func(Cell) bool) error { return ScanCells(m, fn) })
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Len(t, got, 5)

	before := m.scanned
	got, err = collectScan(2, func(fn func(Cell) bool) error { return ScanCells(m, fn) })
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, []string{got[0].Name, got[1].Name})
	require.Equal(t, 2, m.scanned-before)

	m.data[string(key(cellEntry, []byte("c")))] = []byte{1, 2}
	got, err = collectScan(0, func(fn func(Cell) bool) error { return ScanCells(m, fn) })
	require.ErrorIs(t, err, ErrCorruption)
	require.Len(t, got, 2)
}
