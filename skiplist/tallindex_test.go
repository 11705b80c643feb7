package skiplist

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// tallKeys makes keys shaped like in-mem's and a few that are not: most
// in one long scope, some in short scopes, keys shorter than any scope,
// keys that share more than a word past their scope (equal words), the
// empty key and keys of 0xff.
func tallKeys(r *rand.Rand, n int) [][]byte {
	long := []byte("scope:0123456789abcdef/kv/")
	var out [][]byte
	for i := 0; i < n; i++ {
		var k []byte
		switch r.IntN(10) {
		case 0:
			k = fmt.Appendf(nil, "s%d/%x", r.IntN(5), r.Uint32())
		case 1:
			k = []byte{byte('a' + r.IntN(3))}
		case 2:
			// Equal for 12 bytes past the scope, then random.
			k = append(append([]byte(nil), long...), "same-word-xx"...)
			k = fmt.Appendf(k, "%x", r.Uint32())
		case 3:
			k = bytes.Repeat([]byte{0xff}, 1+r.IntN(40))
		case 4:
			k = []byte{}
		default:
			k = append(append([]byte(nil), long...), fmt.Appendf(nil, "%016x", r.Uint64())...)
		}
		out = append(out, k)
	}
	return out
}

// tallList inserts keys, each at one to three versions.
func tallList(t *testing.T, r *rand.Rand, keys [][]byte) *List {
	l := newList(t, true)
	for i, k := range keys {
		for v := range 1 + r.IntN(3) {
			_, _, err := l.Insert(k, uint64(i*4+v+1), nil)
			require.NoError(t, err)
		}
	}
	l.Wait()
	// A build computes its words at the last build's d, and again if its
	// own differs: start from a last build with the wrong one.
	l.tallIdx.Store(&tallIndex{d: 1})
	ti := l.buildTall(l.Len())
	l.tallIdx.Store(ti)
	again := l.buildTall(l.Len())
	require.Equal(t, ti.d, again.d)
	require.Equal(t, ti.ents, again.ents, "a build at the last one's d computes the same words")
	require.Equal(t, ti.groups, again.groups)
	return l
}

// TestTallIndexStartIsTheLastTallNodeBelow: for any key, start returns the
// last node of height tallHeight or more whose key is below it (0 when
// there is none), exactly: a start at or past the key would misplace an
// insert; one further back only walks longer, which this test catches
// too.
func TestTallIndexStartIsTheLastTallNodeBelow(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	l := tallList(t, r, tallKeys(r, 6000))
	ti := l.tallIdx.Load()
	require.NotEmpty(t, ti.ents)
	require.Greater(t, len(ti.groups), 1, "the keys fall into several groups")

	// Every tall node, in list order, from the list itself.
	var tall []uint64
	for x := l.node(l.head).tower[tallHeight-1].Load(); x != 0; x = l.node(x).tower[tallHeight-1].Load() {
		tall = append(tall, x)
	}
	var offs []uint64
	for _, e := range ti.ents {
		offs = append(offs, e.node())
		require.Equal(t, int(l.node(e.node()).height), e.height())
	}
	require.Equal(t, tall, offs)

	probes := tallKeys(r, 4000)
	for _, off := range tall[:200] {
		k := l.key(off, l.node(off))
		probes = append(probes, k, append(append([]byte(nil), k...), 0), k[:len(k)/2])
	}
	for _, key := range probes {
		want := uint64(0)
		for _, off := range tall {
			if bytes.Compare(l.key(off, l.node(off)), key) >= 0 {
				break
			}
			want = off
		}
		pos, after := ti.start(l, key)
		got := uint64(0)
		if pos >= 0 {
			got = ti.ents[pos].node()
		}
		require.Equal(t, want, got, "start for %q (d=%d)", key, ti.d)
		if got != 0 {
			require.GreaterOrEqual(t, int(l.node(got).height), tallHeight)
		}
		// after, when named, is the tall node right after got, and above
		// key: the two are then key's place at that level.
		if got != 0 && after != 0 {
			i := slices.Index(tall, got)
			require.Less(t, i+1, len(tall))
			require.Equal(t, tall[i+1], after, "after for %q", key)
			require.Positive(t, bytes.Compare(l.key(after, l.node(after)), key))
		}
	}
}

// TestTallIndexPreds: the node the index names for each level up to a
// tall node's is that level's last node below the key (the head if none),
// read from the index alone; past tallScan entries back it gives up.
func TestTallIndexPreds(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	l := tallList(t, r, tallKeys(r, 20000))
	ti := l.tallIdx.Load()
	const top = tallHeight + 1
	// below returns the last node of level lv whose key is below key.
	below := func(key []byte, lv int) uint64 {
		p := l.head
		for x := l.node(l.head).tower[lv].Load(); x != 0; x = l.node(x).tower[lv].Load() {
			if bytes.Compare(l.key(x, l.node(x)), key) >= 0 {
				break
			}
			p = x
		}
		return p
	}
	found, gaveUp := 0, 0
	for _, key := range tallKeys(r, 1500) {
		pos, _ := ti.start(l, key)
		if pos < 0 {
			continue
		}
		var preds [MaxHeight]uint64
		if !ti.preds(l, pos, top, &preds) {
			gaveUp++
			continue
		}
		found++
		for lv := tallHeight - 1; lv <= top; lv++ {
			require.Equal(t, below(key, lv), preds[lv], "level %d for %q", lv, key)
		}
	}
	require.Greater(t, found, 1000)
	require.Positive(t, gaveUp, "a node of level 3 more than tallScan entries back is not looked for")
}

// TestTallIndexD: with most keys in one scope, the word starts about where
// that scope ends, the groups stay few, and words tell keys apart.
func TestTallIndexD(t *testing.T) {
	l := newList(t, true)
	r := rand.New(rand.NewPCG(1, 2))
	scope := []byte("run:0123456789abcdef/")
	for i := range 20000 {
		k := append(append([]byte(nil), scope...), fmt.Appendf(nil, "%016x", r.Uint64())...)
		if i%1000 == 0 {
			k = fmt.Appendf(nil, "sys/%d", i) // a few keys of another scope
		}
		_, _, err := l.Insert(k, 1, nil)
		require.NoError(t, err)
	}
	ti := l.buildTall(l.Len())
	require.GreaterOrEqual(t, ti.d, len(scope)-2, "the word holds the part of the key after the scope")
	require.LessOrEqual(t, ti.d, len(scope)+2)
	require.LessOrEqual(t, len(ti.groups), max(len(ti.ents)/256, 16))
	ties := 0
	for _, g := range ti.groups {
		for i := g.lo + 1; i < g.hi; i++ {
			if ti.ents[i].word == ti.ents[i-1].word {
				ties++
			}
		}
	}
	require.Less(t, ties, len(ti.ents)/100, "words tell the sampled keys apart")

	// Where words differ, a start names the node after it too.
	afters := 0
	for range 1000 {
		k := append(append([]byte(nil), scope...), fmt.Appendf(nil, "%016x", r.Uint64())...)
		if pos, after := ti.start(l, k); pos >= 0 && after != 0 {
			afters++
		}
	}
	require.Greater(t, afters, 990)

	// A key below every group's prefix has no start.
	pos, after := ti.start(l, []byte("a"))
	require.Equal(t, -1, pos)
	require.Zero(t, after)
}

// TestTallLocateFindsTheEqualEntry: a node located from the tall index at
// the version of an entry already linked with its key is reported as a
// duplicate, and the list is left as it was, at every height.
func TestTallLocateFindsTheEqualEntry(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	l := newList(t, true)
	var keys [][]byte
	for i := range 5000 {
		k := fmt.Appendf(nil, "run:0123456789abcdef/%016x", r.Uint64())
		keys = append(keys, k)
		_, _, err := l.Insert(k, uint64(i+1), nil)
		require.NoError(t, err)
	}
	l.tallIdx.Store(l.buildTall(l.Len()))
	n := l.Len()
	for h := 1; h <= tallHeight+1; h++ {
		for i, k := range keys[:300] {
			l.bits = func() uint64 { return heightBits(h) }
			off, err := l.Prepare(k, nil, nil)
			l.bits = nil
			require.NoError(t, err)
			var sp Splice
			require.False(t, l.LinkFrom(off, uint64(i+1), &sp, nil), "key %d at height %d", i, h)
		}
	}
	require.Equal(t, n, l.Len())
	requireSorted(t, l)
}

// TestLocateFromTheTallIndex: a located place is the same whether the
// descent started from the tall index or from the head.
func TestLocateFromTheTallIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	l := tallList(t, r, tallKeys(r, 20000))
	ti := l.tallIdx.Load()
	require.NotNil(t, ti)
	eligible, fromIdx := 0, 0
	for i, k := range tallKeys(r, 3000) {
		off, err := l.Prepare(k, nil, nil)
		require.NoError(t, err)
		var withIdx, full Splice
		l.LocateAfter(off, &withIdx, nil)
		l.tallIdx.Store(nil)
		l.LocateAfter(off, &full, nil)
		l.tallIdx.Store(ti)
		h := int(l.node(off).height)
		require.Equal(t, full.height, withIdx.height)
		require.Equal(t, full.prev[:h], withIdx.prev[:h], "key %q", k)
		require.Equal(t, full.next[:h], withIdx.next[:h], "key %q", k)
		if pos, _ := ti.start(l, k); pos >= 0 && h <= tallHeight+1 {
			eligible++
			if withIdx.levels == max(h, tallHeight) {
				fromIdx++
			}
		}
		require.True(t, l.LinkAt(off, uint64(1<<40+i), &withIdx))
	}
	// The probes linked pile up where the keys repeat ("a", 0xff...): the
	// index, built before them, is stale there, and a walk past tallWalk
	// nodes falls back to the head. Elsewhere nodes up to tallHeight+1
	// start from the index.
	require.Greater(t, eligible, 2000)
	require.Greater(t, fromIdx, eligible*9/10, "nodes up to tallHeight+1 are located from the index")
	requireSorted(t, l)
}

// putLocated puts key into l as a commit does with no finger: located
// from the head (or the tall index), then linked.
func putLocated(t *testing.T, l *List, key []byte, v uint64, hint *Splice) *Splice {
	off, err := l.Prepare(key, nil, nil)
	require.NoError(t, err)
	sp := new(Splice)
	l.LocateAfter(off, sp, hint)
	require.True(t, l.LinkAt(off, v, sp))
	return sp
}

// TestTallIndexFollowsTheList: descents from the head build the index once
// the list holds tallMin entries, and again each time it grew by a
// quarter, so after the builds finish it is at most a quarter (and a
// check's worth of descents) behind.
func TestTallIndexFollowsTheList(t *testing.T) {
	l := newList(t, true)
	r := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < 50000; i++ {
		putLocated(t, l, fmt.Appendf(nil, "k%016x", r.Uint64()), 1, nil)
		if i == tallCheckEvery/4 {
			// A check comes after about tallCheckEvery descents (counted
			// one in tallSample): 16 counted ones in 256 is far outside.
			l.Wait()
			require.Nil(t, l.tallIdx.Load(), "no build before the first check")
		}
	}
	l.Wait()
	ti := l.tallIdx.Load()
	require.NotNil(t, ti)
	require.GreaterOrEqual(t, ti.entries*5/4+tallCheckEvery, l.Len())
	require.InDelta(t, 0.5, float64(len(ti.ents))/float64(ti.entries), 0.05, "about one node in two is tall")
}

// TestNoTallIndexForHintedWrites: a writer whose every place is found from
// a hint (ascending keys, each located from the one before) never
// descends from the head, so the list builds no index for it.
func TestNoTallIndexForHintedWrites(t *testing.T) {
	l := newList(t, true)
	var hint *Splice
	for i := 0; i < 20000; i++ {
		hint = putLocated(t, l, fmt.Appendf(nil, "k%08d", i), 1, hint)
	}
	l.Wait()
	require.Nil(t, l.tallIdx.Load())
}

// requireSorted checks the list's entries are in order.
func requireSorted(t *testing.T, l *List) {
	t.Helper()
	es := collect(l)
	for i := 1; i < len(es); i++ {
		require.Negative(t, cmpEntry(es[i-1], es[i]), "entries %d and %d", i-1, i)
	}
}
