package inmem

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	for _, every := range []int{1, 40, 0} {
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
		if reserved {
			require.Zero(t, boundaryAllocs)
		} else {
			require.GreaterOrEqual(t, boundaryAllocs, uint64(n/StepBlockSize))
		}
	}
}

// A run's step times never go back along its steps, even when the clock
// does or when writers of the run read it in one order and commit in
// another: commits read the clock before the oracle's critical section.
func TestStepTimesFollowStepOrder(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var calls atomic.Int64
	// Every third reading is a second behind the one before it.
	clock := func() time.Time {
		n := calls.Add(1)
		if n%3 == 0 {
			return base.Add(time.Duration(n-1000) * time.Millisecond)
		}
		return base.Add(time.Duration(n) * time.Millisecond)
	}
	db, err := OpenInMemory(WithClock(clock))
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				key := fmt.Sprintf("w%d/%d", w, i)
				if i%2 == 0 {
					require.NoError(t, run.KV().Put(key, []byte("v")))
					continue
				}
				require.NoError(t, run.Update(func(tx *Tx) error {
					return tx.KV().Put(key, []byte("v"))
				}))
			}
		}()
	}
	wg.Wait()
	steps, err := run.Steps()
	require.NoError(t, err)
	require.Len(t, steps, 800)
	for i := 1; i < len(steps); i++ {
		require.False(t, steps[i].Time.Before(steps[i-1].Time), "step %d at %v, step %d at %v", i, steps[i-1].Time, i+1, steps[i].Time)
	}
	// The times are the clock's readings, not a stand-in.
	lo, hi := base.Add(-time.Second), base.Add(time.Duration(calls.Load())*time.Millisecond)
	for i, st := range steps {
		require.False(t, st.Time.Before(lo) || st.Time.After(hi), "step %d at %v", i+1, st.Time)
	}
}
