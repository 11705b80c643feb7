package inmem_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// TestNoGoroutineLeak writes enough to make the arena prepare chunks in the
// background, closes, and checks the goroutine count returns to where it was.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for round := 0; round < 3; round++ {
		db, err := inmem.OpenInMemory()
		require.NoError(t, err)
		run, err := db.BeginRun()
		require.NoError(t, err)
		val := make([]byte, 1024)
		for i := 0; i < 3000; i++ { // ~3 MiB: past the first chunks
			require.NoError(t, run.KV().Put(fmt.Sprintf("k%05d", i), val))
		}
		require.Greater(t, db.Stats().ArenaChunks, 1)
		require.NoError(t, db.Close())
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), before)
}
