package skiplist

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPrepareTwoPartValue: a node's value is the concatenation of the two
// parts Prepare was given (the engine passes a header and the user's
// value), with nothing lost or left over at either end.
func TestPrepareTwoPartValue(t *testing.T) {
	indexModes(t, func(t *testing.T, withIndex bool) {
		l := newList(t, withIndex)
		for i, parts := range [][2]string{{"head", "tail"}, {"", "only v2"}, {"only v1", ""}, {"x", ""}, {"", ""}} {
			k := []byte(fmt.Sprint("k", i))
			off, err := l.Prepare(k, []byte(parts[0]), []byte(parts[1]))
			require.NoError(t, err)
			require.True(t, l.Link(off, 1))
			v, _, ok := l.Get(k, 1)
			require.True(t, ok)
			require.Equal(t, parts[0]+parts[1], string(v))
		}
		require.Equal(t, []string{"k0", "k1", "k2", "k3", "k4"}, keysOf(collect(l)))
	})
}

func keysOf(es []entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = string(e.key)
	}
	return out
}

// TestGetStopsAtItsKey: an indexed Get walks from the key's newest version
// to older ones; when every version is newer than the snapshot, the walk
// reaches the next key's entry and must not take it for the key's.
func TestGetStopsAtItsKey(t *testing.T) {
	indexModes(t, func(t *testing.T, withIndex bool) {
		l := newList(t, withIndex)
		for _, e := range []entry{{[]byte("a"), 5, []byte("a5")}, {[]byte("a"), 6, []byte("a6")}, {[]byte("b"), 1, []byte("b1")}} {
			_, _, err := l.Insert(e.key, e.version, e.value)
			require.NoError(t, err)
		}
		_, _, ok := l.Get([]byte("a"), 3)
		require.False(t, ok, "every version of a is newer than the snapshot")
		v, _, ok := l.Get([]byte("a"), 5)
		require.True(t, ok)
		require.Equal(t, "a5", string(v))
		v, _, ok = l.Get([]byte("b"), 3)
		require.True(t, ok)
		require.Equal(t, "b1", string(v))
	})
}

// TestMaxHeightList: a list whose every node is MaxHeight tall (its height
// source fixed) works at the top of every tower: inserts, located and
// batched links, point reads, seeks both ways and iteration.
func TestMaxHeightList(t *testing.T) {
	indexModes(t, func(t *testing.T, withIndex bool) {
		l := newList(t, withIndex)
		l.bits = func() uint64 { return 0 }
		var model []entry
		add := func(k string, v uint64) {
			model = append(model, entry{key: []byte(k), version: v, value: []byte(k)})
		}
		for i := 0; i < 40; i += 2 {
			k := fmt.Sprintf("k%03d", i)
			_, ok, err := l.Insert([]byte(k), 1, []byte(k))
			require.NoError(t, err)
			require.True(t, ok)
			add(k, 1)
		}
		require.Equal(t, uint32(MaxHeight), l.height.Load())
		// Located one by one with a hint, then a batch in one gap.
		var prev *Splice
		for i := 1; i < 40; i += 4 {
			k := fmt.Sprintf("k%03d", i)
			off, err := l.Prepare([]byte(k), []byte(k), nil)
			require.NoError(t, err)
			var sp Splice
			l.LocateAfter(off, &sp, prev)
			require.Equal(t, MaxHeight, sp.height)
			require.True(t, l.LinkAt(off, 2, &sp))
			prev = &sp
			add(k, 2)
		}
		var offs []uint64
		sps := make([]Splice, 5)
		for i := range sps {
			k := fmt.Sprintf("k040%d", i)
			off, err := l.Prepare([]byte(k), []byte(k), nil)
			require.NoError(t, err)
			l.Locate(off, &sps[i])
			offs = append(offs, off)
			add(k, 3)
		}
		require.True(t, l.LinkBatch(offs, 3, sps))
		requireListMatches(t, l, model)
		slices.SortFunc(model, cmpEntry)
		require.Equal(t, model, collect(l))
		rev := collectReverse(l)
		slices.Reverse(rev)
		require.Equal(t, model, rev)

		for _, e := range model {
			v, ver, ok := l.Get(e.key, 10)
			require.True(t, ok, "%s", e.key)
			require.Equal(t, e.version, ver)
			require.Equal(t, e.value, v)
		}
		it := l.Iter()
		it.SeekGE([]byte("k005"), ^uint64(0))
		require.Equal(t, "k005", string(it.Key()))
		it.SeekLT([]byte("k005"), ^uint64(0))
		require.Equal(t, "k004", string(it.Key()))
		it.Last()
		require.Equal(t, "k0404", string(it.Key()))
	})
}

// heightBits returns bits from which randomHeight draws exactly h.
func heightBits(h int) uint64 {
	if h == 1 {
		return 1
	}
	return 1 << (1 + 2*(h-2))
}

// insertAt links key at version 1 in a node exactly h tall, located from
// the head, and returns the finger of the new entry.
func insertAt(t *testing.T, l *List, key string, h int) Finger {
	t.Helper()
	l.bits = func() uint64 { return heightBits(h) }
	defer func() { l.bits = nil }()
	off, err := l.Prepare([]byte(key), nil, nil)
	require.NoError(t, err)
	require.Equal(t, uint32(h), l.node(off).height)
	var sp Splice
	l.Locate(off, &sp)
	require.True(t, l.LinkAt(off, 1, &sp))
	return l.FingerAt(off, &sp)
}

// prepareAt prepares key in a node exactly h tall.
func prepareAt(t *testing.T, l *List, key string, h int) uint64 {
	t.Helper()
	l.bits = func() uint64 { return heightBits(h) }
	defer func() { l.bits = nil }()
	off, err := l.Prepare([]byte(key), nil, nil)
	require.NoError(t, err)
	return off
}

// TestLocateNearClimbs: LocateNear climbs from the node's top level while
// the finger's successor still sorts before the node, at most maxClimb
// levels, and no higher than the finger remembers; within those bounds it
// locates the node where Locate would.
func TestLocateNearClimbs(t *testing.T) {
	// p | f (1 tall) | a | the node | b, p and b as tall as the finger's
	// levels: from f the node's place is found on the first level at or
	// above its own top that a does not reach.
	for _, h := range []int{1, 7} {
		for aH := 1; aH <= fingerLevels; aH++ {
			for _, levels := range []int{min(aH+1, fingerLevels), fingerLevels} {
				t.Run(fmt.Sprintf("node %d, a %d, finger of %d levels", h, aH, levels), func(t *testing.T) {
					l := newList(t, false)
					insertAt(t, l, "1p", levels)
					f := insertAt(t, l, "2f", 1)
					insertAt(t, l, "3a", aH)
					insertAt(t, l, "5b", levels)
					require.Equal(t, uint8(levels), f.levels)
					off := prepareAt(t, l, "4k", h)
					var sp Splice
					ok := l.LocateNear(off, &sp, &f)
					place := max(h-1, aH)
					want := h <= levels && place-(h-1) <= maxClimb && place < levels
					require.Equal(t, want, ok)
					if !ok {
						return
					}
					var ref Splice
					l.Locate(off, &ref)
					require.Equal(t, ref.prev[:h], sp.prev[:h])
					require.Equal(t, ref.next[:h], sp.next[:h])
					require.True(t, l.LinkAt(off, 1, &sp))
					require.Equal(t, []string{"1p", "2f", "3a", "4k", "5b"}, keysOf(collect(l)))
					requireListMatches(t, l, collect(l))
				})
			}
		}
	}
}

// TestLocateNearWithExactLevels: a finger that remembers exactly as many
// levels as the node has serves it.
func TestLocateNearWithExactLevels(t *testing.T) {
	l := newList(t, false)
	insertAt(t, l, "a", 2)
	f := insertAt(t, l, "b", 2)
	require.Equal(t, uint8(2), f.levels)
	var sp Splice
	require.True(t, l.LocateNear(prepareAt(t, l, "c", 2), &sp, &f))
}

// TestPrepareGrowsTheRightShard: a writer's prepare grows the shard its key
// will be published to, so with one writer every table a shard needs is
// built there and no publish ever grows one under the shard's lock.
func TestPrepareGrowsTheRightShard(t *testing.T) {
	l := newList(t, true)
	locateAndLink(t, l, 1, 30000)
	require.Positive(t, l.index.grown.Load())
	require.Zero(t, l.index.publishGrown.Load())
}

// TestFingerOfATallerNode: an entry taller than the list when it was
// located is linked by LinkAt's own search, and its finger is found
// again, so the next entry after it is located from it; the finger knows
// whom the entry follows.
func TestFingerOfATallerNode(t *testing.T) {
	l := newList(t, false)
	a := insertAt(t, l, "a", 1)
	off := prepareAt(t, l, "b", 6)
	var sp Splice
	l.Locate(off, &sp)
	require.Zero(t, sp.height, "taller than the list: not located")
	require.True(t, l.LinkAt(off, 1, &sp))
	f := l.FingerAt(off, &sp)
	require.Equal(t, uint8(6), f.levels)
	require.True(t, f.Follows(&a))
	require.False(t, a.Follows(&f))

	next := prepareAt(t, l, "c", 6)
	require.True(t, l.LocateNear(next, &sp, &f))
	require.True(t, l.LinkAt(next, 1, &sp))
	require.Equal(t, []string{"a", "b", "c"}, keysOf(collect(l)))
	requireListMatches(t, l, collect(l))
}
