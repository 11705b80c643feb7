package inmem_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

func TestReopenKeepsEverything(t *testing.T) {
	for _, d := range []inmem.Durability{inmem.Strict(), inmem.Batched(10*time.Millisecond, 100), inmem.Async(10 * time.Millisecond)} {
		dir := t.TempDir()
		db, err := inmem.Open(dir, inmem.WithDurability(d))
		require.NoError(t, err)
		run, err := db.BeginRun(inmem.Name("r"), inmem.Tags("x"))
		require.NoError(t, err)
		for i := 0; i < 100; i++ {
			require.NoError(t, run.KV().Put(fmt.Sprintf("k%03d", i), []byte(fmt.Sprint(i))))
		}
		require.NoError(t, run.KV().Delete("k050"))
		require.NoError(t, run.KV().PutTTL("ttl", []byte("t"), time.Hour))
		require.NoError(t, run.Update(func(tx *inmem.Tx) error {
			require.NoError(t, tx.KV().Put("a", []byte("1")))
			return tx.KV().Put("b", []byte("2"))
		}))
		ended, err := db.BeginRun()
		require.NoError(t, err)
		require.NoError(t, ended.KV().Put("x", nil))
		require.NoError(t, ended.End(inmem.Failed, "boom"))
		require.NoError(t, db.Shared(inmem.Namespace{Tenant: "t"}).KV().Put("mem", []byte("m")))
		before, err := run.KV().List("")
		require.NoError(t, err)
		infoBefore, err := run.Info()
		require.NoError(t, err)
		require.NoError(t, db.Close())

		db, err = inmem.Open(dir, inmem.WithDurability(d))
		require.NoError(t, err)
		run2, err := db.Run(run.ID())
		require.NoError(t, err)
		after, err := run2.KV().List("")
		require.NoError(t, err)
		require.Equal(t, before, after, "same keys, values and versions")
		info, err := run2.Info()
		require.NoError(t, err)
		require.Equal(t, infoBefore.Steps, info.Steps)
		require.Equal(t, "r", info.Name)
		e2, err := db.Run(ended.ID())
		require.NoError(t, err)
		require.ErrorIs(t, e2.KV().Put("y", nil), inmem.ErrRunEnded)
		ei, err := e2.Info()
		require.NoError(t, err)
		require.Equal(t, inmem.Failed, ei.Status)
		require.Equal(t, "boom", ei.Error)
		v, err := db.Shared(inmem.Namespace{Tenant: "t"}).KV().Get("mem")
		require.NoError(t, err)
		require.Equal(t, "m", string(v))
		// New commits continue after the recovered versions.
		require.NoError(t, run2.KV().Put("new", nil))
		es, err := run2.KV().List("new")
		require.NoError(t, err)
		require.Greater(t, es[0].Version, before[len(before)-1].Version)
		require.NoError(t, db.Close())
	}
}

func TestCheckpointThenReopen(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir, inmem.WithDurability(inmem.Strict()))
	require.NoError(t, err)
	run, err := db.BeginRun()
	require.NoError(t, err)
	for round := 0; round < 3; round++ {
		for i := 0; i < 50; i++ {
			require.NoError(t, run.KV().Put(fmt.Sprintf("k%03d", i), []byte(fmt.Sprint(round))))
		}
		require.NoError(t, db.Checkpoint())
	}
	require.NoError(t, run.KV().Put("after", []byte("x")))
	before, err := run.KV().List("")
	require.NoError(t, err)
	st := db.Stats()
	require.Equal(t, uint64(3), st.Checkpoints)
	i1, err := run.Info()
	require.NoError(t, err)
	require.Equal(t, 151, i1.Steps)
	require.NoError(t, db.Close())

	db, err = inmem.Open(dir)
	require.NoError(t, err)
	r2, err := db.Run(run.ID())
	require.NoError(t, err)
	after, err := r2.KV().List("")
	require.NoError(t, err)
	require.Equal(t, before, after)
	i2, err := r2.Info()
	require.NoError(t, err)
	require.Equal(t, i1.Steps, i2.Steps)
	require.NoError(t, db.Close())
}

func TestAutomaticCheckpoint(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir, inmem.WithCheckpointEvery(4<<10))
	require.NoError(t, err)
	run, err := db.BeginRun()
	require.NoError(t, err)
	for i := 0; i < 500; i++ {
		require.NoError(t, run.KV().Put(fmt.Sprintf("k%04d", i), make([]byte, 100)))
	}
	require.NoError(t, db.Close())
	require.Positive(t, db.Stats().Checkpoints)
	db, err = inmem.Open(dir)
	require.NoError(t, err)
	r2, err := db.Run(run.ID())
	require.NoError(t, err)
	es, err := r2.KV().List("")
	require.NoError(t, err)
	require.Len(t, es, 500)
	require.NoError(t, db.Close())
}

func TestDirectoryLock(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	_, err = inmem.Open(dir)
	require.ErrorIs(t, err, inmem.ErrLocked)
	require.NoError(t, db.Close())
	db, err = inmem.Open(dir)
	require.NoError(t, err)
	require.NoError(t, db.Close())
}
