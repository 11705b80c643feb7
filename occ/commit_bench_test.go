package occ

import (
	"sync"
	"testing"
)

// BenchmarkBlindCommit measures the commit path alone (version, record,
// ordered publish) with one and two committers: the coordination cost a
// write pays on top of its own work.
func BenchmarkBlindCommit(b *testing.B) {
	for _, ack := range []bool{false, true} {
		for _, g := range []int{1, 2} {
			name := string(rune('0' + g))
			if ack {
				name += "-acked" // returning at Ack, as a commit with no WAL does
			}
			b.Run(name, func(b *testing.B) {
				o := New(0)
				var wg sync.WaitGroup
				for w := 0; w < g; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; i < b.N/g; i++ {
							v, _ := o.CommitBlind(Write{FP: uint64(i)}, nil, nil)
							o.Done(v)
							if ack {
								o.Ack(v)
							} else {
								o.WaitVisible(v)
							}
						}
					}()
				}
				wg.Wait()
			})
		}
	}
}
