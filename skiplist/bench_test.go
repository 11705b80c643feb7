package skiplist

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/inmem-db/inmem/arena"
)

const (
	benchKeys    = 1 << 20 // 1M
	benchKeyLen  = 16
	benchValLen  = 16
	benchArenaSz = 160 << 20 // holds 1M nodes of 16-byte values and keys of up to 44 bytes
)

var (
	benchKeysOnce sync.Once
	benchKeyData  [][]byte // benchKeys random 16-byte keys, fixed seed
	benchProbes   []uint32 // random indexes into benchKeyData
	benchValue    = make([]byte, benchValLen)

	benchListOnce sync.Once
	benchList     *List // indexed list holding every benchKeyData key at version 1
)

func loadBenchKeys() {
	benchKeysOnce.Do(func() {
		r := rand.New(rand.NewPCG(42, 42))
		buf := make([]byte, benchKeys*benchKeyLen)
		for i := 0; i < len(buf); i += 8 {
			v := r.Uint64()
			for j := 0; j < 8; j++ {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		benchKeyData = make([][]byte, benchKeys)
		for i := range benchKeyData {
			benchKeyData[i] = buf[i*benchKeyLen : (i+1)*benchKeyLen : (i+1)*benchKeyLen]
		}
		benchProbes = make([]uint32, benchKeys)
		for i := range benchProbes {
			benchProbes[i] = uint32(r.IntN(benchKeys))
		}
	})
}

func newBenchList(b *testing.B, withIndex bool) *List {
	l, err := New(arena.New(benchArenaSz), withIndex)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// loadBenchList builds, once per process, the 1M-entry list shared by the
// read benchmarks.
func loadBenchList(b *testing.B) *List {
	loadBenchKeys()
	benchListOnce.Do(func() {
		l := newBenchList(b, true)
		for _, k := range benchKeyData {
			if _, _, err := l.Insert(k, 1, benchValue); err != nil {
				b.Fatal(err)
			}
		}
		benchList = l
	})
	return benchList
}

// BenchmarkInsertRandom inserts random 16-byte keys, starting a fresh list
// every 1M inserts so the list size stays bounded whatever b.N is.
func BenchmarkInsertRandom(b *testing.B) {
	for _, withIndex := range []bool{false, true} {
		name := "plain"
		if withIndex {
			name = "indexed"
		}
		b.Run(name, func(b *testing.B) {
			loadBenchKeys()
			b.ReportAllocs()
			b.ResetTimer()
			var l *List
			for i := 0; i < b.N; i++ {
				j := i % benchKeys
				if j == 0 {
					b.StopTimer()
					l = nil
					l = newBenchList(b, withIndex)
					b.StartTimer()
				}
				if _, _, err := l.Insert(benchKeyData[j], 1, benchValue); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSeekRandom seeks to random existing keys of a 1M-entry list.
func BenchmarkSeekRandom(b *testing.B) {
	l := loadBenchList(b)
	it := l.Iter()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		it.SeekGE(benchKeyData[benchProbes[i%benchKeys]], math.MaxUint64)
		if !it.Valid() {
			b.Fatal("seek missed")
		}
	}
}

// BenchmarkGetIndexed reads random existing keys of a 1M-entry list through
// the PointIndex.
func BenchmarkGetIndexed(b *testing.B) {
	l := loadBenchList(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, ok := l.Get(benchKeyData[benchProbes[i%benchKeys]], math.MaxUint64); !ok {
			b.Fatal("get missed")
		}
	}
}

// BenchmarkGetDescent is BenchmarkGetIndexed without the index, for
// comparison: Get falls back to a skiplist descent.
func BenchmarkGetDescent(b *testing.B) {
	l := loadBenchList(b)
	idx := l.index
	l.index = nil
	defer func() { l.index = idx }()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, ok := l.Get(benchKeyData[benchProbes[i%benchKeys]], math.MaxUint64); !ok {
			b.Fatal("get missed")
		}
	}
}

// BenchmarkInsertParallel inserts benchKeys random keys into a fresh list
// from 1 and 2 goroutines (disjoint halves); ns/op is wall time per insert,
// so the ratio between the two is the second goroutine's gain.
func BenchmarkInsertParallel(b *testing.B) {
	for _, withIndex := range []bool{false, true} {
		for _, g := range []int{1, 2} {
			name := map[bool]string{false: "plain", true: "indexed"}[withIndex]
			b.Run(name+"/goroutines="+string(rune('0'+g)), func(b *testing.B) {
				loadBenchKeys()
				b.ReportAllocs()
				b.StopTimer()
				for done := 0; done < b.N; {
					n := min(b.N-done, benchKeys)
					l := newBenchList(b, withIndex)
					b.StartTimer()
					var wg sync.WaitGroup
					for w := 0; w < g; w++ {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for i := n * w / g; i < n*(w+1)/g; i++ {
								if _, _, err := l.Insert(benchKeyData[i], 1, benchValue); err != nil {
									b.Error(err)
									return
								}
							}
						}()
					}
					wg.Wait()
					b.StopTimer()
					done += n
				}
			})
		}
	}
}

// BenchmarkLocateRandom inserts random keys behind a shared scope prefix
// the way a commit with no finger does (Prepare, LocateAfter with no
// hint, LinkAt), so the descent starts from the tall index once the list
// has built one; a fresh list every 1M inserts.
func BenchmarkLocateRandom(b *testing.B) {
	loadBenchKeys()
	scope := []byte("run/0123456789abcdef0123/kv/")
	keys := make([][]byte, benchKeys)
	for i, k := range benchKeyData {
		keys[i] = append(append(make([]byte, 0, len(scope)+len(k)), scope...), k...)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var l *List
	var sp Splice
	for i := 0; i < b.N; i++ {
		j := i % benchKeys
		if j == 0 {
			b.StopTimer()
			l = nil
			l = newBenchList(b, true)
			b.StartTimer()
		}
		off, err := l.Prepare(keys[j], benchValue, nil)
		if err != nil {
			b.Fatal(err)
		}
		l.LocateAfter(off, &sp, nil)
		if !l.LinkAt(off, uint64(i+1), &sp) {
			b.Fatal("duplicate")
		}
	}
}
