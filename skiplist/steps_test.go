//go:build invariants

package skiplist

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The hints a search starts from (a Locate's splice, a batch's floors,
// Get's walk over newer versions) change how far it walks, never what it
// finds; these tests bound the walk, counting steps (steps_on.go).

// seededList is a list whose node heights come from a seeded source, so
// that its shape, and every walk's length, is the same in every run.
func seededList(t *testing.T, withIndex bool) *List {
	l := newList(t, withIndex)
	r := rand.New(rand.NewPCG(3, 3))
	l.bits = r.Uint64
	return l
}

func stepsOf(fn func()) int64 {
	before := steps.Load()
	fn()
	return steps.Load() - before
}

// TestLinkAtAfterLocateWalksNothing: with no insert between them, LinkAt
// swings pointers where Locate found the place and searches nothing, for
// nodes as tall as the list too.
func TestLinkAtAfterLocateWalksNothing(t *testing.T) {
	l := newList(t, true)
	l.bits = func() uint64 { return ^uint64(0) } // every node 1 tall, as the list
	for i := range 200 {
		k := []byte(fmt.Sprintf("k%04d", (i*7919)%1000))
		off, err := l.Prepare(k, nil, nil)
		require.NoError(t, err)
		var sp Splice
		l.Locate(off, &sp)
		require.Zero(t, stepsOf(func() { require.True(t, l.LinkAt(off, 1, &sp)) }), "link %s", k)
	}
}

// TestLocateAfterWalksFromTheHint: keys located in order, each from the
// previous one's splice, walk a few steps each; from the head, several
// times as many.
func TestLocateAfterWalksFromTheHint(t *testing.T) {
	l := seededList(t, false)
	for i := 0; i < 20000; i += 2 {
		_, _, err := l.Insert([]byte(fmt.Sprintf("k%06d", i)), 1, nil)
		require.NoError(t, err)
	}
	// Hints alone: without the tall index, which shortens both walks.
	l.Wait()
	l.tallIdx.Store(nil)
	var offs []uint64
	for i := 8001; i < 9000; i += 2 {
		off, err := l.Prepare([]byte(fmt.Sprintf("k%06d", i)), nil, nil)
		require.NoError(t, err)
		offs = append(offs, off)
	}
	var hinted, alone int64
	var prev *Splice
	for _, off := range offs {
		var sp, ref Splice
		hinted += stepsOf(func() { l.LocateAfter(off, &sp, prev) })
		alone += stepsOf(func() { l.Locate(off, &ref) })
		require.Equal(t, ref.prev, sp.prev)
		require.Equal(t, ref.next, sp.next)
		prev = &sp
	}
	t.Logf("%d keys: %d steps from the hints, %d from the head", len(offs), hinted, alone)
	require.Less(t, hinted, alone/2)
}

// TestLinkBatchWalksLinearly: a batch of keys all located in one gap links
// in steps linear in its size: each node's walk after a failed swing
// starts from the batch's last linked node, not from the located
// predecessor over everything linked since.
func TestLinkBatchWalksLinearly(t *testing.T) {
	l := seededList(t, true)
	for _, k := range []string{"a", "z"} {
		_, _, err := l.Insert([]byte(k), 1, nil)
		require.NoError(t, err)
	}
	const n = 2000
	offs := make([]uint64, n)
	sps := make([]Splice, n)
	for i := range n {
		off, err := l.Prepare([]byte(fmt.Sprintf("m%05d", i)), nil, nil)
		require.NoError(t, err)
		l.Locate(off, &sps[i])
		offs[i] = off
	}
	walked := stepsOf(func() { require.True(t, l.LinkBatch(offs, 2, sps)) })
	t.Logf("%d steps to link %d keys into one gap", walked, n)
	require.Less(t, walked, int64(10*n))
	require.EqualValues(t, n+2, l.Len())
}

// TestGetWalksFewVersions: an indexed Get steps from the newest version to
// older ones only a few times before it seeks.
func TestGetWalksFewVersions(t *testing.T) {
	l := seededList(t, true)
	for v := uint64(1); v <= 1000; v++ {
		_, _, err := l.Insert([]byte("key"), v, nil)
		require.NoError(t, err)
	}
	require.Equal(t, int64(2), stepsOf(func() {
		_, ver, ok := l.Get([]byte("key"), 999)
		require.True(t, ok)
		require.Equal(t, uint64(999), ver)
	}), "the newest version, then the one wanted")
	old := stepsOf(func() {
		_, ver, ok := l.Get([]byte("key"), 10)
		require.True(t, ok)
		require.Equal(t, uint64(10), ver)
	})
	t.Logf("%d steps to version 10 of 1000", old)
	require.Less(t, old, int64(maxVersionWalk+1+100), "a seek after maxVersionWalk steps, not a walk over every version")
}

// TestLinkFromSortedWalksLittle: entries linked in the list's order, each
// from the previous one's splice, walk a few steps each, where a link
// from the head descends the whole list.
func TestLinkFromSortedWalksLittle(t *testing.T) {
	const n = 4000
	l := seededList(t, true)
	var sps [2]Splice
	walked := stepsOf(func() {
		for i := range n {
			off, err := l.Prepare([]byte(fmt.Sprintf("k%06d", i)), nil, nil)
			require.NoError(t, err)
			var hint *Splice
			if i > 0 {
				hint = &sps[1]
			}
			require.True(t, l.LinkFrom(off, 1, &sps[0], hint))
			sps[0], sps[1] = sps[1], sps[0]
		}
	})
	t.Logf("%d steps to link %d sorted keys", walked, n)
	require.Less(t, walked, int64(4*n))

	descent := stepsOf(func() {
		for i := range n {
			off, err := l.Prepare([]byte(fmt.Sprintf("m%06d", i)), nil, nil)
			require.NoError(t, err)
			require.True(t, l.Link(off, 1))
		}
	})
	t.Logf("%d steps to link them from the head", descent)
	require.Less(t, 2*walked, descent)
}

// TestTallIndexShortensTheDescent: a random key located from the tall
// index walks a few steps, against several times as many from the head.
func TestTallIndexShortensTheDescent(t *testing.T) {
	l := seededList(t, true)
	r := rand.New(rand.NewPCG(4, 4))
	key := func() []byte { return fmt.Appendf(nil, "run:0123456789abcdef/%016x", r.Uint64()) }
	for range 100000 {
		putLocated(t, l, key(), 1, nil)
	}
	l.Wait()
	ti := l.tallIdx.Load()
	require.NotNil(t, ti)
	var indexed, full int64
	const probes = 2000
	for range probes {
		off, err := l.Prepare(key(), nil, nil)
		require.NoError(t, err)
		var sp Splice
		indexed += stepsOf(func() { l.LocateAfter(off, &sp, nil) })
		l.tallIdx.Store(nil)
		full += stepsOf(func() { l.LocateAfter(off, &sp, nil) })
		l.tallIdx.Store(ti)
	}
	t.Logf("%d random keys: %.1f steps each from the tall index, %.1f from the head", probes, float64(indexed)/probes, float64(full)/probes)
	require.Less(t, indexed, full/3)
}

// TestStaleTallIndexWalkIsBounded: keys appended after the last build all
// sort after the last node the index names in their region; a descent
// gives up on the index after tallWalk steps along its level and goes from
// the head, instead of crossing every node appended since.
func TestStaleTallIndexWalkIsBounded(t *testing.T) {
	l := seededList(t, true)
	r := rand.New(rand.NewPCG(8, 8))
	for range 20000 {
		putLocated(t, l, fmt.Appendf(nil, "a/%016x", r.Uint64()), 1, nil)
	}
	l.Wait()
	ti := l.buildTall(l.Len())
	l.tallIdx.Store(ti)
	l.tallBuilding.Store(true) // no build from here: the index goes stale
	defer l.tallBuilding.Store(false)
	var most int64
	for i := range 20000 {
		n := stepsOf(func() { putLocated(t, l, fmt.Appendf(nil, "b/%08d", i), 1, nil) })
		most = max(most, n)
	}
	require.Same(t, ti, l.tallIdx.Load())
	t.Logf("appending 20000 keys past a stale index: at most %d steps a put", most)
	require.Less(t, most, int64(tallWalk+80), "a put walks the index's level at most tallWalk steps, then descends from the head")
}
