package inmem

import (
	"testing"

	"github.com/inmem-db/inmem/internal/engine"
	"github.com/stretchr/testify/require"
)

// TestCommitCountsBytesWritten: a commit adds exactly the bytes it wrote
// (encoded keys and stored values, headers included) to its scope's
// count, which reclaim's garbage estimate reads, through a one-write put
// and through a transaction alike.
func TestCommitCountsBytesWritten(t *testing.T) {
	db, err := OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	sh := db.Shared(Namespace{App: "count"})
	rs := sh.st
	stored := func(key string, n int) int64 {
		var hdr [engine.MaxValueHeader]byte
		return int64(len(rs.kvKey(nil, key)) + len(engine.EncodeHeader(&hdr, false, 0)) + n)
	}
	before := db.garbage()
	require.NoError(t, sh.KV().Put("one", make([]byte, 100)))
	require.Equal(t, stored("one", 100), db.garbage()-before)

	before = db.garbage()
	require.NoError(t, sh.Update(func(tx *Tx) error {
		if err := tx.KV().Put("a", make([]byte, 10)); err != nil {
			return err
		}
		return tx.KV().Put("bb", make([]byte, 20))
	}))
	require.Equal(t, stored("a", 10)+stored("bb", 20), db.garbage()-before)
}
