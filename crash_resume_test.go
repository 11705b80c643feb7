package inmem

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/stretchr/testify/require"
)

// TestPowerLossInResumedSegment: a reopened database appends to the
// segment its last session wrote. A power loss at every operation of the
// second session (its recovery, its appends, its close) keeps every commit
// of the first session and a prefix of the second's that holds every one
// acknowledged.
func TestPowerLossInResumedSegment(t *testing.T) {
	const dir, first, second = "/rdb", 20, 12
	ns := Namespace{App: "resume"}
	key := func(s, i int) string { return fmt.Sprintf("s%d-%03d", s, i) }
	base := func(seed int64) *vfs.MemFS {
		mem := vfs.NewMemFS(seed)
		db, err := Open(dir, withFS(mem), WithDurability(Strict()))
		require.NoError(t, err)
		for i := 0; i < first; i++ {
			require.NoError(t, db.Shared(ns).KV().Put(key(1, i), []byte("v")))
		}
		require.NoError(t, db.Close())
		return mem
	}
	session := func(mem *vfs.MemFS) (acked int, err error) {
		db, err := Open(dir, withFS(mem), WithDurability(Strict()))
		if err != nil {
			return 0, err
		}
		for i := 0; i < second; i++ {
			if err := db.Shared(ns).KV().Put(key(2, i), []byte("v")); err != nil {
				db.Close()
				return acked, err
			}
			acked++
		}
		return acked, db.Close()
	}
	// The operations a whole second session takes.
	mem := base(1)
	before := mem.Ops()
	acked, err := session(mem)
	require.NoError(t, err)
	require.Equal(t, second, acked)
	ops := mem.Ops() - before
	t.Logf("a second session takes %d operations", ops)

	rng := rand.New(rand.NewSource(7))
	for k := 1; k <= ops+1; k++ {
		seed := rng.Int63()
		mem := base(seed)
		mem.TornWrites = true
		mem.SetKeepUnsynced(rng.Float64())
		mem.CrashAfter(k)
		acked, err := session(mem)
		if err != nil && !errors.Is(err, vfs.ErrCrashed) {
			t.Fatalf("crash at op %d: unexpected error %v", k, err)
		}
		db, err := Open(dir, withFS(mem.CrashClone()))
		require.NoError(t, err, "crash at op %d", k)
		es, err := db.Shared(ns).KV().List("s")
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(es), first+acked, "crash at op %d: an acknowledged commit is lost", k)
		for i, e := range es {
			want := key(1, i)
			if i >= first {
				want = key(2, i-first)
			}
			require.Equal(t, want, e.Key, "crash at op %d: not a prefix of the commits", k)
		}
		require.NoError(t, db.Close())
	}
}
