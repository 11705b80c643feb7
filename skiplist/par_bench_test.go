package skiplist

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/inmem-db/inmem/arena"
)

func BenchmarkParInsert(b *testing.B) {
	for _, seq := range []bool{false, true} {
		for _, g := range []int{1, 2} {
			name := "random"
			if seq {
				name = "seq"
			}
			b.Run(name+string(rune('0'+g)), func(b *testing.B) {
				l, _ := New(arena.New(1<<20), true)
				val := make([]byte, 64)
				var wg sync.WaitGroup
				for w := 0; w < g; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						var k [24]byte
						for i := 0; i < b.N/g; i++ {
							if seq {
								binary.BigEndian.PutUint64(k[:], uint64(w))
								binary.BigEndian.PutUint64(k[8:], uint64(i))
							} else {
								binary.BigEndian.PutUint64(k[:], rand.Uint64())
								binary.BigEndian.PutUint64(k[8:], rand.Uint64())
							}
							l.Insert(k[:], 1, val)
						}
					}()
				}
				wg.Wait()
			})
		}
	}
}
