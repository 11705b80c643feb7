package skiplist

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/zeebo/xxh3"

	"github.com/inmem-db/inmem/arena"
)

// entry is the reference model of one list element.
type entry struct {
	key     []byte
	version uint64
	value   []byte
}

// cmpEntry orders like the list: key ascending, then version descending.
func cmpEntry(a, b entry) int {
	if c := bytes.Compare(a.key, b.key); c != 0 {
		return c
	}
	switch {
	case a.version > b.version:
		return -1
	case a.version < b.version:
		return 1
	}
	return 0
}

func newList(t testing.TB, withIndex bool) *List {
	t.Helper()
	l, err := New(arena.New(1<<16), withIndex)
	require.NoError(t, err)
	return l
}

func indexModes(t *testing.T, f func(t *testing.T, withIndex bool)) {
	for _, withIndex := range []bool{false, true} {
		t.Run(fmt.Sprintf("index=%v", withIndex), func(t *testing.T) { f(t, withIndex) })
	}
}

// collect returns the list's entries in forward order, copied out. It
// stops after a few more steps than the list can hold, so a cycle fails the
// comparison instead of hanging the test.
func collect(l *List) []entry {
	var out []entry
	it := l.Iter()
	for it.First(); it.Valid() && int64(len(out)) <= l.Len()+1; it.Next() {
		out = append(out, entry{
			key:     bytes.Clone(it.Key()),
			version: it.Version(),
			value:   bytes.Clone(it.Value()),
		})
	}
	return out
}

// collectReverse returns the list's entries walking Last/Prev.
func collectReverse(l *List) []entry {
	var out []entry
	it := l.Iter()
	for it.Last(); it.Valid() && int64(len(out)) <= l.Len()+1; it.Prev() {
		out = append(out, entry{
			key:     bytes.Clone(it.Key()),
			version: it.Version(),
			value:   bytes.Clone(it.Value()),
		})
	}
	return out
}

// requireEntries checks got against want entry by entry (key, version,
// value), with a readable message on the first mismatch.
func requireEntries(t *testing.T, want, got []entry) {
	t.Helper()
	require.Equal(t, len(want), len(got), "entry count")
	for i := range want {
		if !bytes.Equal(want[i].key, got[i].key) || want[i].version != got[i].version ||
			!bytes.Equal(want[i].value, got[i].value) {
			require.Failf(t, "entry mismatch", "at %d: want (%x,%d,%x), got (%x,%d,%x)", i,
				want[i].key, want[i].version, want[i].value, got[i].key, got[i].version, got[i].value)
		}
	}
}

func requireStrictlyOrdered(t *testing.T, es []entry) {
	t.Helper()
	for i := 1; i < len(es); i++ {
		if cmpEntry(es[i-1], es[i]) >= 0 {
			require.Failf(t, "order", "entries %d (%x,%d) and %d (%x,%d) out of order",
				i-1, es[i-1].key, es[i-1].version, i, es[i].key, es[i].version)
		}
	}
}

// randomEntries draws n entries over nkeys distinct keys of length 0..maxLen
// (the empty key included), with versions spread over the full range
// including 0 and MaxUint64. (key, version) pairs are unique; the returned
// slice is in random order.
func randomEntries(r *rand.Rand, n, nkeys, maxLen int) []entry {
	keys := make([][]byte, 0, nkeys)
	seenKey := map[string]bool{}
	for len(keys) < nkeys {
		k := make([]byte, r.IntN(maxLen+1))
		for i := range k {
			k[i] = byte(r.IntN(4)) * 85 // few symbols: lots of shared prefixes
		}
		if seenKey[string(k)] {
			continue
		}
		seenKey[string(k)] = true
		keys = append(keys, k)
	}
	type kv struct {
		k string
		v uint64
	}
	seen := map[kv]bool{}
	out := make([]entry, 0, n)
	for len(out) < n {
		k := keys[r.IntN(len(keys))]
		var v uint64
		switch r.IntN(8) {
		case 0:
			v = 0
		case 1:
			v = math.MaxUint64 - uint64(r.IntN(3))
		case 2:
			v = r.Uint64()
		default:
			v = uint64(r.IntN(64))
		}
		if seen[kv{string(k), v}] {
			continue
		}
		seen[kv{string(k), v}] = true
		val := make([]byte, r.IntN(24))
		for i := range val {
			val[i] = byte(r.Uint32())
		}
		out = append(out, entry{key: k, version: v, value: val})
	}
	return out
}

func insertAll(t *testing.T, l *List, es []entry) {
	t.Helper()
	for _, e := range es {
		off, ok, err := l.Insert(e.key, e.version, e.value)
		require.NoError(t, err)
		require.True(t, ok, "insert (%x,%d)", e.key, e.version)
		require.NotZero(t, off)
	}
}

func sortedCopy(es []entry) []entry {
	s := slices.Clone(es)
	slices.SortFunc(s, cmpEntry)
	return s
}

func TestEmptyList(t *testing.T) {
	indexModes(t, func(t *testing.T, withIndex bool) {
		l := newList(t, withIndex)
		require.Zero(t, l.Len())
		it := l.Iter()
		require.False(t, it.Valid())
		it.First()
		require.False(t, it.Valid())
		it.Last()
		require.False(t, it.Valid())
		it.SeekGE(nil, math.MaxUint64)
		require.False(t, it.Valid())
		it.SeekLT([]byte{0xff}, 0)
		require.False(t, it.Valid())
		_, _, ok := l.Get(nil, math.MaxUint64)
		require.False(t, ok)
		_, _, ok = l.Get([]byte("x"), math.MaxUint64)
		require.False(t, ok)
	})
}

func TestOrdering(t *testing.T) {
	indexModes(t, func(t *testing.T, withIndex bool) {
		r := rand.New(rand.NewPCG(1, 2))
		es := randomEntries(r, 5000, 700, 6)
		l := newList(t, withIndex)
		insertAll(t, l, es)

		got := collect(l)
		requireStrictlyOrdered(t, got)
		requireEntries(t, sortedCopy(es), got)
		require.Equal(t, int64(len(es)), l.Len())
		require.Positive(t, l.Arena().Stats().Used)
	})
}

func TestTowersAreBuilt(t *testing.T) {
	// A list that degenerates into a linked list still passes every
	// ordering test; check the towers exist with the promised branching
	// (P(height >= 2) = 1/2, then 1/4 a level).
	l := newList(t, false)
	const n = 5000
	for i := 0; i < n; i++ {
		_, _, err := l.Insert(binary.BigEndian.AppendUint32(nil, uint32(i)), 1, nil)
		require.NoError(t, err)
	}
	var atLeast [MaxHeight + 1]int // atLeast[h]: nodes of height >= h
	for off := l.node(l.head).tower[0].Load(); off != 0; off = l.node(off).tower[0].Load() {
		h := l.node(off).height
		require.True(t, h >= 1 && h <= MaxHeight, "height %d", h)
		for i := 1; i <= int(h); i++ {
			atLeast[i]++
		}
	}
	require.Equal(t, n, atLeast[1])
	require.InDelta(t, 0.5, float64(atLeast[2])/n, 0.05, "fraction of nodes with height >= 2")
	require.InDelta(t, 0.125, float64(atLeast[3])/n, 0.03, "fraction of nodes with height >= 3")
	require.GreaterOrEqual(t, l.height.Load(), uint32(4))
	// Every node is linked at every level of its tower.
	for level := 1; level < MaxHeight; level++ {
		linked := 0
		for off := l.node(l.head).tower[level].Load(); off != 0; off = l.node(off).tower[level].Load() {
			linked++
		}
		require.Equal(t, atLeast[level+1], linked, "nodes linked at level %d", level)
	}
}

func TestReverseIteration(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	es := randomEntries(r, 3000, 400, 5)
	l := newList(t, false)
	insertAll(t, l, es)

	fwd := collect(l)
	rev := collectReverse(l)
	slices.Reverse(rev)
	requireEntries(t, fwd, rev)

	// Prev from the first entry leaves the iterator invalid.
	it := l.Iter()
	it.First()
	it.Prev()
	require.False(t, it.Valid())
}

// refSeekGE is the index in ref of the first entry >= probe, len(ref) if none.
func refSeekGE(ref []entry, probe entry) int {
	i, _ := slices.BinarySearchFunc(ref, probe, cmpEntry)
	return i
}

func TestSeek(t *testing.T) {
	indexModes(t, func(t *testing.T, withIndex bool) {
		r := rand.New(rand.NewPCG(5, 6))
		es := randomEntries(r, 4000, 500, 5)
		l := newList(t, withIndex)
		insertAll(t, l, es)
		ref := sortedCopy(es)

		probes := make([]entry, 0, 6000)
		for i := 0; i < 3000; i++ { // probes at and around existing entries
			e := ref[r.IntN(len(ref))]
			v := e.version
			switch r.IntN(3) {
			case 1:
				v++
			case 2:
				v--
			}
			probes = append(probes, entry{key: e.key, version: v})
		}
		for i := 0; i < 3000; i++ { // arbitrary probes, mostly absent keys
			k := make([]byte, r.IntN(7))
			for j := range k {
				k[j] = byte(r.IntN(5)) * 64
			}
			v := []uint64{0, 1, 30, math.MaxUint64, r.Uint64()}[r.IntN(5)]
			probes = append(probes, entry{key: k, version: v})
		}

		it := l.Iter()
		for _, p := range probes {
			i := refSeekGE(ref, p)

			it.SeekGE(p.key, p.version)
			if i == len(ref) {
				require.False(t, it.Valid(), "SeekGE(%x,%d) should be exhausted", p.key, p.version)
			} else {
				require.True(t, it.Valid(), "SeekGE(%x,%d)", p.key, p.version)
				if !bytes.Equal(ref[i].key, it.Key()) || ref[i].version != it.Version() || !bytes.Equal(ref[i].value, it.Value()) {
					require.Failf(t, "SeekGE", "SeekGE(%x,%d): want (%x,%d), got (%x,%d)",
						p.key, p.version, ref[i].key, ref[i].version, it.Key(), it.Version())
				}
				// Continuing forward from a seek yields the successor.
				it.Next()
				if i+1 == len(ref) {
					require.False(t, it.Valid())
				} else {
					require.True(t, it.Valid())
					require.Equal(t, ref[i+1].key, it.Key())
					require.Equal(t, ref[i+1].version, it.Version())
				}
			}

			it.SeekLT(p.key, p.version)
			if i == 0 {
				require.False(t, it.Valid(), "SeekLT(%x,%d) should be exhausted", p.key, p.version)
			} else {
				require.True(t, it.Valid(), "SeekLT(%x,%d)", p.key, p.version)
				if !bytes.Equal(ref[i-1].key, it.Key()) || ref[i-1].version != it.Version() {
					require.Failf(t, "SeekLT", "SeekLT(%x,%d): want (%x,%d), got (%x,%d)",
						p.key, p.version, ref[i-1].key, ref[i-1].version, it.Key(), it.Version())
				}
			}
		}

		// SeekGE with MaxUint64 lands on the newest version of a key.
		for _, e := range ref[:200] {
			it.SeekGE(e.key, math.MaxUint64)
			require.True(t, it.Valid())
			require.Equal(t, e.key, it.Key())
			first := ref[refSeekGE(ref, entry{key: e.key, version: math.MaxUint64})]
			require.Equal(t, first.version, it.Version())
		}
	})
}

func TestOffsetsAddressEntries(t *testing.T) {
	l := newList(t, false)
	off, ok, err := l.Insert([]byte("k"), 7, []byte("v"))
	require.NoError(t, err)
	require.True(t, ok)
	it := l.Iter()
	it.SeekGE([]byte("k"), 7)
	require.True(t, it.Valid())
	require.Equal(t, off, it.Offset())
}

func TestDuplicateInsert(t *testing.T) {
	indexModes(t, func(t *testing.T, withIndex bool) {
		r := rand.New(rand.NewPCG(7, 8))
		es := randomEntries(r, 1000, 200, 4)
		l := newList(t, withIndex)
		insertAll(t, l, es)
		before := collect(l)

		for _, e := range es[:300] {
			_, ok, err := l.Insert(e.key, e.version, []byte("different value"))
			require.NoError(t, err)
			require.False(t, ok, "duplicate (%x,%d) accepted", e.key, e.version)
		}
		require.Equal(t, int64(len(es)), l.Len())
		requireEntries(t, before, collect(l))

		// The original value is still what Get returns.
		for _, e := range es[:300] {
			v, ver, ok := l.Get(e.key, e.version)
			require.True(t, ok)
			require.Equal(t, e.version, ver)
			require.Equal(t, e.value, v)
		}
	})
}

// modelGet returns the newest entry of key with version <= snapshot.
func modelGet(ref []entry, key []byte, snapshot uint64) (entry, bool) {
	i := refSeekGE(ref, entry{key: key, version: snapshot})
	if i < len(ref) && bytes.Equal(ref[i].key, key) {
		return ref[i], true
	}
	return entry{}, false
}

func requireGet(t *testing.T, l *List, ref []entry, key []byte, snapshot uint64) {
	t.Helper()
	want, wantOK := modelGet(ref, key, snapshot)
	v, ver, ok := l.Get(key, snapshot)
	if ok != wantOK || (ok && (ver != want.version || !bytes.Equal(v, want.value))) {
		require.Failf(t, "Get", "Get(%x, %d): want (%v, version %d, %x), got (%v, version %d, %x)",
			key, snapshot, wantOK, want.version, want.value, ok, ver, v)
	}
}

func TestGet(t *testing.T) {
	indexModes(t, func(t *testing.T, withIndex bool) {
		r := rand.New(rand.NewPCG(9, 10))
		es := randomEntries(r, 6000, 600, 6)
		l := newList(t, withIndex)
		insertAll(t, l, es) // random order: versions of a key arrive out of order
		ref := sortedCopy(es)

		for i := 0; i < 20000; i++ {
			var key []byte
			if r.IntN(4) == 0 {
				key = []byte{byte(r.IntN(256)), 1, 2} // mostly absent
			} else {
				key = ref[r.IntN(len(ref))].key
			}
			var snap uint64
			switch r.IntN(4) {
			case 0:
				snap = ref[r.IntN(len(ref))].version
			case 1:
				snap = math.MaxUint64
			case 2:
				snap = r.Uint64()
			default:
				snap = uint64(r.IntN(70))
			}
			requireGet(t, l, ref, key, snap)
		}
	})
}

func TestGetOutOfOrderVersions(t *testing.T) {
	indexModes(t, func(t *testing.T, withIndex bool) {
		l := newList(t, withIndex)
		key := []byte("key")
		var ref []entry
		// Newest first, then older, then newer again, then in the middle.
		for _, v := range []uint64{50, 10, 90, 30, 70, 0, 100, 60} {
			val := []byte(fmt.Sprintf("v%d", v))
			_, ok, err := l.Insert(key, v, val)
			require.NoError(t, err)
			require.True(t, ok)
			ref = append(ref, entry{key: key, version: v, value: val})
			// Neighbours with other keys, so a walk past the key shows.
			_, _, err = l.Insert([]byte("kex"), v, []byte("before"))
			require.NoError(t, err)
			_, _, err = l.Insert([]byte("kez"), v, []byte("after"))
			require.NoError(t, err)
			ref = append(ref, entry{key: []byte("kex"), version: v, value: []byte("before")},
				entry{key: []byte("kez"), version: v, value: []byte("after")})
			sorted := sortedCopy(ref)
			for snap := uint64(0); snap <= 110; snap++ {
				requireGet(t, l, sorted, key, snap)
			}
			requireGet(t, l, sorted, key, math.MaxUint64)
		}
		// Only versions > snapshot exist for this key.
		_, _, err := l.Insert([]byte("only-new"), 1000, []byte("x"))
		require.NoError(t, err)
		_, _, ok := l.Get([]byte("only-new"), 999)
		require.False(t, ok)
		v, ver, ok := l.Get([]byte("only-new"), 1000)
		require.True(t, ok)
		require.Equal(t, uint64(1000), ver)
		require.Equal(t, []byte("x"), v)
		// A prefix or extension of a key is a different key.
		_, _, ok = l.Get([]byte("ke"), math.MaxUint64)
		require.False(t, ok)
		_, _, ok = l.Get([]byte("key\x00"), math.MaxUint64)
		require.False(t, ok)
	})
}

// TestIndexedGetAfterDuplicateInsert pins down the window between an
// Insert's level-0 link (the point at which the entry is in the list: a
// concurrent duplicate Insert already reports it as present, iterators see
// it) and its PointIndex publish. The window is reproduced deterministically
// by linking with the index detached. A Get through the index then misses
// an entry that a duplicate Insert has just reported as present, and a
// non-indexed Get finds.
// The losing Link publishes the existing node, so the loser can read its
// write back as soon as Link returns.
func TestIndexedGetAfterDuplicateInsert(t *testing.T) {
	l := newList(t, true)
	key := []byte("k")
	_, ok, err := l.Insert(key, 3, []byte("v3"))
	require.NoError(t, err)
	require.True(t, ok)

	// Winner: linked at level 0, index publish not yet run.
	idx := l.index
	l.index = nil
	_, ok, err = l.Insert(key, 5, []byte("v5"))
	require.NoError(t, err)
	require.True(t, ok)
	l.index = idx

	// Loser: told the entry exists.
	_, ok, err = l.Insert(key, 5, []byte("v5"))
	require.NoError(t, err)
	require.False(t, ok)

	v, ver, found := l.Get(key, 5)
	require.True(t, found)
	require.Equal(t, uint64(5), ver, "indexed Get returned an older version than one reported present")
	require.Equal(t, []byte("v5"), v)
}

func TestGetManyKeysIndexGrowth(t *testing.T) {
	// Enough distinct keys to grow every PointIndex shard several times.
	l := newList(t, true)
	r := rand.New(rand.NewPCG(11, 12))
	const n = 10000
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = binary.BigEndian.AppendUint64(nil, r.Uint64())
		if _, ok, err := l.Insert(keys[i], uint64(i%7+1), keys[i]); !ok || err != nil {
			require.Failf(t, "Insert", "key %d: ok=%v err=%v", i, ok, err)
		}
	}
	for i, k := range keys {
		v, ver, ok := l.Get(k, math.MaxUint64)
		if !ok || ver != uint64(i%7+1) || !bytes.Equal(v, k) {
			require.Failf(t, "Get", "key %d (%x): ok=%v ver=%d", i, k, ok, ver)
		}
		if _, _, ok := l.Get(k, 0); ok {
			require.Failf(t, "Get", "key %d found at snapshot 0", i)
		}
	}
}

// checksumValue encodes (key, version) into a value a reader can verify.
func checksumValue(key []byte, version uint64) []byte {
	v := make([]byte, 16, 16+len(key))
	binary.LittleEndian.PutUint64(v, xxh3.Hash(key)^version)
	binary.LittleEndian.PutUint64(v[8:], version*0x9e3779b97f4a7c15)
	return append(v, key...)
}

func validValue(key []byte, version uint64, value []byte) bool {
	return len(value) == 16+len(key) &&
		binary.LittleEndian.Uint64(value) == xxh3.Hash(key)^version &&
		binary.LittleEndian.Uint64(value[8:]) == version*0x9e3779b97f4a7c15 &&
		bytes.Equal(value[16:], key)
}

func concurrentKeys(n int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("key-%06d", (i*7919)%n))
	}
	return keys
}

func TestConcurrentInsert(t *testing.T) {
	indexModes(t, func(t *testing.T, withIndex bool) {
		const (
			workers  = 8
			nkeys    = 1000
			versions = 4
		)
		keys := concurrentKeys(nkeys)
		l := newList(t, withIndex)
		var inserted atomic.Int64
		runWorkers(workers, func(g int) {
			r := rand.New(rand.NewPCG(uint64(g), 99))
			// Every worker tries every (key, version): each pair races
			// 8 ways and exactly one insert may win.
			order := r.Perm(nkeys * versions)
			for _, p := range order {
				k, v := keys[p/versions], uint64(p%versions)+1
				_, ok, err := l.Insert(k, v, checksumValue(k, v))
				if err != nil {
					t.Errorf("insert: %v", err)
					return
				}
				if ok {
					inserted.Add(1)
				}
				// The pair is in the list now, whichever worker won:
				// level 0 holds it.
				it := l.Iter()
				it.SeekGE(k, v)
				if !it.Valid() || !bytes.Equal(it.Key(), k) || it.Version() != v || !validValue(k, v, it.Value()) {
					t.Errorf("SeekGE(%s,%d) after insert (won: %v) missed it", k, v, ok)
					return
				}
				// Read your own write through Get. Only the winner is
				// checked: with the index, a loser can run ahead of the
				// winner's PointIndex publish (see
				// TestIndexedGetAfterDuplicateInsert).
				if ok {
					val, ver, found := l.Get(k, v)
					if !found || ver != v || !validValue(k, v, val) {
						t.Errorf("Get(%s,%d) after own insert: found=%v ver=%d", k, v, found, ver)
						return
					}
				}
			}
		})
		require.False(t, t.Failed())

		require.Equal(t, int64(nkeys*versions), inserted.Load(), "each pair must be inserted exactly once")
		require.Equal(t, int64(nkeys*versions), l.Len())
		var ref []entry
		for _, k := range keys {
			for v := uint64(1); v <= versions; v++ {
				ref = append(ref, entry{key: k, version: v, value: checksumValue(k, v)})
			}
		}
		ref = sortedCopy(ref)
		got := collect(l)
		requireStrictlyOrdered(t, got)
		requireEntries(t, ref, got)
		rev := collectReverse(l)
		slices.Reverse(rev)
		requireEntries(t, ref, rev)
		for _, k := range keys {
			for snap := uint64(0); snap <= versions+1; snap++ {
				requireGet(t, l, ref, k, snap)
			}
		}
	})
}

func TestConcurrentInsertContended(t *testing.T) {
	// Workers insert interleaved keys in the same order, so they keep
	// splicing next to each other at the same predecessors: a linking step
	// that is not a real compare-and-swap loses entries here.
	indexModes(t, func(t *testing.T, withIndex bool) {
		const (
			workers = 8
			perG    = 2000
		)
		l := newList(t, withIndex)
		runWorkers(workers, func(g int) {
			for i := 0; i < perG; i++ {
				k := binary.BigEndian.AppendUint32(nil, uint32(i*workers+g))
				if _, ok, err := l.Insert(k, 1, k); !ok || err != nil {
					t.Errorf("insert %x: ok=%v err=%v", k, ok, err)
					return
				}
			}
		})
		require.False(t, t.Failed())
		require.Equal(t, int64(workers*perG), l.Len())
		got := collect(l)
		require.Len(t, got, workers*perG, "entries lost or duplicated at level 0")
		for i, e := range got {
			if binary.BigEndian.Uint32(e.key) != uint32(i) || !bytes.Equal(e.key, e.value) {
				require.Failf(t, "content", "entry %d is %x", i, e.key)
			}
		}
		// Every level is a sorted sublist of level 0.
		for level := 1; level < MaxHeight; level++ {
			prev := []byte(nil)
			for off := l.node(l.head).tower[level].Load(); off != 0; off = l.node(off).tower[level].Load() {
				n := l.node(off)
				require.Greater(t, int(n.height), level)
				k := l.key(off, n)
				if prev != nil && bytes.Compare(prev, k) >= 0 {
					require.Failf(t, "order", "level %d: %x after %x", level, k, prev)
				}
				prev = k
			}
		}
	})
}

// TestSeekGERacingInsertBeforeTarget: a writer keeps inserting, right in
// front of a reader's target, entries that sort before it: versions of a
// key in descending order, while readers seek to (key, 0), which sorts after
// every one of them. Whatever a seek returns must be >= its target, and a
// Get at snapshot 0 must find nothing (there is no version 0).
func TestSeekGERacingInsertBeforeTarget(t *testing.T) {
	indexModes(t, func(t *testing.T, withIndex bool) {
		const (
			hotKeys  = 4
			versions = 2500
		)
		l := newList(t, withIndex)
		keys := make([][]byte, hotKeys+1)
		for i := range keys {
			keys[i] = []byte{'h', byte(i)}
		}
		// A fence after the hot keys, so seeks always land somewhere.
		_, _, err := l.Insert(keys[hotKeys], 1, nil)
		require.NoError(t, err)

		var done atomic.Bool
		var bad atomic.Int64
		var firstBad atomic.Value
		var wg sync.WaitGroup
		for g := 0; g < 2; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(g), 1))
				it := l.Iter()
				for !done.Load() {
					k := keys[r.IntN(hotKeys)]
					if _, ver, ok := l.Get(k, 0); ok {
						if bad.Add(1) == 1 {
							firstBad.Store(fmt.Sprintf("Get(%x, 0) returned version %d", k, ver))
						}
					}
					it.SeekGE(k, 0)
					if !it.Valid() || cmpEntry(entry{key: it.Key(), version: it.Version()}, entry{key: k}) < 0 {
						if bad.Add(1) == 1 {
							firstBad.Store(fmt.Sprintf("SeekGE(%x, 0) landed on (%x, %d), before the target",
								k, it.Key(), it.Version()))
						}
					}
				}
			}(g)
		}
		for v := uint64(versions); v >= 1; v-- {
			for _, k := range keys[:hotKeys] {
				_, _, err := l.Insert(k, v, nil)
				require.NoError(t, err)
			}
		}
		done.Store(true)
		wg.Wait()
		if n := bad.Load(); n > 0 {
			require.Failf(t, "seek returned an entry before its target",
				"%d bad results; first: %s", n, firstBad.Load())
		}
	})
}

func TestConcurrentReadersAndWriters(t *testing.T) {
	indexModes(t, func(t *testing.T, withIndex bool) {
		const (
			writers  = 4
			readers  = 4
			nkeys    = 1500
			versions = 3
		)
		keys := concurrentKeys(nkeys)
		l := newList(t, withIndex)
		var done atomic.Bool
		var writersWG, readersWG sync.WaitGroup
		var reads atomic.Int64

		for g := 0; g < writers; g++ {
			writersWG.Add(1)
			go func(g int) {
				defer writersWG.Done()
				// Writer g owns versions g*versions+1 .. (g+1)*versions of
				// every key and inserts them in a random order.
				r := rand.New(rand.NewPCG(uint64(g), 7))
				for _, p := range r.Perm(nkeys * versions) {
					k := keys[p/versions]
					v := uint64(g*versions + p%versions + 1)
					_, ok, err := l.Insert(k, v, checksumValue(k, v))
					if err != nil || !ok {
						t.Errorf("insert (%s,%d): ok=%v err=%v", k, v, ok, err)
						return
					}
				}
			}(g)
		}
		for g := 0; g < readers; g++ {
			readersWG.Add(1)
			go func(g int) {
				defer readersWG.Done()
				r := rand.New(rand.NewPCG(uint64(g), 13))
				for pass := 0; !done.Load() || pass < 2; pass++ {
					// Point reads.
					for i := 0; i < 500; i++ {
						k := keys[r.IntN(nkeys)]
						snap := uint64(r.IntN(writers*versions + 2))
						val, ver, ok := l.Get(k, snap)
						if ok && (ver > snap || !validValue(k, ver, val)) {
							t.Errorf("Get(%s,%d): bad entry version %d value %x", k, snap, ver, val)
							return
						}
					}
					// A range scan: strictly ordered, every entry whole.
					it := l.Iter()
					var prevKey []byte
					var prevVer uint64
					n := 0
					for it.SeekGE(keys[r.IntN(nkeys)], math.MaxUint64); it.Valid() && n < 400; it.Next() {
						k, ver := it.Key(), it.Version()
						if !validValue(k, ver, it.Value()) {
							t.Errorf("scan: torn entry (%s,%d) value %x", k, ver, it.Value())
							return
						}
						if n > 0 && cmpEntry(entry{key: prevKey, version: prevVer}, entry{key: k, version: ver}) >= 0 {
							t.Errorf("scan: (%s,%d) after (%s,%d)", k, ver, prevKey, prevVer)
							return
						}
						prevKey, prevVer = k, ver
						n++
					}
					// A short backward walk.
					for i := 0; i < 20 && it.Valid(); i++ {
						it.Prev()
						if it.Valid() && !validValue(it.Key(), it.Version(), it.Value()) {
							t.Errorf("prev: torn entry")
							return
						}
					}
					reads.Add(1)
				}
			}(g)
		}
		writersWG.Wait()
		done.Store(true)
		readersWG.Wait()
		require.False(t, t.Failed())
		require.Positive(t, reads.Load())

		require.Equal(t, int64(nkeys*versions*writers), l.Len())
		got := collect(l)
		require.Len(t, got, nkeys*versions*writers)
		requireStrictlyOrdered(t, got)
		for _, e := range got {
			if !validValue(e.key, e.version, e.value) {
				require.Failf(t, "torn", "entry (%s,%d)", e.key, e.version)
			}
		}
		for _, k := range keys {
			_, ver, ok := l.Get(k, math.MaxUint64)
			require.True(t, ok)
			require.Equal(t, uint64(writers*versions), ver)
		}
	})
}

func TestZeroAllocs(t *testing.T) {
	const n = 2000
	keys := make([][]byte, 2*n)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("zero-alloc-%08d", i))
	}
	val := make([]byte, 16)
	mk := func(withIndex bool) *List {
		l, err := New(arena.New(16<<20), withIndex) // no arena growth below
		require.NoError(t, err)
		for _, k := range keys[:n] {
			_, ok, err := l.Insert(k, 1, val)
			require.NoError(t, err)
			require.True(t, ok)
		}
		return l
	}
	plain, indexed := mk(false), mk(true)

	t.Run("Insert", func(t *testing.T) {
		i := n
		allocs := testing.AllocsPerRun(n-1, func() {
			_, ok, err := plain.Insert(keys[i], 1, val)
			if !ok || err != nil {
				panic("insert failed")
			}
			i++
		})
		require.Zero(t, allocs)
	})
	t.Run("InsertIndexed", func(t *testing.T) {
		// New versions of keys already in the index: no table growth.
		i := 0
		allocs := testing.AllocsPerRun(n-1, func() {
			_, ok, err := indexed.Insert(keys[i], 2, val)
			if !ok || err != nil {
				panic("insert failed")
			}
			i++
		})
		require.Zero(t, allocs)
	})
	for name, l := range map[string]*List{"Get": plain, "GetIndexed": indexed} {
		t.Run(name, func(t *testing.T) {
			i := 0
			allocs := testing.AllocsPerRun(1000, func() {
				if _, _, ok := l.Get(keys[i%n], 1); !ok {
					panic("missing")
				}
				i++
			})
			require.Zero(t, allocs)
		})
	}
	t.Run("SeekGE", func(t *testing.T) {
		it := plain.Iter()
		i := 0
		allocs := testing.AllocsPerRun(1000, func() {
			it.SeekGE(keys[i%n], math.MaxUint64)
			i++
		})
		require.Zero(t, allocs)
		require.True(t, it.Valid())
	})
	t.Run("NextPrev", func(t *testing.T) {
		it := plain.Iter()
		it.First()
		allocs := testing.AllocsPerRun(1000, func() {
			it.Next()
		})
		require.Zero(t, allocs)
		require.True(t, it.Valid())
		allocs = testing.AllocsPerRun(1000, func() {
			it.Prev()
		})
		require.Zero(t, allocs)
		require.True(t, it.Valid())
		allocs = testing.AllocsPerRun(100, func() {
			it.SeekLT(keys[7], 1)
			it.Last()
			it.First()
		})
		require.Zero(t, allocs)
	})
}

// FuzzSkiplist decodes its input into operations applied to an indexed and
// an unindexed list and to a sorted-slice model, comparing after each.
//
// Encoding, repeated: op byte, then operands. Keys are 0..3 bytes from a
// 4-symbol alphabet (so versions of one key collide often), versions are one
// byte, except that 0xff means MaxUint64.
func FuzzSkiplist(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1, 0, 5, 0, 1, 0, 5, 1, 1, 0, 9, 2, 1, 0, 4, 3, 1, 0, 4})
	f.Add([]byte{0, 2, 1, 2, 3, 0, 2, 1, 2, 7, 0, 2, 1, 2, 5, 1, 2, 1, 2, 6, 2, 0, 0, 3, 2, 1, 2, 0xff})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0xff, 1, 0, 0xfe, 2, 0, 0xff, 3, 3, 3, 3, 3, 0})
	f.Add(bytes.Repeat([]byte{0, 3, 1, 2, 3, 9, 0, 1, 2, 4}, 20))

	f.Fuzz(func(t *testing.T, data []byte) {
		lists := []*List{newList(t, false), newList(t, true)}
		var model []entry
		pos := 0
		next := func() (byte, bool) {
			if pos >= len(data) {
				return 0, false
			}
			b := data[pos]
			pos++
			return b, true
		}
		readKey := func() ([]byte, bool) {
			n, ok := next()
			if !ok {
				return nil, false
			}
			k := make([]byte, n%4)
			for i := range k {
				b, ok := next()
				if !ok {
					return nil, false
				}
				k[i] = 'a' + b%4
			}
			return k, true
		}
		readVersion := func() (uint64, bool) {
			b, ok := next()
			if b == 0xff {
				return math.MaxUint64, ok
			}
			return uint64(b), ok
		}

		for step := 0; ; step++ {
			op, ok := next()
			if !ok {
				break
			}
			key, ok := readKey()
			if !ok {
				break
			}
			ver, ok := readVersion()
			if !ok {
				break
			}
			probe := entry{key: key, version: ver}
			i := refSeekGE(model, probe)
			exists := i < len(model) && cmpEntry(model[i], probe) == 0

			switch op % 4 {
			case 0: // insert
				val := []byte(fmt.Sprintf("%d", step))
				for _, l := range lists {
					_, inserted, err := l.Insert(key, ver, val)
					require.NoError(t, err)
					require.Equal(t, !exists, inserted, "insert (%q,%d)", key, ver)
				}
				if !exists {
					model = slices.Insert(model, i, entry{key: key, version: ver, value: val})
				}
			case 1: // get
				for _, l := range lists {
					requireGet(t, l, model, key, ver)
				}
			case 2: // seekGE
				for _, l := range lists {
					it := l.Iter()
					it.SeekGE(key, ver)
					if i == len(model) {
						require.False(t, it.Valid())
					} else {
						require.True(t, it.Valid())
						require.Equal(t, model[i].key, it.Key())
						require.Equal(t, model[i].version, it.Version())
						require.Equal(t, model[i].value, it.Value())
					}
				}
			case 3: // seekLT
				for _, l := range lists {
					it := l.Iter()
					it.SeekLT(key, ver)
					if i == 0 {
						require.False(t, it.Valid())
					} else {
						require.True(t, it.Valid())
						require.Equal(t, model[i-1].key, it.Key())
						require.Equal(t, model[i-1].version, it.Version())
					}
				}
			}
		}
		for _, l := range lists {
			require.Equal(t, int64(len(model)), l.Len())
			got := collect(l)
			requireEntries(t, model, got)
			rev := collectReverse(l)
			slices.Reverse(rev)
			requireEntries(t, model, rev)
		}
	})
}

// TestLocateBeforeVersion follows the commit path: a writer locates its node
// before it has a version, versions are then handed out in increasing order
// (as the oracle does), and the node is linked from the located splice.
// Workers write a handful of keys, so versions of one key race to link next
// to each other from stale splices. Every entry must be linked exactly once,
// in (key asc, version desc) order on every level, and Get must return the
// newest version at or below each snapshot.
func TestLocateBeforeVersion(t *testing.T) {
	indexModes(t, func(t *testing.T, withIndex bool) {
		const (
			workers = 8
			perG    = 3000
			nkeys   = 5
		)
		l := newList(t, withIndex)
		var next atomic.Uint64
		var mu sync.Mutex
		var model []entry
		var wg sync.WaitGroup
		for g := 0; g < workers; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(g), 7))
				for i := 0; i < perG; i++ {
					k := []byte(fmt.Sprintf("key-%d", r.IntN(nkeys)))
					val := []byte(fmt.Sprintf("%d/%d", g, i))
					off, err := l.Prepare(k, val, nil)
					if err != nil {
						t.Error(err)
						return
					}
					var sp Splice
					l.Locate(off, &sp)
					v := next.Add(1)
					if !l.LinkAt(off, v, &sp) {
						t.Errorf("version %d of %s not linked", v, k)
						return
					}
					mu.Lock()
					model = append(model, entry{key: k, version: v, value: val})
					mu.Unlock()
				}
			}(g)
		}
		wg.Wait()
		require.False(t, t.Failed())
		slices.SortFunc(model, cmpEntry)
		got := collect(l)
		require.Equal(t, len(model), len(got))
		for i := range model {
			require.Equal(t, 0, cmpEntry(model[i], got[i]), "entry %d", i)
			require.Equal(t, model[i].value, got[i].value)
		}
		for level := 1; level < MaxHeight; level++ {
			var prev entry
			for off := l.node(l.head).tower[level].Load(); off != 0; off = l.node(off).tower[level].Load() {
				n := l.node(off)
				e := entry{key: l.key(off, n), version: n.version}
				if prev.key != nil {
					require.Negative(t, cmpEntry(prev, e), "level %d out of order", level)
				}
				prev = e
			}
		}
		last := next.Load()
		for _, snap := range []uint64{1, last / 3, last / 2, last - 1, last} {
			for k := 0; k < nkeys; k++ {
				key := []byte(fmt.Sprintf("key-%d", k))
				var want *entry
				for i := range model {
					if bytes.Equal(model[i].key, key) && model[i].version <= snap {
						want = &model[i]
						break // newest first
					}
				}
				val, ver, ok := l.Get(key, snap)
				if want == nil {
					require.False(t, ok)
					continue
				}
				require.True(t, ok)
				require.Equal(t, want.version, ver, "key %s at %d", key, snap)
				require.Equal(t, want.value, val)
			}
		}
	})
}

// TestLocateAfterBatches locates the writes of a batch in key order, each
// from the previous one's splice, as a commit does, while other workers do
// the same concurrently: every entry must link exactly once and in order.
func TestLocateAfterBatches(t *testing.T) {
	indexModes(t, func(t *testing.T, withIndex bool) {
		const (
			workers = 6
			batches = 300
			perB    = 9
		)
		l := newList(t, withIndex)
		var next atomic.Uint64
		var mu sync.Mutex
		var model []entry
		var wg sync.WaitGroup
		for g := 0; g < workers; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(g), 11))
				for b := 0; b < batches; b++ {
					seen := map[string]bool{}
					var ks [][]byte
					for len(ks) < perB {
						k := []byte(fmt.Sprintf("k%03d", r.IntN(200)))
						if !seen[string(k)] {
							seen[string(k)] = true
							ks = append(ks, k)
						}
					}
					slices.SortFunc(ks, bytes.Compare)
					offs := make([]uint64, len(ks))
					sps := make([]Splice, len(ks))
					for i, k := range ks {
						off, err := l.Prepare(k, k, nil)
						if err != nil {
							t.Error(err)
							return
						}
						offs[i] = off
						var hint *Splice
						if i > 0 {
							hint = &sps[i-1]
						}
						l.LocateAfter(off, &sps[i], hint)
					}
					v := next.Add(1)
					for i, off := range offs {
						if !l.LinkAt(off, v, &sps[i]) {
							t.Errorf("%s@%d not linked", ks[i], v)
							return
						}
					}
					mu.Lock()
					for _, k := range ks {
						model = append(model, entry{key: k, version: v, value: k})
					}
					mu.Unlock()
				}
			}(g)
		}
		wg.Wait()
		require.False(t, t.Failed())
		requireListMatches(t, l, model)
	})
}

// TestUnindexedEntries: an entry linked with Splice.Unindexed is found by
// iteration and counted, but never enters the point index, so Get does not
// find it; an indexed tombstone written over it is found.
func TestUnindexedEntries(t *testing.T) {
	l := newList(t, true)
	off, err := l.Prepare([]byte("idx/1"), nil, nil)
	require.NoError(t, err)
	sp := Splice{Unindexed: true}
	l.Locate(off, &sp)
	require.True(t, l.LinkAt(off, 1, &sp))
	_, _, err = l.Insert([]byte("idx/0"), 2, []byte("v"))
	require.NoError(t, err)

	require.EqualValues(t, 2, l.Len())
	got := collect(l)
	require.Len(t, got, 2)
	require.Equal(t, "idx/1", string(got[1].key))
	_, _, ok := l.Get([]byte("idx/1"), 10)
	require.False(t, ok, "an unindexed entry is not a point-read target")
	_, ver, ok := l.Get([]byte("idx/0"), 10)
	require.True(t, ok)
	require.EqualValues(t, 2, ver)

	_, _, err = l.Insert([]byte("idx/1"), 3, []byte("tomb"))
	require.NoError(t, err)
	v, ver, ok := l.Get([]byte("idx/1"), 10)
	require.True(t, ok)
	require.EqualValues(t, 3, ver)
	require.Equal(t, "tomb", string(v))
}

// TestGetDeepHistory reads a key with many versions at every snapshot: the
// walk from the newest version gives way to a seek past maxVersionWalk.
func TestGetDeepHistory(t *testing.T) {
	indexModes(t, func(t *testing.T, withIndex bool) {
		l := newList(t, withIndex)
		for v := uint64(1); v <= 60; v += 2 { // odd versions only
			_, _, err := l.Insert([]byte("deep"), v, []byte{byte(v)})
			require.NoError(t, err)
			_, _, err = l.Insert([]byte("deeq"), v, []byte{byte(v + 1)})
			require.NoError(t, err)
		}
		_, _, ok := l.Get([]byte("deep"), 0)
		require.False(t, ok)
		for snap := uint64(1); snap <= 70; snap++ {
			want := min(snap, 59)
			if want%2 == 0 {
				want--
			}
			val, ver, ok := l.Get([]byte("deep"), snap)
			require.True(t, ok, "snapshot %d", snap)
			require.Equal(t, want, ver, "snapshot %d", snap)
			require.Equal(t, []byte{byte(want)}, val)
		}
	})
}

// TestInsertEntryKeepsUnindexed: an unindexed entry stays unindexed through
// InsertEntry, and the iterator and NodeAt report it.
func TestInsertEntryKeepsUnindexed(t *testing.T) {
	l := newList(t, true)
	off, ok, err := l.InsertEntry([]byte("idx"), 3, []byte("v"), true)
	require.NoError(t, err)
	require.True(t, ok)
	_, _, err = l.InsertEntry([]byte("pt"), 4, []byte("w"), false)
	require.NoError(t, err)
	_, _, found := l.Get([]byte("idx"), 10)
	require.False(t, found, "an unindexed entry is not in the point index")
	v, ver, found := l.Get([]byte("pt"), 10)
	require.True(t, found)
	require.Equal(t, uint64(4), ver)
	require.Equal(t, "w", string(v))
	k, val, ver, un := l.NodeAt(off)
	require.Equal(t, "idx", string(k))
	require.Equal(t, "v", string(val))
	require.Equal(t, uint64(3), ver)
	require.True(t, un)
	it := l.Iter()
	it.First()
	require.True(t, it.Unindexed())
	it.Next()
	require.False(t, it.Unindexed())
	_, ok, err = l.InsertEntry([]byte("idx"), 3, []byte("again"), true)
	require.NoError(t, err)
	require.False(t, ok, "duplicate")
}

// TestSpliceHashFilesTheEntry: the point index files an entry under the
// hash its Splice carries (the caller's xxh3.Hash of the key), and
// GetHashed looks up under the hash it is given, so a commit that hashed a
// key once is found by every reader. A splice without one is hashed here.
func TestSpliceHashFilesTheEntry(t *testing.T) {
	l := newList(t, true)
	link := func(key string, version, hash uint64) {
		off, err := l.Prepare([]byte(key), []byte(key), nil)
		require.NoError(t, err)
		sp := Splice{Hash: hash}
		l.Locate(off, &sp)
		require.True(t, l.LinkAt(off, version, &sp))
	}
	link("right", 1, xxh3.Hash([]byte("right")))
	link("unset", 2, 0)
	for _, k := range []string{"right", "unset"} {
		v, _, ok := l.Get([]byte(k), 10)
		require.True(t, ok, k)
		require.Equal(t, k, string(v))
		v, _, ok = l.GetHashed([]byte(k), xxh3.Hash([]byte(k)), 10)
		require.True(t, ok, k)
		require.Equal(t, k, string(v))
	}

	// Filed under another hash: only a lookup under that hash finds it
	// through the index, which shows the splice's hash was the one used.
	other := xxh3.Hash([]byte("something else"))
	link("moved", 3, other)
	_, _, ok := l.Get([]byte("moved"), 10)
	require.False(t, ok)
	v, ver, ok := l.GetHashed([]byte("moved"), other, 10)
	require.True(t, ok)
	require.EqualValues(t, 3, ver)
	require.Equal(t, "moved", string(v))
}

// TestConcurrentGrowFromLocate: writers that locate before linking grow
// the point index in prepare, mapping the bigger table before they take the
// shard's lock, so two of them can build one for the same shard at once.
// Every key linked must still be found, with its value, and counted once.
func TestConcurrentGrowFromLocate(t *testing.T) {
	const workers, perWorker = 4, 20000
	l := newList(t, true)
	locateAndLink(t, l, workers, perWorker)
	for g := 0; g < workers; g++ {
		for i := 0; i < perWorker; i++ {
			k := []byte(fmt.Sprintf("w%d/%08d", g, i))
			v, ver, ok := l.Get(k, math.MaxUint64)
			require.True(t, ok, "%s", k)
			require.EqualValues(t, i+1, ver)
			require.Equal(t, k, v)
		}
	}
}

// locateAndLink has each of workers goroutines prepare, locate and link
// perWorker keys "w<g>/<i>" with the key as value at version i+1, and
// checks that every one was linked.
func locateAndLink(t *testing.T, l *List, workers, perWorker int) {
	t.Helper()
	runWorkers(workers, func(g int) {
		for i := 0; i < perWorker; i++ {
			k := []byte(fmt.Sprintf("w%d/%08d", g, i))
			off, err := l.Prepare(k, k, nil)
			if err != nil {
				t.Errorf("prepare: %v", err)
				return
			}
			sp := Splice{Hash: xxh3.Hash(k)}
			l.Locate(off, &sp)
			if !l.LinkAt(off, uint64(i+1), &sp) {
				t.Errorf("link %s: duplicate", k)
				return
			}
		}
	})
	require.False(t, t.Failed())
	l.Wait() // tables built in the background are all in place
	require.EqualValues(t, workers*perWorker, l.Len())
}

// runWorkers runs fn(0..n-1) on n goroutines released together, so their
// work overlaps from the first operation, and returns when all are done.
func runWorkers(n int, fn func(g int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(g)
		}()
	}
	close(start)
	wg.Wait()
}

// Writers that reach a shard while one of them builds its next table go
// on without building one of their own: each doubling of a shard builds
// one table, and more only when the table filled up during the build.
func TestOneTablePerGrow(t *testing.T) {
	const workers, perWorker = 4, 50000
	l := newList(t, true)
	locateAndLink(t, l, workers, perWorker)
	doublings := 0
	for i := range l.index.shards {
		for n := len(l.index.shards[i].tab.Load().slots); n > indexMinSlots; n /= 2 {
			doublings++
		}
	}
	// A publish that grew a table itself (it found it three quarters full
	// while a prepare built the next, or half full before a prepare began
	// one) may waste the table that prepare builds; no other table may go
	// to waste.
	wasted := l.index.grown.Load() - int64(doublings)
	require.GreaterOrEqual(t, wasted, int64(0))
	require.LessOrEqual(t, wasted, l.index.publishGrown.Load())
	t.Logf("%d doublings, %d of them by a publish", doublings, l.index.publishGrown.Load())
}

// A shard's table from backgroundSlots up is built off the commit path: the
// prepare that finds it half full returns while the bigger table is still
// being built (here the build is held at the shard's lock, which a build
// in prepare itself would wait for too), and Wait returns once the new
// table is in place, holding every key.
func TestLargeTablesBuildInBackground(t *testing.T) {
	l := newList(t, true)
	sh := &l.index.shards[0]
	inShard0 := func(k []byte) bool { return slotHash(xxh3.Hash(k))>>(64-indexShardBits) == 0 }
	var keys [][]byte
	for i := 0; sh.count.Load() < backgroundSlots/2; i++ {
		k := []byte(fmt.Sprintf("k%08d", i))
		if !inShard0(k) {
			continue
		}
		_, _, err := l.Insert(k, 1, k)
		require.NoError(t, err)
		keys = append(keys, k)
	}
	require.Len(t, sh.tab.Load().slots, backgroundSlots)
	grown := l.index.grown.Load()

	var next []byte
	for i := 0; next == nil; i++ {
		if k := []byte(fmt.Sprintf("n%08d", i)); inShard0(k) {
			next = k
		}
	}
	sh.mu.Lock()
	returned := make(chan struct{})
	go func() {
		l.index.prepare(xxh3.Hash(next))
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(time.Minute):
		t.Fatal("prepare waited for the table it started building")
	}
	require.True(t, sh.growing.Load(), "the build is still running")
	require.Len(t, sh.tab.Load().slots, backgroundSlots, "the old table is still in use")
	sh.mu.Unlock()

	l.Wait()
	require.False(t, sh.growing.Load())
	require.Len(t, sh.tab.Load().slots, 2*backgroundSlots)
	require.Equal(t, grown+1, l.index.grown.Load())
	for _, k := range append(keys, next) {
		if bytes.Equal(k, next) {
			_, _, err := l.Insert(k, 2, k)
			require.NoError(t, err)
		}
		v, _, ok := l.Get(k, 10)
		require.True(t, ok, "%s", k)
		require.Equal(t, k, v)
	}
}
