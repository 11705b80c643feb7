package inmem

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRunsDeleteRacingWriters: writes racing a delete either commit before
// it (and are deleted with the run) or fail with ErrRunNotFound; none
// survives it, which only the engine's view of the run's scope can show.
func TestRunsDeleteRacingWriters(t *testing.T) {
	db, err := OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	for round := 0; round < 20; round++ {
		r, err := db.BeginRun()
		require.NoError(t, err)
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					var err error
					if i%2 == 0 {
						err = r.KV().Put(fmt.Sprint(w, "/", i), []byte("v"))
					} else {
						_, err = r.Events().Append("e", nil)
					}
					if err != nil {
						require.ErrorIs(t, err, ErrRunNotFound)
						return
					}
				}
			}()
		}
		time.Sleep(time.Millisecond)
		require.NoError(t, db.Runs().Delete(r.ID()))
		wg.Wait()
		live := 0
		db.store.Current().Scan(r.st.scope, db.store.Oracle.Visible(), db.opts.clock, func(_, _ []byte, _ uint64) bool {
			live++
			return true
		})
		require.Zero(t, live, "round %d: writes survived the delete", round)
	}
}
