package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/inmem-db/inmem"
)

// The whole-database benchmarks: inmem's public API against its peers
// (peers_test.go) on the same keys, values and probe order, each
// sub-benchmark named for its peer.
//
//   - BenchmarkPut: one fresh key per op, its own transaction, for every
//     durability of every peer.
//   - BenchmarkPutRandom: the same with random 16-byte keys, each engine
//     at its fastest durability and a B-tree behind a lock.
//   - BenchmarkPutParallel: the same from exactly 1 and 2 goroutines;
//     BenchmarkPutParallelRuns and BenchmarkPutScaling with a run each.
//   - BenchmarkGet: a random point read of one of 1M keys.
//   - BenchmarkMix90: 90% reads, 10% overwrites, GOMAXPROCS goroutines.
//   - BenchmarkScan100: every key and value under a prefix of 100 keys.
//
// Keys are "key%016d" (19 bytes), written in sequence (random 16-byte
// keys in BenchmarkPutRandom); values are 64 bytes.

const (
	dbKeyCount = 1 << 20 // keys in the Get datasets, and ops between reopens in Put
	dbValLen   = 64
	dbBatch    = 1000 // keys per transaction when populating
)

var (
	dbKeysOnce sync.Once
	dbKeyBlob  []byte   // "key%016d" for i in [0, dbKeyCount), back to back
	dbProbes   []uint32 // random indexes into the keys, fixed seed
	dbValue    []byte   // the value every benchmark writes
)

// The keys live in one pointer-free blob rather than in 1M strings: a
// slice of 1M strings is 1M pointers that every GC cycle of the benchmark
// process would scan, a cost of the harness that would be charged to
// whichever peer triggers the cycles.

// dbKey returns key i as a string aliasing dbKeyBlob.
func dbKey(i int) string { return unsafe.String(&dbKeyBlob[i*dbKeyLen], dbKeyLen) }

// dbKeyBytes returns key i as a byte slice aliasing dbKeyBlob.
func dbKeyBytes(i int) []byte {
	return dbKeyBlob[i*dbKeyLen : (i+1)*dbKeyLen : (i+1)*dbKeyLen]
}

func dbLoadKeys() {
	dbKeysOnce.Do(func() {
		dbKeyBlob = make([]byte, dbKeyCount*dbKeyLen)
		var buf [dbKeyLen]byte
		for i := 0; i < dbKeyCount; i++ {
			copy(dbKeyBlob[i*dbKeyLen:], dbProbeKey(&buf, uint32(i)))
		}
		r := rand.New(rand.NewPCG(7, 7))
		dbProbes = make([]uint32, dbKeyCount)
		for i := range dbProbes {
			dbProbes[i] = uint32(r.IntN(dbKeyCount))
		}
		dbValue = make([]byte, dbValLen)
		for i := range dbValue {
			dbValue[i] = byte(r.Uint32())
		}
	})
}

// dbRandKeyLen is the length of a random key: a UUID's 16 bytes.
const dbRandKeyLen = 16

var (
	dbRandOnce    sync.Once
	dbRandKeyBlob []byte // dbKeyCount random 16-byte keys, back to back
)

// dbRandKeyBytes returns random key i: a 64-bit mix of i (so consecutive
// keys land far apart), then i (so they are distinct).
func dbRandKeyBytes(i int) []byte {
	dbRandOnce.Do(func() {
		dbRandKeyBlob = make([]byte, dbKeyCount*dbRandKeyLen)
		for j := range dbKeyCount {
			x := uint64(j) + 0x9e3779b97f4a7c15
			x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
			x = (x ^ x>>27) * 0x94d049bb133111eb
			binary.BigEndian.PutUint64(dbRandKeyBlob[j*dbRandKeyLen:], x^x>>31)
			binary.BigEndian.PutUint64(dbRandKeyBlob[j*dbRandKeyLen+8:], uint64(j))
		}
	})
	return dbRandKeyBlob[i*dbRandKeyLen : (i+1)*dbRandKeyLen : (i+1)*dbRandKeyLen]
}

// dbKeyLen is the length of "key%016d".
const dbKeyLen = 19

// dbProbeKey writes the key of index i into buf and returns it as a string
// aliasing buf. The read benchmarks build each probe key this way instead
// of reading it from dbKeyBlob: a random index into 1M precomputed keys
// costs a cache miss in the harness itself, which would pad every peer's
// time alike and hide the difference between them. A caller usually holds
// its key in cache, having just built it.
func dbProbeKey(buf *[dbKeyLen]byte, i uint32) string {
	buf[0], buf[1], buf[2] = 'k', 'e', 'y'
	for j := dbKeyLen - 1; j >= 3; j-- {
		buf[j] = byte('0' + i%10)
		i /= 10
	}
	return unsafe.String(&buf[0], dbKeyLen)
}

// chunks calls fn for consecutive chunks of b.N ops of at most dbKeyCount
// each, with fresh databases opened by reopen outside the timer, so that
// memory stays bounded however large b.N is. fn gets the chunk size n and
// writes keys [0, n).
func chunks(b *testing.B, reopen func(), fn func(n int)) {
	b.StopTimer()
	for done := 0; done < b.N; {
		n := min(b.N-done, dbKeyCount)
		reopen()
		b.StartTimer()
		fn(n)
		b.StopTimer()
		done += n
	}
}

// freshStores runs bench with a store from o, reopened empty (in a new
// directory) every dbKeyCount ops by chunks; the last one is closed
// outside the timer.
func freshStores(b *testing.B, o opener, bench func(s store, n int)) {
	var s store
	closeStore := func() {
		if s != nil {
			if err := s.close(); err != nil {
				b.Fatal(err)
			}
		}
	}
	chunks(b, func() {
		closeStore()
		var err error
		if s, err = o.open(b.TempDir()); err != nil {
			b.Fatal(err)
		}
	}, func(n int) { bench(s, n) })
	closeStore()
}

// ---- Put -------------------------------------------------------------------

// putPeers are every durability of every peer: a single-key put is where
// the cost of each durability guarantee shows most plainly.
var putPeers = []opener{
	openInmemStore, openInmemBatchedStore, openInmemStrictStore,
	openBadgerMem, openBadgerDisk, openBadgerSync,
	openBoltNoSync, openBolt, openBTree, openSQLite, openSQLiteFull,
}

// BenchmarkPut writes one fresh key per op, each its own transaction.
func BenchmarkPut(b *testing.B) {
	dbLoadKeys()
	for _, o := range putPeers {
		b.Run(o.name, func(b *testing.B) {
			b.ReportAllocs()
			freshStores(b, o, func(s store, n int) {
				for i := 0; i < n; i++ {
					if err := s.put(dbKeyBytes(i), dbValue); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// randPeers are the peers of the random-key benchmarks: each engine
// once, at its fastest durability, and the B-tree behind a lock (the
// ideal an in-memory ordered store is held to).
var randPeers = []opener{openInmemStore, openBadgerMem, openBoltNoSync, openBTree, openSQLite}

// BenchmarkPutRandom is BenchmarkPut with 16-byte keys in random order,
// spread over the key space (as UUIDs, hashes and chosen names are):
// ascending keys let a run's fingers make every put an append, which is
// the best case, not the common one.
func BenchmarkPutRandom(b *testing.B) {
	dbLoadKeys()
	for _, o := range randPeers {
		b.Run(o.name, func(b *testing.B) {
			b.ReportAllocs()
			freshStores(b, o, func(s store, n int) {
				for i := 0; i < n; i++ {
					if err := s.put(dbRandKeyBytes(i), dbValue); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkPutRandomWriters is BenchmarkPutRandom from 8 goroutines at
// once into one store (one run for inmem): more writers than a run has
// finger caches, with no order a finger could follow, so what it measures
// is the cost of looking for one (the run's finger table gives up on such
// writers). ns/op is the total wall time over b.N.
func BenchmarkPutRandomWriters(b *testing.B) {
	dbLoadKeys()
	for _, o := range []opener{openInmemStore, openBTree} {
		b.Run(o.name, func(b *testing.B) {
			b.ReportAllocs()
			freshStores(b, o, func(s store, n int) {
				parallel(n, 8, func(lo, hi int) error {
					for i := lo; i < hi; i++ {
						if err := s.put(dbRandKeyBytes(i), dbValue); err != nil {
							return err
						}
					}
					return nil
				}, b)
			})
		})
	}
}

// BenchmarkPutParallel writes disjoint fresh keys into one store (one run
// for inmem) from exactly G goroutines. b.N ops are split evenly among
// them and ns/op is the total wall time over b.N, so ns/op(goroutines=1) /
// ns/op(goroutines=2) is the throughput gain of the second goroutine.
func BenchmarkPutParallel(b *testing.B) {
	dbLoadKeys()
	for _, g := range []int{1, 2} {
		for _, o := range []opener{openInmemStore, openBadgerMem} {
			b.Run(fmt.Sprintf("goroutines=%d/%s", g, o.name), func(b *testing.B) {
				b.ReportAllocs()
				freshStores(b, o, func(s store, n int) {
					parallel(n, g, func(lo, hi int) error {
						for i := lo; i < hi; i++ {
							if err := s.put(dbKeyBytes(i), dbValue); err != nil {
								return err
							}
						}
						return nil
					}, b)
				})
			})
		}
	}
}

// BenchmarkPutParallelRuns is BenchmarkPutParallel for inmem with each
// goroutine writing its own run, as concurrent agents do: the runs share
// the commit path (versions, arena, point index) but not a step log. It
// reports the processors used while timed ("cores"), which tells a commit
// path that waits (cores below goroutines) from one that only costs more.
func BenchmarkPutParallelRuns(b *testing.B) {
	dbLoadKeys()
	for _, g := range []int{1, 2} {
		b.Run(fmt.Sprintf("goroutines=%d/inmem", g), func(b *testing.B) {
			b.ReportAllocs()
			db, err := inmem.OpenInMemory()
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			kvs := make([]*inmem.KV, g)
			for i := range kvs {
				run, err := db.BeginRun()
				if err != nil {
					b.Fatal(err)
				}
				kvs[i] = run.KV()
			}
			n := b.N
			b.ResetTimer()
			cpu0, t0 := processCPU(), time.Now()
			parallel(n, g, func(lo, hi int) error {
				kv := kvs[lo*g/n]
				for i := lo; i < hi; i++ {
					if err := kv.Put(str(dbKeyBytes(i%dbKeyCount)), dbValue); err != nil {
						return err
					}
				}
				return nil
			}, b)
			b.ReportMetric((processCPU()-cpu0).Seconds()/time.Since(t0).Seconds(), "cores")
		})
	}
}

// BenchmarkPutScaling measures what BenchmarkPutParallelRuns does, the
// throughput of 2 goroutines writing a run each over that of 1, in a way
// that holds still on a machine whose speed drifts: one database, and
// slices of putScalingSlice ops that alternate between 1 goroutine and 2,
// so both see the same phases of the machine and the same database (its
// size, its memory growth). It reports ns/op of each ("ns/op-1g",
// "ns/op-2g"), their ratio ("gain"), and the processors the process kept
// busy in each ("cpus-1g", "cpus-2g": the writers and the background work
// they cause, such as faulting in memory); ns/op is over all ops.
func BenchmarkPutScaling(b *testing.B) {
	dbLoadKeys()
	db := scalingDB(b)
	putScaling(b, [2]*inmem.KV{scalingKV(b, db), scalingKV(b, db)})
}

// scalingDB opens an in-memory database, closed when b's run ends.
func scalingDB(b *testing.B) *inmem.DB {
	db, err := inmem.OpenInMemory()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// scalingKV begins a run in db and returns its KV.
func scalingKV(b *testing.B, db *inmem.DB) *inmem.KV {
	run, err := db.BeginRun()
	if err != nil {
		b.Fatal(err)
	}
	return run.KV()
}

// BenchmarkPutScalingApart is BenchmarkPutScaling with a database for each
// goroutine: nothing the writers touch is shared, so its gain is what the
// machine allows the write path at best, the reference BenchmarkPutScaling's
// gain is to be read against.
func BenchmarkPutScalingApart(b *testing.B) {
	dbLoadKeys()
	putScaling(b, [2]*inmem.KV{scalingKV(b, scalingDB(b)), scalingKV(b, scalingDB(b))})
}

// putScaling runs BenchmarkPutScaling's slices over kvs.
func putScaling(b *testing.B, kvs [2]*inmem.KV) {
	r := scalingSlices(b, [][2]*inmem.KV{kvs}, nil)
	if r == nil {
		return // too few ops for a slice of each
	}
	b.ReportMetric(r[0].ns1, "ns/op-1g")
	b.ReportMetric(r[0].ns2, "ns/op-2g")
	b.ReportMetric(r[0].gain(), "gain")
	b.ReportMetric(r[0].cpus1, "cpus-1g")
	b.ReportMetric(r[0].cpus2, "cpus-2g")
}

// BenchmarkPutScalingShared is BenchmarkPutScaling and
// BenchmarkPutScalingApart in one run, slice by slice: one database with
// one goroutine, then with two, then two databases with one goroutine and
// with two, and again. Run one after the other, the two benchmarks met
// different phases of this VM (a put writes fresh memory, and the kernel
// faulting it in may stop to compact memory for a huge page: tens of
// milliseconds now and then, more in some hours than in others), and a
// run's ratio of their gains spread from 0.45 to 1.3. Interleaved, the
// phases fall on all four alike. "of-apart" is one database's gain over
// two databases': what one database keeps of the second core that two
// apart get.
func BenchmarkPutScalingShared(b *testing.B) {
	dbLoadKeys()
	one := scalingDB(b)
	var sets [2][2]*inmem.KV
	for i := range 2 {
		sets[0][i] = scalingKV(b, one)
		sets[1][i] = scalingKV(b, scalingDB(b))
	}
	r := scalingSlices(b, sets[:], nil)
	if r == nil {
		return
	}
	b.ReportMetric(r[0].gain(), "gain-one")
	b.ReportMetric(r[1].gain(), "gain-apart")
	b.ReportMetric(r[0].gain()/r[1].gain(), "of-apart")
	// The median over rounds of one database's gain over two's in the
	// same round: a slice the kernel stalled (faulting in a huge page)
	// moves the totals above, and only its own round here.
	if m := r[0].ofMedian(r[1]); m > 0 {
		b.ReportMetric(m, "of-apart-med")
	}
	b.ReportMetric(r[0].cpus2, "cpus-2g-one")
	b.ReportMetric(r[1].cpus2, "cpus-2g-apart")
}

// sequence is what BenchmarkPutScalingSequenced adds to two databases: a
// word their writers share, on a cache line of its own, that every put
// adds one to.
type sequence struct {
	_ [64]byte
	n atomic.Uint64
	_ [56]byte
}

// BenchmarkPutScalingSequenced is BenchmarkPutScalingShared with a third
// set of two databases whose writers share one word that each put adds
// one to: the least any database with one sequence of commit versions
// shares between its writers. Its gain over two databases'
// ("seq-of-apart-med") is what moving one line between the cores on every
// put costs this machine, the reference one database's ("of-apart-med")
// is read against.
func BenchmarkPutScalingSequenced(b *testing.B) {
	dbLoadKeys()
	var sets [3][2]*inmem.KV
	one := scalingDB(b)
	for i := range 2 {
		sets[0][i] = scalingKV(b, one)
		for set := 1; set < len(sets); set++ {
			sets[set][i] = scalingKV(b, scalingDB(b))
		}
	}
	r := scalingSlices(b, sets[:], []*sequence{nil, nil, {}})
	if r == nil {
		return
	}
	b.ReportMetric(r[0].gain(), "gain-one")
	b.ReportMetric(r[1].gain(), "gain-apart")
	b.ReportMetric(r[2].gain(), "gain-seq")
	b.ReportMetric(r[0].ofMedian(r[1]), "of-apart-med")
	b.ReportMetric(r[2].ofMedian(r[1]), "seq-of-apart-med")
}

// scaling is what scalingSlices measured of one set of writers: ns per
// put and processors busy, with one goroutine and with two.
type scaling struct {
	ns1, ns2, cpus1, cpus2 float64
	// rounds is the gain in each round of the slices: the two slices of
	// this set that follow each other, one goroutine then two.
	rounds []float64
}

// gain is the throughput of two goroutines over one.
func (s scaling) gain() float64 { return s.ns1 / s.ns2 }

// ofMedian is the median over rounds of s's gain over ref's in the same
// round, or 0 if there is no round.
func (s scaling) ofMedian(ref scaling) float64 {
	var of []float64
	for i := range min(len(s.rounds), len(ref.rounds)) {
		of = append(of, s.rounds[i]/ref.rounds[i])
	}
	if len(of) == 0 {
		return 0
	}
	slices.Sort(of)
	return of[len(of)/2]
}

// scalingSlices puts b.N keys in slices of putScalingSlice, going round
// the sets and, for each, one goroutine writing its first KV, then two
// goroutines writing both. Each goroutine rewrites its own half of the
// key set in order. A set whose seqs entry is not nil also adds one to
// that counter after every put (see BenchmarkPutScalingSequenced). It
// returns nil if b.N is too small for a slice of each kind.
func scalingSlices(b *testing.B, sets [][2]*inmem.KV, seqs []*sequence) []scaling {
	next := make([][2]int, len(sets)) // the next key of each goroutine's run
	for i := range next {
		next[i][1] = dbKeyCount / 2
	}
	// put writes up to n keys and returns how many it wrote: fewer once
	// stop, if not nil, is set.
	put := func(set, g, n int, stop *atomic.Bool) (int, error) {
		// The count stays in the goroutine while it runs: next's two
		// entries share a cache line, which writing them on every op
		// moved between the cores of the two goroutines.
		kv, i := sets[set][g], next[set][g]
		defer func() { next[set][g] = i }()
		var seq *sequence
		if set < len(seqs) {
			seq = seqs[set]
		}
		for k := range n {
			if stop != nil && stop.Load() {
				return k, nil
			}
			if err := kv.Put(str(dbKeyBytes(i%dbKeyCount)), dbValue); err != nil {
				return k, err
			}
			if seq != nil {
				seq.n.Add(1)
			}
			i++
		}
		return n, nil
	}
	kinds := 2 * len(sets)
	spent, cpu := make([]time.Duration, kinds), make([]time.Duration, kinds)
	done := make([]int, kinds)
	rounds := make([][]float64, len(sets)) // each round's gain, per set
	var ns1 float64                        // the last one-goroutine slice's ns/op
	total := 0
	b.ResetTimer()
	for s := 0; total < b.N; s++ {
		n := min(putScalingSlice, b.N-total)
		kind := s % kinds
		set, mode := kind/2, kind%2 // mode 0: one goroutine, 1: two
		t0, c0 := time.Now(), processCPU()
		var errs [2]error
		var wrote [2]int
		// Labelled, so that a CPU profile tells the slices apart
		// (-tagfocus goroutines=two -tagfocus set=s0; words, as pprof
		// reads a number there as a range of numeric labels).
		pprof.Do(context.Background(), pprof.Labels("goroutines", [2]string{"one", "two"}[mode], "set", fmt.Sprintf("s%d", set)), func(context.Context) {
			if mode == 0 {
				wrote[0], errs[0] = put(set, 0, n, nil)
				return
			}
			// The slice ends when the first goroutine has written its
			// half: it measures two writers writing. Waiting for the
			// other to finish its half measured one writer alone for the
			// end of the slice, and the goroutines of a 10 ms slice
			// finished 13-36% of it apart on average, with two databases as with
			// one (a late start, a background build, the VM).
			var wg sync.WaitGroup
			var stop atomic.Bool
			for g := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					wrote[g], errs[g] = put(set, g, n/2+g*(n%2), &stop)
					stop.Store(true)
				}()
			}
			wg.Wait()
		})
		took := time.Since(t0)
		full := n == putScalingSlice
		n = wrote[0] + wrote[1]
		spent[kind] += took
		cpu[kind] += processCPU() - c0
		if ns := float64(took.Nanoseconds()) / float64(n); mode == 0 {
			ns1 = ns
		} else if full {
			rounds[set] = append(rounds[set], ns1/ns)
		}
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		done[kind] += n
		total += n
	}
	out := make([]scaling, len(sets))
	for i := range out {
		k1, k2 := 2*i, 2*i+1
		if done[k1] == 0 || done[k2] == 0 {
			return nil
		}
		out[i] = scaling{
			ns1:    float64(spent[k1].Nanoseconds()) / float64(done[k1]),
			ns2:    float64(spent[k2].Nanoseconds()) / float64(done[k2]),
			cpus1:  cpu[k1].Seconds() / spent[k1].Seconds(),
			cpus2:  cpu[k2].Seconds() / spent[k2].Seconds(),
			rounds: rounds[i],
		}
	}
	return out
}

// putScalingSlice is the ops of one slice of BenchmarkPutScaling: about
// 10 ms, long against starting two goroutines, short against the
// machine's drift.
const putScalingSlice = 16384

// processCPU is the user and system time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// parallel runs fn over [0, n) split into g contiguous ranges, one
// goroutine each, and waits for all of them.
func parallel(n, g int, fn func(lo, hi int) error, b *testing.B) {
	var wg sync.WaitGroup
	errs := make([]error, g)
	for w := 0; w < g; w++ {
		lo, hi := n*w/g, n*(w+1)/g
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = fn(lo, hi)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}

// ---- Get -------------------------------------------------------------------

// readPeers hold the read datasets. Durability does not change a read, so
// each engine appears once.
var readPeers = []opener{openInmemStore, openBadgerMem, openBadgerDisk, openBolt, openBTree, openSQLite}

// BenchmarkGet reads random existing keys, one point read per op, from a
// dataset of 1M keys. Every peer returns a copy of the value the caller
// owns.
func BenchmarkGet(b *testing.B) {
	for _, o := range readPeers {
		b.Run(o.name, func(b *testing.B) {
			s := loadDataset(b, o)
			var buf [dbKeyLen]byte
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				dbProbeKey(&buf, dbProbes[i&(dbKeyCount-1)])
				v, err := s.get(buf[:])
				if err != nil || len(v) != dbValLen {
					b.Fatal(err)
				}
			}
		})
	}
}

// ---- 90/10 mix ---------------------------------------------------------------

// mixPeers are the in-memory peers and the ones with inmem-batched's
// guarantee (no fsync per commit); with an fsync per commit the 10% of
// writes would be all there is to measure.
var mixPeers = []opener{openInmemStore, openInmemBatchedStore, openBadgerMem, openBadgerDisk, openBoltNoSync, openBTree, openSQLite}

// BenchmarkMix90 is 90% point reads and 10% overwrites of random existing
// keys, each op its own transaction, from GOMAXPROCS goroutines at once
// (b.RunParallel: ns/op is wall time over all ops).
func BenchmarkMix90(b *testing.B) {
	for _, o := range mixPeers {
		b.Run(o.name, func(b *testing.B) {
			s := loadDataset(b, o)
			var seed atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(seed.Add(1), 9))
				var buf [dbKeyLen]byte
				for pb.Next() {
					dbProbeKey(&buf, uint32(r.IntN(dbKeyCount)))
					if r.IntN(10) == 0 {
						if err := s.put(buf[:], dbValue); err != nil {
							b.Error(err)
							return
						}
						continue
					}
					if v, err := s.get(buf[:]); err != nil || len(v) != dbValLen {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// ---- prefix scan -------------------------------------------------------------

// scanLen is the keys under each scanned prefix: "key" and the first 14 of
// 16 digits leave the last two free.
const scanLen = 100

// BenchmarkScan100 reads every key and value (copied out) under a random
// prefix holding 100 consecutive keys, in one read transaction per op.
func BenchmarkScan100(b *testing.B) {
	for _, o := range readPeers {
		b.Run(o.name, func(b *testing.B) {
			s := loadDataset(b, o)
			var buf [dbKeyLen]byte
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Only whole groups: the last 76 keys of 1M are not one.
				group := dbProbes[i&(dbKeyCount-1)] % (dbKeyCount / scanLen)
				prefix := buf[:dbKeyLen-2]
				dbProbeKey(&buf, group*scanLen)
				n, bytes := 0, 0
				if err := s.scan(prefix, func(k, v []byte) { n++; bytes += len(v) }); err != nil {
					b.Fatal(err)
				}
				if n != scanLen || bytes != scanLen*dbValLen {
					b.Fatalf("prefix %q: %d keys, %d bytes", prefix, n, bytes)
				}
			}
		})
	}
}

// TestDBProbeKey checks that the probe keys the read benchmarks build are
// the keys the datasets hold.
func TestDBProbeKey(t *testing.T) {
	var buf [dbKeyLen]byte
	for _, i := range []uint32{0, 1, 9, 10, 12345, dbKeyCount - 1, 1<<32 - 1} {
		if got, want := dbProbeKey(&buf, i), fmt.Sprintf("key%016d", i); got != want {
			t.Fatalf("dbProbeKey(%d) = %q, want %q", i, got, want)
		}
	}
}
