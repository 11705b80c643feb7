package skiplist

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireListMatches checks that l holds exactly model and that every
// level is strictly ordered.
func requireListMatches(t *testing.T, l *List, model []entry) {
	t.Helper()
	slices.SortFunc(model, cmpEntry)
	got := collect(l)
	require.Equal(t, len(model), len(got))
	for i := range model {
		require.Equal(t, 0, cmpEntry(model[i], got[i]), "entry %d", i)
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
}

// TestLocateNear: writers commit batches in key order, each locating its
// writes from the fingers of its previous batch (the nearest at or below
// each key), the way a run's commits do: appends to a per-writer log (the
// finger is the previous entry), an overwritten per-writer counter (the
// finger is an older version of the same key) and random shared keys (the
// finger is far or after the key). Concurrently. The list must hold
// exactly what was linked, in order at every level, and fingers must have
// served most appends.
func TestLocateNear(t *testing.T) {
	indexModes(t, func(t *testing.T, withIndex bool) {
		const (
			workers = 4
			batches = 400
		)
		l := newList(t, withIndex)
		var next atomic.Uint64
		var near, far atomic.Int64
		var mu sync.Mutex
		var model []entry
		var wg sync.WaitGroup
		for g := 0; g < workers; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(g), 7))
				var fingers []Finger
				for b := 0; b < batches; b++ {
					ks := [][]byte{
						[]byte(fmt.Sprintf("w%d/head", g)),
						[]byte(fmt.Sprintf("w%d/log/%06d", g, b)),
						[]byte(fmt.Sprintf("w%d/time/%06d/%d", g, b, r.IntN(3))),
						[]byte(fmt.Sprintf("k%04d", r.IntN(5000))),
					}
					if r.IntN(4) == 0 {
						ks = append(ks, []byte(fmt.Sprintf("w%d/log/%06d/x", g, b)))
					}
					slices.SortFunc(ks, bytes.Compare)
					ks = slices.CompactFunc(ks, func(a, b []byte) bool { return bytes.Equal(a, b) })
					offs := make([]uint64, len(ks))
					sps := make([]Splice, len(ks))
					j := 0
					for i, k := range ks {
						off, err := l.Prepare(k, k, nil)
						if err != nil {
							t.Error(err)
							return
						}
						offs[i] = off
						for j+1 < len(fingers) && bytes.Compare(l.FingerKey(&fingers[j+1]), k) <= 0 {
							j++
						}
						if len(fingers) > 0 && l.LocateNear(off, &sps[i], &fingers[j]) {
							if bytes.Contains(k, []byte("/log/")) {
								near.Add(1)
							}
							continue
						}
						if bytes.Contains(k, []byte("/log/")) {
							far.Add(1)
						}
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
					fingers = fingers[:0]
					for i, off := range offs {
						fingers = append(fingers, l.FingerAt(off, &sps[i]))
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
		t.Logf("log appends located from a finger: %d, from the head: %d", near.Load(), far.Load())
		require.Greater(t, near.Load(), 3*far.Load(), "fingers serve most appends")
		if withIndex {
			for _, e := range model {
				v, _, ok := l.Get(e.key, ^uint64(0))
				require.True(t, ok)
				require.Equal(t, e.key, v)
			}
		}
	})
}

// TestLocateNearRefuses: a finger whose key sorts after the node's, one
// lacking the node's levels, and one too far below are refused, leaving
// the caller to locate from the head.
func TestLocateNearRefuses(t *testing.T) {
	l := newList(t, false)
	var fingers []Finger
	for i := 0; i < 2000; i++ {
		k := []byte(fmt.Sprintf("k%05d", i))
		off, err := l.Prepare(k, nil, nil)
		require.NoError(t, err)
		var sp Splice
		l.Locate(off, &sp)
		require.True(t, l.LinkAt(off, 1, &sp))
		fingers = append(fingers, l.FingerAt(off, &sp))
	}
	prepare := func(k string, height int) uint64 {
		for {
			off, err := l.Prepare([]byte(k), nil, nil)
			require.NoError(t, err)
			if int(l.node(off).height) == height {
				return off
			}
		}
	}
	var sp Splice
	require.False(t, l.LocateNear(prepare("k00999x", 1), &sp, &fingers[1500]), "finger after the key")
	require.False(t, l.LocateNear(prepare("k01999x", 1), &sp, &fingers[0]), "finger far below the key")
	short := fingers[1000]
	short.levels = 1
	require.False(t, l.LocateNear(prepare("k01000x", 2), &sp, &short), "finger without the node's levels")

	off := prepare("k01000x", 1)
	require.True(t, l.LocateNear(off, &sp, &fingers[1000]), "the entry just before")
	require.True(t, l.LinkAt(off, 1, &sp))
	off = prepare("k01000", 1)
	require.True(t, l.LocateNear(off, &sp, &fingers[1000]), "an older version of the same key")
	require.True(t, l.LinkAt(off, 2, &sp))
	it := l.Iter()
	it.SeekGE([]byte("k01000"), ^uint64(0))
	require.Equal(t, uint64(2), it.Version(), "the new version sorts first")
	it.Next()
	require.Equal(t, uint64(1), it.Version())
	it.Next()
	require.Equal(t, "k01000x", string(it.Key()))
}

// TestLinkBatch: batches of new keys, each batch's keys all in one gap of
// the list (so all are located at the same pair) or spread over it, are
// linked with LinkBatch by concurrent writers; the list holds exactly what
// was linked, in order at every level. A batch with a key already present
// at its version reports false and still links the others.
func TestLinkBatch(t *testing.T) {
	indexModes(t, func(t *testing.T, withIndex bool) {
		l := newList(t, withIndex)
		var next atomic.Uint64
		var mu sync.Mutex
		var model []entry
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(g), 3))
				for b := 0; b < 40; b++ {
					var ks [][]byte
					for j := 0; j < 1+r.IntN(300); j++ {
						if b%2 == 0 {
							ks = append(ks, []byte(fmt.Sprintf("gap/%d/%03d/%04d", g, b, j)))
						} else {
							ks = append(ks, []byte(fmt.Sprintf("gap/%d/%04d", r.IntN(4), r.IntN(10000))))
						}
					}
					slices.SortFunc(ks, bytes.Compare)
					ks = slices.CompactFunc(ks, func(a, b []byte) bool { return bytes.Equal(a, b) })
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
					if !l.LinkBatch(offs, v, sps) {
						t.Errorf("batch %d of %d not linked", b, g)
						return
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

		// A duplicate (key, version) in a batch: reported, the rest linked.
		offs := make([]uint64, 3)
		sps := make([]Splice, 3)
		ks := [][]byte{[]byte("dup/a"), model[0].key, []byte("zz/dup")}
		slices.SortFunc(ks, bytes.Compare)
		for i, k := range ks {
			off, err := l.Prepare(k, k, nil)
			require.NoError(t, err)
			offs[i] = off
			l.Locate(off, &sps[i])
		}
		require.False(t, l.LinkBatch(offs, model[0].version, sps))
		for _, k := range ks {
			model = append(model, entry{key: k, version: model[0].version, value: k})
		}
		model = slices.CompactFunc(sortedCopy(model), func(a, b entry) bool { return cmpEntry(a, b) == 0 })
		requireListMatches(t, l, model)
	})
}
