package wal

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/stretchr/testify/require"
)

// TestGatherWaitsForTheReleased drives gather with a yield that stands
// for committers coming back: it yields while appends keep arriving, until
// as many records are pending as the last fsync released, at most
// gatherYields times, and not at all once the log is closed or poisoned.
func TestGatherWaitsForTheReleased(t *testing.T) {
	for _, c := range []struct {
		name             string
		start, each      int // records pending at the start, and appended per yield
		released         int
		closed, poisoned bool
		yields           int
	}{
		{name: "all come back", start: 0, each: 1, released: 5, yields: 5},
		{name: "some already back", start: 1, each: 1, released: 3, yields: 2},
		{name: "two per yield", start: 0, each: 2, released: 5, yields: 3},
		{name: "nobody comes back", start: 0, each: 0, released: 5, yields: 1},
		{name: "more keep coming", start: 0, each: 1, released: 1000, yields: gatherYields},
		{name: "all back already", start: 4, each: 1, released: 4, yields: 0},
		{name: "closed", start: 0, each: 1, released: 5, closed: true, yields: 0},
		{name: "poisoned", start: 0, each: 1, released: 5, poisoned: true, yields: 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := &Log{pending: c.start, closed: c.closed}
			if c.poisoned {
				l.err = errors.New("poisoned")
			}
			yields := 0
			l.opts.yield = func() {
				yields++
				l.mu.Lock()
				l.pending += c.each
				l.mu.Unlock()
			}
			l.gather(c.released)
			require.Equal(t, c.yields, yields)
		})
	}
}

// TestGatherOnlyForStrictGroups: only a Strict syncer gathers, and only
// after an fsync released more than one record: a lone committer, or a
// Batched log, never waits for appenders.
func TestGatherOnlyForStrictGroups(t *testing.T) {
	var yields atomic.Int64
	open := func(mode Mode) *Log {
		m := vfs.NewMemFS(1)
		require.NoError(t, m.MkdirAll(memDir))
		o := memOpts(m, 64<<20)
		o.Mode, o.Interval, o.MaxPending = mode, time.Millisecond, 10
		o.yield = func() { yields.Add(1) }
		l, err := Create(o, 1)
		require.NoError(t, err)
		return l
	}
	l := open(Strict)
	for i := range 20 {
		commit(t, l, i)
	}
	require.NoError(t, l.Close())
	require.Zero(t, yields.Load(), "one committer: every fsync released one record")

	l = open(Batched)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				g, err := l.Append(TypeUser, payload(w*100+i))
				if err == nil {
					err = g.Wait()
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, l.Close())
	require.Zero(t, yields.Load(), "Batched does not gather")

}
