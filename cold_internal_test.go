package inmem

import (
	"fmt"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/require"
)

// TestDueForColdLockOrder: a status change holds its run's lock and then
// takes the registry's (applyRunRecord); the freezer's look for due runs,
// blocked on that run's lock, must not hold the registry's meanwhile, or
// the two wait for each other for good.
func TestDueForColdLockOrder(t *testing.T) {
	db, err := Open(t.TempDir(), WithColdAfter(-1))
	require.NoError(t, err)
	defer db.Close()
	r, err := db.BeginRun()
	require.NoError(t, err)
	require.NoError(t, r.End(Completed, ""))
	rs := r.st
	rs.mu.Lock() // a status change of the run, half done
	looked := make(chan int)
	go func() { looked <- len(db.dueForCold(0)) }()
	time.Sleep(50 * time.Millisecond) // lets the look reach the run's lock
	locked := make(chan struct{})
	go func() {
		db.runsMu.Lock() // what the status change takes next
		close(locked)
		db.runsMu.Unlock()
	}()
	select {
	case <-locked:
	case <-time.After(time.Minute):
		t.Fatal("the registry's lock is held by the freezer waiting for the run's")
	}
	rs.mu.Unlock()
	require.Equal(t, 1, <-looked)
}

// TestReclaimLetsTheOldGenerationGo: in a database that goes quiet after
// a reclaim, nothing keeps the retired generation (its arena, the memory
// of every frozen or dropped version) alive: the oracle's records of
// recent commits, which hold the generation they were prepared in, are
// dropped by the reclaim.
func TestReclaimLetsTheOldGenerationGo(t *testing.T) {
	db, err := Open(t.TempDir(), WithColdAfter(-1))
	require.NoError(t, err)
	defer db.Close()
	r, err := db.BeginRun()
	require.NoError(t, err)
	for i := range 20 {
		require.NoError(t, r.Update(func(tx *Tx) error {
			return tx.KV().Put(fmt.Sprint("k", i), []byte("v")) // a read-write commit keeps its generation
		}))
	}
	require.NoError(t, r.End(Completed, ""))
	require.NoError(t, db.Runs().Freeze(r.ID()))
	old := weak.Make(db.store.Current())
	_, err = db.Reclaim()
	require.NoError(t, err)
	require.NotSame(t, old.Value(), db.store.Current())
	for range 5 {
		runtime.GC()
	}
	require.Nil(t, old.Value(), "the retired generation is unreachable")
	v, err := r.KV().Get("k3")
	require.NoError(t, err)
	require.Equal(t, "v", string(v))
}

// TestColdOpenFilesBounded: reads of runs in many cold files keep at most
// maxOpenColdFiles of them open; a file closed for the bound opens again
// when read.
func TestColdOpenFilesBounded(t *testing.T) {
	db, err := Open(t.TempDir(), WithColdAfter(-1))
	require.NoError(t, err)
	defer db.Close()
	n := maxOpenColdFiles + 40
	var runs []*Run
	for i := range n {
		r, err := db.BeginRun()
		require.NoError(t, err)
		require.NoError(t, r.KV().Put("k", []byte(fmt.Sprint(i))))
		require.NoError(t, r.End(Completed, ""))
		require.NoError(t, db.Runs().Freeze(r.ID())) // a file each
		runs = append(runs, r)
	}
	openFiles := func() int {
		db.cold.mu.RLock()
		defer db.cold.mu.RUnlock()
		k := 0
		for _, f := range db.cold.files {
			f.mu.Lock()
			if f.r != nil {
				k++
			}
			f.mu.Unlock()
		}
		return k
	}
	for pass := range 2 {
		for i, r := range runs {
			v, err := r.KV().Get("k")
			require.NoError(t, err, "pass %d run %d", pass, i)
			require.Equal(t, fmt.Sprint(i), string(v))
			require.LessOrEqual(t, openFiles(), maxOpenColdFiles)
		}
	}
	require.Equal(t, maxOpenColdFiles, openFiles())
}
