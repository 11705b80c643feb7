package bench

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"unsafe"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/btree"
	"github.com/inmem-db/inmem"
)

// The whole-database benchmarks: inmem's public API against badger
// (in-memory mode) and, for reads, a google/btree under a sync.RWMutex.
//
// Keys are "key%016d" (19 bytes), written in sequence; values are 64
// bytes. Every peer gets the same keys, values and probe order.

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

// ---- openers ---------------------------------------------------------------

func openInmem(b *testing.B) (*inmem.DB, *inmem.Run) {
	b.Helper()
	db, err := inmem.OpenInMemory()
	if err != nil {
		b.Fatal(err)
	}
	run, err := db.BeginRun()
	if err != nil {
		b.Fatal(err)
	}
	return db, run
}

func openBadger(b *testing.B) *badger.DB {
	b.Helper()
	db, err := badger.Open(badger.DefaultOptions("").WithInMemory(true).WithLogger(nil))
	if err != nil {
		b.Fatal(err)
	}
	return db
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

// ---- Put -------------------------------------------------------------------

// BenchmarkPut writes one fresh key per op, each its own transaction.
func BenchmarkPut(b *testing.B) {
	dbLoadKeys()
	b.Run("inmem", func(b *testing.B) {
		b.ReportAllocs()
		var db *inmem.DB
		var kv *inmem.KV
		chunks(b, func() {
			if db != nil {
				db.Close()
			}
			var run *inmem.Run
			db, run = openInmem(b)
			kv = run.KV()
		}, func(n int) {
			for i := 0; i < n; i++ {
				if err := kv.Put(dbKey(i), dbValue); err != nil {
					b.Fatal(err)
				}
			}
		})
		db.Close()
	})
	b.Run("badger", func(b *testing.B) {
		b.ReportAllocs()
		var db *badger.DB
		chunks(b, func() {
			if db != nil {
				db.Close()
			}
			db = openBadger(b)
		}, func(n int) {
			for i := 0; i < n; i++ {
				k := dbKeyBytes(i)
				if err := db.Update(func(txn *badger.Txn) error { return txn.Set(k, dbValue) }); err != nil {
					b.Fatal(err)
				}
			}
		})
		db.Close()
	})
}

// BenchmarkPutParallel writes disjoint fresh keys into one run from exactly
// G goroutines. b.N ops are split evenly among them and ns/op is the total
// wall time over b.N, so ns/op(goroutines=1) / ns/op(goroutines=2) is the
// throughput gain of the second goroutine.
func BenchmarkPutParallel(b *testing.B) {
	dbLoadKeys()
	for _, g := range []int{1, 2} {
		b.Run(fmt.Sprintf("inmem/goroutines=%d", g), func(b *testing.B) {
			b.ReportAllocs()
			var db *inmem.DB
			var kv *inmem.KV
			chunks(b, func() {
				if db != nil {
					db.Close()
				}
				var run *inmem.Run
				db, run = openInmem(b)
				kv = run.KV()
			}, func(n int) {
				parallel(n, g, func(lo, hi int) error {
					for i := lo; i < hi; i++ {
						if err := kv.Put(dbKey(i), dbValue); err != nil {
							return err
						}
					}
					return nil
				}, b)
			})
			db.Close()
		})
	}
	for _, g := range []int{1, 2} {
		b.Run(fmt.Sprintf("badger/goroutines=%d", g), func(b *testing.B) {
			b.ReportAllocs()
			var db *badger.DB
			chunks(b, func() {
				if db != nil {
					db.Close()
				}
				db = openBadger(b)
			}, func(n int) {
				parallel(n, g, func(lo, hi int) error {
					for i := lo; i < hi; i++ {
						k := dbKeyBytes(i)
						if err := db.Update(func(txn *badger.Txn) error { return txn.Set(k, dbValue) }); err != nil {
							return err
						}
					}
					return nil
				}, b)
			})
			db.Close()
		})
	}
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

// The read datasets: dbKeyCount keys each, built once per process.
var (
	inmemGetOnce sync.Once
	inmemGetRun  *inmem.Run

	badgerGetOnce sync.Once
	badgerGetDB   *badger.DB

	btreeGetOnce sync.Once
	btreeGet     *lockedBTree
)

func loadInmemGet(b *testing.B) *inmem.Run {
	inmemGetOnce.Do(func() {
		_, run := openInmem(b)
		for lo := 0; lo < dbKeyCount; lo += dbBatch {
			err := run.Update(func(tx *inmem.Tx) error {
				for i := lo; i < min(lo+dbBatch, dbKeyCount); i++ {
					if err := tx.KV().Put(dbKey(i), dbValue); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		inmemGetRun = run
	})
	if inmemGetRun == nil {
		b.Fatal("inmem dataset failed to build")
	}
	return inmemGetRun
}

func loadBadgerGet(b *testing.B) *badger.DB {
	badgerGetOnce.Do(func() {
		db := openBadger(b)
		wb := db.NewWriteBatch()
		for i := 0; i < dbKeyCount; i++ {
			if err := wb.Set(dbKeyBytes(i), dbValue); err != nil {
				b.Fatal(err)
			}
		}
		if err := wb.Flush(); err != nil {
			b.Fatal(err)
		}
		badgerGetDB = db
	})
	if badgerGetDB == nil {
		b.Fatal("badger dataset failed to build")
	}
	return badgerGetDB
}

// lockedBTree is the baseline a hand-rolled store would use: an ordered
// in-memory map under a reader-writer lock.
type lockedBTree struct {
	mu sync.RWMutex
	t  *btree.BTreeG[btreeItem]
}

type btreeItem struct {
	key string
	val []byte
}

func (t *lockedBTree) get(key string) ([]byte, bool) {
	t.mu.RLock()
	it, ok := t.t.Get(btreeItem{key: key})
	var out []byte
	if ok {
		out = make([]byte, len(it.val))
		copy(out, it.val)
	}
	t.mu.RUnlock()
	return out, ok
}

func loadBTreeGet(b *testing.B) *lockedBTree {
	btreeGetOnce.Do(func() {
		t := &lockedBTree{t: btree.NewG(32, func(a, b btreeItem) bool { return a.key < b.key })}
		for i := 0; i < dbKeyCount; i++ {
			t.t.ReplaceOrInsert(btreeItem{key: dbKey(i), val: append([]byte(nil), dbValue...)})
		}
		btreeGet = t
	})
	return btreeGet
}

// BenchmarkGet reads random existing keys, one point read per op, from a
// dataset of 1M keys. Every peer returns a copy of the value the caller
// owns.
func BenchmarkGet(b *testing.B) {
	dbLoadKeys()
	b.Run("inmem", func(b *testing.B) {
		kv := loadInmemGet(b).KV()
		var buf [dbKeyLen]byte
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			v, err := kv.Get(dbProbeKey(&buf, dbProbes[i&(dbKeyCount-1)]))
			if err != nil || len(v) != dbValLen {
				b.Fatal(err)
			}
		}
	})
	b.Run("badger", func(b *testing.B) {
		db := loadBadgerGet(b)
		var buf [dbKeyLen]byte
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			dbProbeKey(&buf, dbProbes[i&(dbKeyCount-1)])
			k := buf[:]
			var v []byte
			err := db.View(func(txn *badger.Txn) error {
				item, err := txn.Get(k)
				if err != nil {
					return err
				}
				v, err = item.ValueCopy(nil)
				return err
			})
			if err != nil || len(v) != dbValLen {
				b.Fatal(err)
			}
		}
	})
	b.Run("btree", func(b *testing.B) {
		t := loadBTreeGet(b)
		var buf [dbKeyLen]byte
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			v, ok := t.get(dbProbeKey(&buf, dbProbes[i&(dbKeyCount-1)]))
			if !ok || len(v) != dbValLen {
				b.Fatal("btree: missing key")
			}
		}
	})
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
