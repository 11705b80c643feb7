//go:build linux && !race

package inmem_test

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// These tests write millions of versions, too slow under the race detector;
// `make test` runs them in a plain build as well. -short (mutation testing
// runs the suite once per mutant) writes a tenth to a fifth as many.

// shortOr is full, or short under -short.
func shortOr(full, short int) int {
	if testing.Short() {
		return short
	}
	return full
}

// rssBytes reads the process's resident set size.
func rssBytes(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestReclaimBoundSharedScope: 10 million overwrites of 1,000 keys in a
// shared scope (which keeps no history) keep the arena in use under twice
// the WithReclaimAt threshold (plus the writes between two checks, 1,024
// commits), and the memory of the generations reclaim
// replaced goes back: the process stays far below what the versions
// written would take.
func TestReclaimBoundSharedScope(t *testing.T) {
	const (
		threshold = 8 << 20
		keys      = 1000
	)
	overwrites := shortOr(10_000_000, 1_000_000)
	db, err := inmem.OpenInMemory(inmem.WithReclaimAt(threshold))
	require.NoError(t, err)
	defer db.Close()
	kv := db.Shared(inmem.Namespace{Tenant: "bound"}).KV()
	val := []byte("0123456789abcdef0123456789abcdef") // 32 bytes
	names := make([]string, keys)
	for i := range names {
		names[i] = fmt.Sprintf("memory/%04d", i)
	}
	// Sampled after every commit, so no overshoot between samples goes
	// unseen: Stats costs about 125 ns, a Put here 1 to 3 us.
	var peak int64
	for i := range overwrites {
		require.NoError(t, kv.Put(names[i%keys], val))
		peak = max(peak, db.Stats().MemUsed)
	}
	st := db.Stats()
	// A writer waits for the running reclaim at the first check past twice
	// the threshold; the checks are 1,024 commits apart, of 104 bytes each
	// here, and a writer's arena block (up to 64 KiB) counts whole: about
	// 170 KiB past twice the threshold at most. A reclaim held up so that
	// the writer always outruns it peaks at 64 KiB past.
	bound := int64(2*threshold + 256<<10)
	t.Logf("peak arena in use %d KiB (bound %d KiB, threshold %d KiB), %d reclaims, %d entries now", peak>>10, bound>>10, threshold>>10, st.Reclaims, st.Entries)
	require.Less(t, peak, bound, "arena in use stays under twice the threshold")
	require.Greater(t, st.Reclaims, uint64(overwrites/200_000))
	// 10M versions of ~100 bytes would be about 1 GB; the replaced
	// generations must have been freed.
	var rss int64
	for range 20 {
		runtime.GC()
		if rss = rssBytes(t); rss < 256<<20 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("resident %.0f MiB", float64(rss)/(1<<20))
	require.Less(t, rss, int64(256<<20))
	for _, k := range names[:10] {
		v, err := kv.Get(k)
		require.NoError(t, err)
		require.Equal(t, val, v)
	}
}

// TestReclaimRetainedHistory: the same overwrites in a run keep its whole
// history, so the arena grows linearly and reclaim keeps it, until the run
// is deleted; then reclaim frees it.
func TestReclaimRetainedHistory(t *testing.T) {
	const keys = 1000
	overwrites := shortOr(1_000_000, 200_000)
	db, err := inmem.OpenInMemory(inmem.WithReclaimAt(8 << 20))
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	val := []byte("0123456789abcdef0123456789abcdef")
	var at []int64
	for i := range overwrites {
		require.NoError(t, run.KV().Put("memory/"+strconv.Itoa(i%keys), val))
		if (i+1)%(overwrites/4) == 0 {
			at = append(at, db.Stats().MemUsed)
		}
	}
	t.Logf("arena in use at 1/4, 2/4, 3/4, 4/4: %v MiB", []int64{at[0] >> 20, at[1] >> 20, at[2] >> 20, at[3] >> 20})
	// Linear: each quarter adds about as much as the first.
	for q := 1; q < 4; q++ {
		require.InDelta(t, float64(q+1), float64(at[q])/float64(at[0]), 0.5, "quarter %d", q+1)
	}
	st, err := db.Reclaim()
	require.NoError(t, err)
	require.Greater(t, st.After, st.Before*9/10, "a live run's history is kept")
	view, err := run.AsOf(1)
	require.NoError(t, err)
	v, err := view.KV().Get("memory/0")
	require.NoError(t, err)
	require.Equal(t, val, v)

	require.NoError(t, db.Runs().Delete(run.ID()))
	st, err = db.Reclaim()
	require.NoError(t, err)
	t.Logf("after delete: %+v", st)
	require.Less(t, st.After, st.Before/20, "a deleted run's history is reclaimed")
}
