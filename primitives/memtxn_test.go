package primitives

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// memTxn is a Txn over a plain sorted map, so the primitives can be tested
// without the engine. Get and Scan hand out the stored slices themselves
// (not copies): a primitive that returned them to its caller uncopied would
// let the caller's writes reach the store, which the tests can then see.
type memTxn struct {
	data     map[string][]byte
	keys     []string // sorted keys of data
	now      time.Time
	readOnly bool
	writes   int // accepted Put and Delete calls
	scanned  int // keys handed to Scan callbacks

	indexOnly map[string]bool // keys written by PutIndex
}

// testEpoch is a fixed, non-zero clock start with nanoseconds set, so a
// time that lost precision or location on the way through a codec shows.
var testEpoch = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

func newMemTxn() *memTxn {
	return &memTxn{data: map[string][]byte{}, now: testEpoch, indexOnly: map[string]bool{}}
}

// Get does not find index entries, as the engine's does not: a primitive
// that point-reads one fails its tests.
func (m *memTxn) Get(k []byte) ([]byte, bool) {
	if m.indexOnly[string(k)] {
		return nil, false
	}
	v, ok := m.data[string(k)]
	return v, ok
}

func (m *memTxn) Put(k, v []byte) error {
	if m.readOnly {
		return ErrReadOnly
	}
	m.writes++
	s := string(k)
	delete(m.indexOnly, s)
	if _, ok := m.data[s]; !ok {
		i, _ := slices.BinarySearch(m.keys, s)
		m.keys = slices.Insert(m.keys, i, s)
	}
	m.data[s] = v
	return nil
}

// PutIndex stores an index entry; like the engine, Get does not find it.
func (m *memTxn) PutIndex(k []byte) error {
	if err := m.Put(k, []byte{}); err != nil {
		return err
	}
	m.indexOnly[string(k)] = true
	return nil
}

func (m *memTxn) Delete(k []byte) error {
	if m.readOnly {
		return ErrReadOnly
	}
	m.writes++
	s := string(k)
	if i, ok := slices.BinarySearch(m.keys, s); ok {
		m.keys = slices.Delete(m.keys, i, i+1)
		delete(m.data, s)
	}
	return nil
}

func (m *memTxn) Scan(prefix, start []byte, fn func(k, v []byte) bool) {
	p := string(prefix)
	i, _ := slices.BinarySearch(m.keys, p+string(start))
	j := i
	for j < len(m.keys) && strings.HasPrefix(m.keys[j], p) {
		j++
	}
	// Iterate over a copy of the prefix's keys so fn's view stays stable.
	for _, k := range slices.Clone(m.keys[i:j]) {
		m.scanned++
		if !fn([]byte(k), m.data[k]) {
			return
		}
	}
}

func (m *memTxn) Now() time.Time { return m.now }

func (m *memTxn) Scratch(n int) []byte { return make([]byte, n) }

func (m *memTxn) advance(d time.Duration) { m.now = m.now.Add(d) }

// snapshot copies the whole store, to show later that a failed call left
// it untouched.
func (m *memTxn) snapshot() map[string][]byte {
	out := make(map[string][]byte, len(m.data))
	for k, v := range m.data {
		out[k] = bytes.Clone(v)
	}
	return out
}

// requireUnchanged fails unless the store equals snap and nothing was
// written since writes was wantWrites.
func (m *memTxn) requireUnchanged(t *testing.T, snap map[string][]byte, wantWrites int) {
	t.Helper()
	require.Equal(t, wantWrites, m.writes, "a failed call wrote to the transaction")
	require.True(t, maps.EqualFunc(snap, m.data, bytes.Equal), "store changed")
}

// Every other test trusts memTxn's Scan, so its prefix/start contract is
// pinned down here.
func TestMemTxnScan(t *testing.T) {
	m := newMemTxn()
	for _, k := range []string{"b", "a2", "a", "a1", "a10", "c", "a3"} {
		require.NoError(t, m.Put([]byte(k), []byte("v"+k)))
	}
	collect := func(prefix, start string, stopAfter int) []string {
		var got []string
		var st []byte
		if start != "" {
			st = []byte(start)
		}
		m.Scan([]byte(prefix), st, func(k, v []byte) bool {
			require.Equal(t, "v"+string(k), string(v))
			got = append(got, string(k))
			return stopAfter == 0 || len(got) < stopAfter
		})
		return got
	}
	require.Equal(t, []string{"a", "a1", "a10", "a2", "a3"}, collect("a", "", 0))
	require.Equal(t, []string{"a10", "a2", "a3"}, collect("a", "10", 0))
	require.Equal(t, []string{"a10", "a2"}, collect("a", "10", 2))
	require.Equal(t, []string{"a", "a1", "a10", "a2", "a3", "b", "c"}, collect("", "", 0))
	require.Empty(t, collect("a", "4", 0))
	require.Empty(t, collect("d", "", 0))

	require.NoError(t, m.Delete([]byte("a1")))
	require.NoError(t, m.Delete([]byte("zz"))) // absent: no error
	require.Equal(t, []string{"a", "a10", "a2", "a3"}, collect("a", "", 0))
	_, ok := m.Get([]byte("a1"))
	require.False(t, ok)

	m.readOnly = true
	require.ErrorIs(t, m.Put([]byte("x"), nil), ErrReadOnly)
	require.ErrorIs(t, m.Delete([]byte("a")), ErrReadOnly)
}
