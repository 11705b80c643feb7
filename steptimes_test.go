package inmem_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/inmem-db/inmem"
)

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
	db, err := inmem.OpenInMemory(inmem.WithClock(clock))
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
				require.NoError(t, run.Update(func(tx *inmem.Tx) error {
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

// TestOneClockReadPerStep: a run's data commit reads the clock once, before
// the oracle's critical section, and that reading is both the step's time
// and the run's last write time: a read inside the section would hold up
// every commit of the database.
func TestOneClockReadPerStep(t *testing.T) {
	var calls atomic.Int64
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	db, err := inmem.OpenInMemory(inmem.WithClock(func() time.Time {
		return base.Add(time.Duration(calls.Add(1)) * time.Second)
	}))
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	n0 := calls.Load()
	for i := range 10 {
		require.NoError(t, run.KV().Put(fmt.Sprint(i), []byte("v")))
	}
	require.NoError(t, run.Update(func(tx *inmem.Tx) error { return tx.KV().Put("tx", []byte("v")) }))
	require.EqualValues(t, 11, calls.Load()-n0)
	steps, err := run.Steps()
	require.NoError(t, err)
	info, err := db.Runs().Get(run.ID())
	require.NoError(t, err)
	require.Equal(t, steps[len(steps)-1].Time, info.UpdatedAt, "the step's reading is the last write time")
}
