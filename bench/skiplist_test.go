package bench

import (
	"runtime"
	"sync"
	"testing"

	"github.com/dgraph-io/badger/v4/skl"
	"github.com/dgraph-io/badger/v4/y"
	"github.com/stretchr/testify/require"

	"github.com/inmem-db/inmem/arena"
	"github.com/inmem-db/inmem/skiplist"
)

// Both skiplists get an arena big enough for NumKeys entries up front, so
// neither pays for growth inside the timer (badger's cannot grow at all).
const sklArenaSize = 192 << 20

// skipImpl is one skiplist under comparison. Keys are addressed by their
// index in the shared workload, so each implementation can pre-encode them
// outside the timer (badger wants key and timestamp in one slice).
type skipImpl struct {
	name string
	// newInserter returns insert(i), which adds workload entry i, and
	// reset, which replaces the list with an empty one.
	newInserter func(w *Workload) (insert func(i int), reset func())
	// newSeeker returns seek(i), which seeks to workload entry i and
	// reports whether it landed on it. The list holds the whole workload.
	newSeeker func(t testing.TB, w *Workload) (seek func(i int) bool)
}

var impls = []skipImpl{
	{
		name: "inmem",
		newInserter: func(w *Workload) (func(int), func()) {
			var l *skiplist.List
			reset := func() {
				l = nil // let the old arena go before allocating the next
				var err error
				if l, err = skiplist.New(arena.New(sklArenaSize), false); err != nil {
					panic(err)
				}
			}
			insert := func(i int) {
				if _, _, err := l.Insert(w.Keys[i], w.Versions[i], w.Value); err != nil {
					panic(err)
				}
			}
			return insert, reset
		},
		newSeeker: func(t testing.TB, w *Workload) func(int) bool {
			it := inmemSeekList(t, w).Iter()
			return func(i int) bool {
				it.SeekGE(w.Keys[i], w.Versions[i])
				return it.Valid() && it.Version() == w.Versions[i]
			}
		},
	},
	{
		name: "badger-skl",
		newInserter: func(w *Workload) (func(int), func()) {
			bkeys := badgerKeys(w)
			var l *skl.Skiplist
			reset := func() {
				l = nil
				l = skl.NewSkiplist(sklArenaSize)
			}
			insert := func(i int) {
				l.Put(bkeys[i], y.ValueStruct{Value: w.Value})
			}
			return insert, reset
		},
		newSeeker: func(t testing.TB, w *Workload) func(int) bool {
			bkeys := badgerKeys(w)
			it := badgerSeekList(w).NewIterator()
			return func(i int) bool {
				it.Seek(bkeys[i])
				return it.Valid() && y.ParseTs(it.Key()) == w.Versions[i]
			}
		},
	},
}

var (
	badgerKeysOnce sync.Once
	badgerKeysData [][]byte

	inmemSeekOnce  sync.Once
	inmemSeek      *skiplist.List
	badgerSeekOnce sync.Once
	badgerSeek     *skl.Skiplist
)

// badgerKeys returns the workload keys in badger's encoding, key followed by
// the inverted big-endian timestamp (y.KeyWithTs), built once.
func badgerKeys(w *Workload) [][]byte {
	badgerKeysOnce.Do(func() {
		badgerKeysData = make([][]byte, len(w.Keys))
		for i, k := range w.Keys {
			badgerKeysData[i] = y.KeyWithTs(k, w.Versions[i])
		}
	})
	return badgerKeysData
}

func inmemSeekList(t testing.TB, w *Workload) *skiplist.List {
	inmemSeekOnce.Do(func() {
		l, err := skiplist.New(arena.New(sklArenaSize), false)
		require.NoError(t, err)
		for i := range w.Keys {
			if _, ok, err := l.Insert(w.Keys[i], w.Versions[i], w.Value); err != nil || !ok {
				require.Failf(t, "insert", "entry %d: ok=%v err=%v", i, ok, err)
			}
		}
		inmemSeek = l
	})
	require.NotNil(t, inmemSeek)
	return inmemSeek
}

func badgerSeekList(w *Workload) *skl.Skiplist {
	badgerSeekOnce.Do(func() {
		l := skl.NewSkiplist(sklArenaSize)
		for _, k := range badgerKeys(w) {
			l.Put(k, y.ValueStruct{Value: w.Value})
		}
		badgerSeek = l
	})
	return badgerSeek
}

// BenchmarkSkiplistInsert: b.N single-goroutine inserts of random 16-byte
// keys (plus version) with 16-byte values, into a list that is replaced by
// an empty one every NumKeys inserts.
func BenchmarkSkiplistInsert(b *testing.B) {
	w := LoadWorkload()
	for _, im := range impls {
		b.Run(im.name, func(b *testing.B) {
			insert, reset := im.newInserter(w)
			b.ReportAllocs()
			runtime.GC()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j := i % NumKeys
				if j == 0 {
					b.StopTimer()
					reset()
					b.StartTimer()
				}
				insert(j)
			}
		})
	}
}

// BenchmarkSkiplistSeek: b.N seeks to random existing (key, version) pairs
// of a list holding all NumKeys entries.
func BenchmarkSkiplistSeek(b *testing.B) {
	w := LoadWorkload()
	for _, im := range impls {
		b.Run(im.name, func(b *testing.B) {
			seek := im.newSeeker(b, w)
			b.ReportAllocs()
			runtime.GC()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if !seek(int(w.Probes[i%NumKeys])) {
					b.Fatalf("seek %d did not land on the probed entry", i)
				}
			}
		})
	}
}

// TestSkiplistPeersAgree checks the comparison is apples to apples: after
// the same inserts both lists hold the same entries in the same order, and
// both seekers land on every probed entry.
func TestSkiplistPeersAgree(t *testing.T) {
	w := LoadWorkload()
	const n = 20000
	l, err := skiplist.New(arena.New(1<<20), false)
	require.NoError(t, err)
	bl := skl.NewSkiplist(16 << 20)
	bkeys := badgerKeys(w)
	for i := 0; i < n; i++ {
		_, ok, err := l.Insert(w.Keys[i], w.Versions[i], w.Value)
		require.NoError(t, err)
		require.True(t, ok)
		bl.Put(bkeys[i], y.ValueStruct{Value: w.Value})
	}
	it := l.Iter()
	bit := bl.NewIterator()
	defer func() { require.NoError(t, bit.Close()) }()
	count := 0
	it.First()
	bit.SeekToFirst()
	for ; it.Valid(); it.Next() {
		require.True(t, bit.Valid(), "badger list ends after %d entries", count)
		require.Equal(t, it.Key(), y.ParseKey(bit.Key()), "entry %d", count)
		require.Equal(t, it.Version(), y.ParseTs(bit.Key()), "entry %d", count)
		require.Equal(t, it.Value(), bit.Value().Value, "entry %d", count)
		bit.Next()
		count++
	}
	require.False(t, bit.Valid(), "badger list has more entries")
	require.Equal(t, n, count)

	// The insert closures fill what they are given.
	for _, im := range impls {
		insert, reset := im.newInserter(w)
		reset()
		for i := 0; i < 100; i++ {
			insert(i)
		}
	}
}

// TestSkiplistSeekersLand runs every seeker over full lists, as the
// benchmark does, on a sample of probes.
func TestSkiplistSeekersLand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two 1M-entry lists")
	}
	w := LoadWorkload()
	for _, im := range impls {
		seek := im.newSeeker(t, w)
		for i := 0; i < 10000; i++ {
			p := int(w.Probes[i])
			require.True(t, seek(p), "%s: seek to entry %d", im.name, p)
		}
	}
}
