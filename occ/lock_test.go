package occ

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// lock must exclude like the mutex it wraps, whichever of its phases
// (poll, queue) a contender gets the lock in.
func TestLockExcludes(t *testing.T) {
	for _, spin := range []bool{true, false} {
		o := New(0)
		o.spin = spin
		var wg sync.WaitGroup
		held, count := 0, 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 5000 {
					o.lock()
					held++
					if held != 1 {
						t.Errorf("%d holders", held)
					}
					count++
					held--
					o.mu.Unlock()
				}
			}()
		}
		wg.Wait()
		require.Equal(t, 8*5000, count)
	}
}
