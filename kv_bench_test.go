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
