package primitives

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// collectScan gathers what a scan passes to fn, stopping after stop
// elements (0: never).
func collectScan[T any](stop int, scan func(fn func(T) bool) error) ([]T, error) {
	var out []T
	err := scan(func(v T) bool {
		out = append(out, v)
		return stop == 0 || len(out) < stop
	})
	return out, err
}

func TestScanEvents(t *testing.T) {
	m := newMemTxn()
	appendLog(t, m, 6)
	for from := range uint64(8) {
		want, err := RangeEvents(m, from, 100)
		require.NoError(t, err)
		got, err := collectScan(0, func(fn func(Event) bool) error { return ScanEvents(m, from, fn) })
		require.NoError(t, err)
		require.Equal(t, want, got, "from %d", from)
	}

	// Stopping reads no further: two events, two keys.
	before := m.scanned
	got, err := collectScan(2, func(fn func(Event) bool) error { return ScanEvents(m, 3, fn) })
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, uint64(3), got[0].Seq)
	require.Equal(t, 2, m.scanned-before)

	// A damaged event ends the scan with its error, after the ones before.
	m.data[evKey(4)] = m.data[evKey(4)][:20]
	got, err = collectScan(0, func(fn func(Event) bool) error { return ScanEvents(m, 2, fn) })
	require.ErrorIs(t, err, ErrCorruption)
	require.Len(t, got, 2)
}

func TestScanEventsByType(t *testing.T) {
	m := newMemTxn()
	for _, typ := range []string{"a", "ab", "a", "b", "ab", "a", "a"} {
		_, err := AppendEvent(m, typ, []byte(typ))
		require.NoError(t, err)
	}
	for _, typ := range []string{"a", "ab", "b", "abc"} {
		want, err := EventsByType(m, typ)
		require.NoError(t, err)
		got, err := collectScan(0, func(fn func(Event) bool) error { return ScanEventsByType(m, typ, fn) })
		require.NoError(t, err)
		require.Equal(t, nilIfEmpty(want), got, "type %s", typ)
	}

	before := m.scanned
	got, err := collectScan(2, func(fn func(Event) bool) error { return ScanEventsByType(m, "a", fn) })
	require.NoError(t, err)
	require.Equal(t, []uint64{0, 2}, []uint64{got[0].Seq, got[1].Seq})
	require.Equal(t, 2, m.scanned-before, "index keys read")

	_, err = collectScan(0, func(fn func(Event) bool) error { return ScanEventsByType(m, "", fn) })
	require.ErrorIs(t, err, ErrInvalidArgument)

	m.data[evKey(5)] = m.data[evKey(5)][:20]
	got, err = collectScan(0, func(fn func(Event) bool) error { return ScanEventsByType(m, "a", fn) })
	require.ErrorIs(t, err, ErrCorruption)
	require.Len(t, got, 2)
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
