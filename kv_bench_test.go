package inmem_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/inmem-db/inmem"
)

func benchKey(i uint64) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], i*0x9E3779B97F4A7C15) // scatter
	binary.BigEndian.PutUint64(b[8:], i)
	return fmt.Sprintf("%x", b)
}

func BenchmarkKVPut(b *testing.B) {
	db, _ := inmem.OpenInMemory()
	defer db.Close()
	run, _ := db.BeginRun()
	val := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := run.KV().Put(benchKey(uint64(i)), val); err != nil {
			b.Fatal(err)
		}
	}
}

var (
	getOnce sync.Once
	getRun  *inmem.Run
	getKeys []string
)

const getN = 1 << 20

func BenchmarkKVGet(b *testing.B) {
	getOnce.Do(func() {
		db, _ := inmem.OpenInMemory()
		getRun, _ = db.BeginRun()
		getKeys = make([]string, getN)
		val := make([]byte, 64)
		for i := range getKeys {
			getKeys[i] = benchKey(uint64(i))
			_ = getRun.KV().Put(getKeys[i], val)
		}
	})
	kv := getRun.KV()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := kv.Get(getKeys[rand.IntN(getN)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateBatch commits transactions of n new keys into one empty
// prefix (an import): ns/op per key should stay about flat as n grows.
// Linking each key by walking from the pair all of them were located at
// made it grow with n (16,000 keys: 3.2 s, 200 us per key).
func BenchmarkUpdateBatch(b *testing.B) {
	for _, n := range []int{1000, 16000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			db, _ := inmem.OpenInMemory()
			defer db.Close()
			run, _ := db.BeginRun()
			val := make([]byte, 16)
			keys := make([]string, n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range keys {
					keys[j] = fmt.Sprintf("batch%06d/%08d", i, j)
				}
				err := run.Update(func(tx *inmem.Tx) error {
					for _, k := range keys {
						if err := tx.KV().Put(k, val); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/key")
		})
	}
}
