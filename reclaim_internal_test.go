package inmem

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestReclaimBackPressure: a writer that outruns a running background
// reclaim waits for it once the arena in use reaches twice what started
// the reclaim. Every reclaim is held until a writer has waited for it, so
// the writer always outruns it: the arena must rise to twice the threshold
// (the writer got there) and go no further than the writes between two
// checks past it (the writer waited there).
func TestReclaimBackPressure(t *testing.T) {
	const threshold = 1 << 20
	var db *DB
	var writerDone atomic.Bool
	var held atomic.Int64
	gate := func() {
		held.Add(1)
		seen := db.Stats().ReclaimWaits
		for db.Stats().ReclaimWaits == seen && !writerDone.Load() {
			time.Sleep(100 * time.Microsecond)
		}
	}
	db, err := OpenInMemory(WithReclaimAt(threshold), withReclaimGate(gate))
	require.NoError(t, err)
	defer db.Close()
	defer writerDone.Store(true) // let a held reclaim go if the test fails
	kv := db.Shared(Namespace{Tenant: "bp"}).KV()
	val := []byte("0123456789abcdef0123456789abcdef")
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("memory/%04d", i)
	}
	// A reclaim's copy keeps the 1,000 keys' newest versions, about 100
	// KiB: the trigger stays at the threshold (it is twice the copy when
	// that is larger). The writer looks every reclaimCheckEvery commits,
	// of 104 bytes each here, and its arena block (up to 64 KiB) counts
	// whole: it waits at most some 170 KiB past twice the threshold.
	bound := int64(2*threshold + 256<<10)
	const writes = 70_000 // a reclaim every 20,000 or so
	var peak int64
	for i := range writes {
		require.NoError(t, kv.Put(names[i%len(names)], val))
		used := db.store.Current().Arena.Stats().Used // Stats().MemUsed, cheaper
		peak = max(peak, used)
		require.Less(t, used, bound, "write %d: %d KiB in use, the writer outran the reclaim past twice the threshold", i, used>>10)
	}
	writerDone.Store(true)
	st := db.Stats()
	t.Logf("%d reclaims held, %d done, %d waits, peak %d KiB (threshold %d KiB, bound %d KiB)",
		held.Load(), st.Reclaims, st.ReclaimWaits, peak>>10, threshold>>10, bound>>10)
	require.GreaterOrEqual(t, peak, int64(2*threshold), "the arena rose to the wait's trigger")
	require.GreaterOrEqual(t, st.Reclaims, uint64(3))
	// Every reclaim but one still held at the end ran because the writer
	// waited for it.
	require.GreaterOrEqual(t, st.ReclaimWaits, uint64(held.Load()-1), "the writer waited for every reclaim it outran")
}
