package skiplist

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// linkFromOrder links (key, version) pairs in the order given with
// LinkFrom, each taking the previous one's splice as its hint when the
// previous sorts before it, as the recovery loader does.
func linkFromOrder(t *testing.T, l *List, es []entry) {
	t.Helper()
	var sps [2]Splice
	var prev entry
	have := false
	for _, e := range es {
		off, err := l.Prepare(e.key, e.value, nil)
		require.NoError(t, err)
		var hint *Splice
		if have && cmpEntry(prev, e) < 0 {
			hint = &sps[1]
		}
		require.True(t, l.LinkFrom(off, e.version, &sps[0], hint), "%q@%d", e.key, e.version)
		sps[0], sps[1] = sps[1], sps[0]
		prev, have = e, true
	}
}

// TestLinkFromPlacesEveryVersion: LinkFrom puts each entry at its place
// for its version whatever order the entries come in: sorted (a
// snapshot's: keys ascending, each key's versions newest first), in
// batches of sorted keys at rising versions (a WAL's), and shuffled. The
// list then iterates in order, and Get finds the newest version at or
// below a snapshot. A duplicate (key, version) is refused.
func TestLinkFromPlacesEveryVersion(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var es []entry
	for k := range 300 {
		key := []byte(fmt.Sprintf("key%05d", r.IntN(100000)*10+k%10))
		for v := range 1 + r.IntN(3) {
			es = append(es, entry{key: key, version: uint64(1 + k*4 + v), value: []byte(fmt.Sprint(k, v))})
		}
	}
	sorted := slices.Clone(es)
	slices.SortFunc(sorted, cmpEntry)
	byVersion := slices.Clone(es)
	slices.SortFunc(byVersion, func(a, b entry) int { return -cmpEntry(entry{version: a.version}, entry{version: b.version}) })
	// WAL-like: batches of a few entries at one version each, in key order.
	var wal []entry
	for i := 0; i < len(byVersion); i += 5 {
		b := slices.Clone(byVersion[i:min(i+5, len(byVersion))])
		slices.SortFunc(b, func(a, b entry) int { return bytes.Compare(a.key, b.key) })
		wal = append(wal, b...)
	}
	shuffled := slices.Clone(es)
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })

	for name, order := range map[string][]entry{"sorted": sorted, "wal": wal, "shuffled": shuffled} {
		t.Run(name, func(t *testing.T) {
			indexModes(t, func(t *testing.T, withIndex bool) {
				l := newList(t, withIndex)
				linkFromOrder(t, l, order)
				got := collect(l)
				require.Len(t, got, len(sorted))
				for i := range sorted {
					require.Equal(t, sorted[i].key, got[i].key, "entry %d", i)
					require.Equal(t, sorted[i].version, got[i].version, "entry %d", i)
				}
				for _, e := range es {
					v, ver, ok := l.Get(e.key, e.version)
					require.True(t, ok)
					require.Equal(t, e.version, ver)
					require.Equal(t, e.value, v)
				}
				// The same (key, version) again is refused.
				e := order[len(order)/2]
				off, err := l.Prepare(e.key, nil, nil)
				require.NoError(t, err)
				var sp Splice
				require.False(t, l.LinkFrom(off, e.version, &sp, nil))
			})
		})
	}
}
