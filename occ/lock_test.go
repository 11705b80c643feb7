package occ

import (
	"runtime"
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

// TestPollYieldsOnlyWhileNoneQueued: a poller keeps trying, yielding
// between tries, while no committer is queued, so a holder that lets go
// after a while hands it the lock; once one is queued it stops and queues
// too.
func TestPollYieldsOnlyWhileNoneQueued(t *testing.T) {
	// One processor: the holder runs only when the poller yields, so the
	// poller gets the lock only by yielding.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	o := New(0)
	released := holdFor(o, pollTries)
	require.True(t, o.poll(), "nobody queued: the poller outlasts the holder")
	<-released
	o.mu.Unlock()

	// The same holder, with a committer queued: the poller stops before
	// the holder lets go.
	o.queued.Add(1)
	released = holdFor(o, pollTries)
	require.False(t, o.poll(), "a committer is queued: the poller queues too")
	<-released
	o.queued.Add(-1)
}

// holdFor takes o.mu and lets go of it from another goroutine after n
// yields; the channel closes then.
func holdFor(o *Oracle, n int) chan struct{} {
	o.mu.Lock()
	released := make(chan struct{})
	go func() {
		for range n {
			runtime.Gosched()
		}
		o.mu.Unlock()
		close(released)
	}()
	return released
}
