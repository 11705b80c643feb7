package inmem_test

import (
	"fmt"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// TestTxSizeLimit: a transaction's writes are bounded by the documented
// 256 MiB of keys and values (README.md, Limits). Writes that stay under it
// are taken; a new key or a larger value for a written key that would take
// the transaction past it is refused with ErrTooLarge, and the transaction
// commits nothing. Filled mostly with values of the largest size, 16 MiB,
// so that it takes 17 writes, and holds 256 MiB while it runs (850 MB of
// resident memory under -race).
func TestTxSizeLimit(t *testing.T) {
	const limit = 256 << 20
	require.Equal(t, limit, inmem.MaxTxSize, "README.md documents 256 MiB")
	// The keys and value headers of these writes take some 50 bytes each:
	// far less than margin.
	const margin = 4 << 10
	db := memDB(t)
	r := freshRun(t, db)
	big := make([]byte, inmem.MaxValueSize)
	full := limit/len(big) - 1 // 15 values of 16 MiB, 240 MiB
	const mid = 16 << 10
	last := limit - full*len(big) - mid - margin // 16 MiB less 20 KiB
	commits := db.Stats().Commits
	err := r.Update(func(tx *inmem.Tx) error {
		kv := tx.KV()
		for i := range full {
			require.NoError(t, kv.Put(fmt.Sprintf("big%02d", i), big))
		}
		require.NoError(t, kv.Put("mid", big[:mid]))
		require.NoError(t, kv.Put("last", big[:last]), "%d KiB under 256 MiB", margin>>10)
		// A written key counts with its latest value only: rewriting it at
		// the same size, or shrinking it and growing it back, adds nothing.
		require.NoError(t, kv.Put("mid", big[:mid]), "the same size again")
		require.NoError(t, kv.Put("mid", big[:1]), "shrunk")
		require.NoError(t, kv.Put("mid", big[:mid]), "grown back")
		// Each refused write is far under the 16 MiB a value may have: what
		// refuses it is the transaction's size.
		err := kv.Put("over", big[:2*margin])
		require.ErrorIs(t, err, inmem.ErrTooLarge, "a new key taking the writes %d KiB past 256 MiB", margin>>10)
		err = kv.Put("mid", big[:mid+2*margin])
		require.ErrorIs(t, err, inmem.ErrTooLarge, "a written key grown %d KiB past 256 MiB", margin>>10)
		return err
	})
	require.ErrorIs(t, err, inmem.ErrTooLarge)
	require.Equal(t, commits, db.Stats().Commits, "the refused transaction committed")
	for _, k := range []string{"big00", "mid", "last", "over"} {
		_, err := r.KV().Get(k)
		require.ErrorIs(t, err, inmem.ErrNotFound, k)
	}
}
