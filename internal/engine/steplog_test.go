package engine

import (
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStepLog(t *testing.T) {
	var l StepLog
	_, ok := l.Last()
	require.False(t, ok)
	require.Equal(t, 0, l.Visible(100))
	const n = 5*StepBlockSize + 7
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a reader racing the appends sees a consistent prefix
		defer wg.Done()
		for l.Len() < n {
			k := l.Len()
			for i := 0; i < k; i++ {
				if st := l.At(i); st.Version != uint64(2*i+2) || st.Time != int64(i) {
					t.Errorf("step %d: %+v", i, st)
					return
				}
			}
		}
	}()
	for i := range n {
		l.Add(uint64(2*i+2), int64(i))
	}
	wg.Wait()
	require.Equal(t, n, l.Len())
	last, ok := l.Last()
	require.True(t, ok)
	require.Equal(t, uint64(2*n), last.Version)
	require.Equal(t, 0, l.Visible(1))
	require.Equal(t, 1, l.Visible(2))
	require.Equal(t, 1, l.Visible(3))
	require.Equal(t, n, l.Visible(1<<40))
	all := l.All()
	require.Len(t, all, n)
	require.Equal(t, StepRec{Version: 4, Time: 1}, all[1])
}

// With reserve called after each add and before the first, as the commit
// path does around the oracle's critical section, add never allocates: not
// for a new block and not for a longer block table. Without it, add
// allocates at each block boundary (the control). Reserving after every
// 40th step stands for two writers each reserving on every reserveEvery-th
// commit, with other writers' commits in between.
func TestStepLogAddAfterReserveDoesNotAllocate(t *testing.T) {
	mallocs := func() uint64 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.Mallocs
	}
	const n = 40*StepBlockSize + 3
	// The allocation count is the process's: a runtime or test-framework
	// allocation on another goroutine during an add counts too. The fewest
	// of three fills is what the adds themselves cost (a log that does
	// allocate at its boundaries does so in every fill).
	fill := func(every int) uint64 {
		reserved := every > 0
		var l StepLog
		boundaryAllocs := uint64(0)
		for i := range n {
			// As the commit path does: before a run's first step, and
			// after each step.
			if reserved && !l.Started() {
				l.Reserve()
			}
			if i%StepBlockSize != 0 {
				l.Add(uint64(i+1), int64(i))
			} else {
				m0 := mallocs()
				l.Add(uint64(i+1), int64(i))
				boundaryAllocs += mallocs() - m0
			}
			if reserved && i%every == 0 {
				l.Reserve()
			}
		}
		require.Equal(t, n, l.Len())
		for i := range n {
			require.Equal(t, StepRec{Version: uint64(i + 1), Time: int64(i)}, l.At(i))
		}
		return boundaryAllocs
	}
	for _, every := range []int{1, 40, 0} {
		fewest := fill(every)
		for range 2 {
			fewest = min(fewest, fill(every))
		}
		if every > 0 {
			require.Zero(t, fewest, "reserving every %d steps", every)
		} else {
			require.GreaterOrEqual(t, fewest, uint64(n/StepBlockSize))
		}
	}
}

// TestStepLogSeal: a sealed log answers exactly as before, holds its
// steps in one exactly sized slice instead of blocks, reads racing the
// seal see every step, and an Add after the seal unseals and goes on.
func TestStepLogSeal(t *testing.T) {
	for _, n := range []int{0, 1, StepBlockSize, 2*StepBlockSize + 3} {
		var l StepLog
		for i := range n {
			l.Add(uint64(2*i+2), int64(i))
		}
		want := l.All()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				for i := range n {
					if st := l.At(i); st.Version != uint64(2*i+2) {
						t.Errorf("step %d during the seal: %+v", i, st)
						return
					}
				}
			}
		}()
		l.Seal()
		wg.Wait()
		require.Equal(t, want, l.All())
		require.Equal(t, n, l.Len())
		require.Equal(t, n, l.Visible(1<<40))
		if n > 0 {
			require.Nil(t, l.blocks.Load(), "the blocks are let go")
			require.Len(t, *l.sealed.Load(), n)
			require.Equal(t, 1, l.Visible(2))
		}
		l.Add(uint64(2*n+2), int64(n))
		require.Nil(t, l.sealed.Load())
		require.Equal(t, append(want, StepRec{Version: uint64(2*n + 2), Time: int64(n)}), l.All())
		l.Add(uint64(2*n+4), int64(n+1))
		require.Equal(t, n+2, l.Len())
		require.Equal(t, StepRec{Version: uint64(2*n + 4), Time: int64(n + 1)}, l.At(n+1))
	}
}
