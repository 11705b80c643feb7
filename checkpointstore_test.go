package inmem_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

var ckptNS = inmem.Namespace{App: "graph"}

func TestCheckPointStoreSetGetDelete(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	s := db.CheckPointStore(ckptNS)
	ctx := context.Background()

	_, ok, err := s.Get(ctx, "c1")
	require.NoError(t, err)
	require.False(t, ok, "never set")

	require.NoError(t, s.Set(ctx, "c1", []byte("one")))
	require.NoError(t, s.Set(ctx, "c2", []byte("other")))
	require.NoError(t, s.Set(ctx, "c1", []byte("two")))
	v, ok, err := s.Get(ctx, "c1")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "two", string(v))

	// Each Set is a step of the id's run: its history holds every one.
	run, err := s.Run("c1")
	require.NoError(t, err)
	steps, err := run.Steps()
	require.NoError(t, err)
	require.Len(t, steps, 2)
	first, err := run.AsOf(steps[0].N)
	require.NoError(t, err)
	old, err := first.KV().Get(inmem.CheckPointKey)
	require.NoError(t, err)
	require.Equal(t, "one", string(old))
	info, err := run.Info()
	require.NoError(t, err)
	require.Equal(t, ckptNS, info.Namespace)
	require.Contains(t, info.Tags, inmem.CheckPointTag)
	require.Equal(t, "c1", info.Name)

	// A fork from the first checkpoint reads it as current.
	child, err := db.Fork(run.ID(), steps[0].N)
	require.NoError(t, err)
	forked, err := child.KV().Get(inmem.CheckPointKey)
	require.NoError(t, err)
	require.Equal(t, "one", string(forked))

	require.NoError(t, s.Delete(ctx, "c1"))
	_, ok, err = s.Get(ctx, "c1")
	require.NoError(t, err)
	require.False(t, ok)
	_, err = db.Run(run.ID())
	require.ErrorIs(t, err, inmem.ErrRunNotFound, "Delete removes the run")
	_, err = s.Run("c1")
	require.ErrorIs(t, err, inmem.ErrNotFound)
	require.NoError(t, s.Delete(ctx, "c1"), "deleting what is gone is not an error")

	// A Set after Delete starts a new run with a history of its own.
	require.NoError(t, s.Set(ctx, "c1", []byte("three")))
	again, err := s.Run("c1")
	require.NoError(t, err)
	require.NotEqual(t, run.ID(), again.ID())
	steps, err = again.Steps()
	require.NoError(t, err)
	require.Len(t, steps, 1)

	v, ok, err = s.Get(ctx, "c2")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "other", string(v), "ids are apart")

	// A run deleted by other means leaves the id with no checkpoint, and
	// the next Set starts a new run.
	c2, err := s.Run("c2")
	require.NoError(t, err)
	require.NoError(t, db.Runs().Delete(c2.ID()))
	_, ok, err = s.Get(ctx, "c2")
	require.NoError(t, err)
	require.False(t, ok)
	require.NoError(t, s.Set(ctx, "c2", []byte("anew")))
	v, ok, err = s.Get(ctx, "c2")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "anew", string(v))

	// Namespaces are apart.
	_, ok, err = db.CheckPointStore(inmem.Namespace{App: "elsewhere"}).Get(ctx, "c2")
	require.NoError(t, err)
	require.False(t, ok)
}

func TestCheckPointStoreSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	require.NoError(t, db.CheckPointStore(ckptNS).Set(ctx, "c", []byte("before")))
	require.NoError(t, db.CheckPointStore(ckptNS).Set(ctx, "c", []byte("after")))
	require.NoError(t, db.Close())

	db, err = inmem.Open(dir)
	require.NoError(t, err)
	defer db.Close()
	s := db.CheckPointStore(ckptNS)
	v, ok, err := s.Get(ctx, "c")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "after", string(v))
	run, err := s.Run("c")
	require.NoError(t, err)
	steps, err := run.Steps()
	require.NoError(t, err)
	require.Len(t, steps, 2)
}

func TestCheckPointStoreTTL(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	db, err := inmem.OpenInMemory(inmem.WithClock(func() time.Time { return time.Unix(0, now.Load()) }))
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	s := db.CheckPointStore(ckptNS, inmem.CheckPointTTL(time.Hour))

	require.NoError(t, s.Set(ctx, "c", []byte("v1")))
	now.Add(int64(50 * time.Minute))
	require.NoError(t, s.Set(ctx, "c", []byte("v2")), "a Set restarts the TTL")
	now.Add(int64(50 * time.Minute))
	v, ok, err := s.Get(ctx, "c")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "v2", string(v))

	now.Add(int64(11 * time.Minute))
	_, ok, err = s.Get(ctx, "c")
	require.NoError(t, err)
	require.False(t, ok, "past its TTL")

	// The history stays until Delete.
	run, err := s.Run("c")
	require.NoError(t, err)
	steps, err := run.Steps()
	require.NoError(t, err)
	require.Len(t, steps, 2)

	// Without a TTL a checkpoint does not expire.
	plain := db.CheckPointStore(ckptNS)
	require.NoError(t, plain.Set(ctx, "d", []byte("kept")))
	now.Add(int64(1000 * time.Hour))
	_, ok, err = plain.Get(ctx, "d")
	require.NoError(t, err)
	require.True(t, ok)
}

// TestCheckPointStoreConcurrentFirstSets: writers racing on a new id
// agree on one run, and no run is left over.
func TestCheckPointStoreConcurrentFirstSets(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	s := db.CheckPointStore(ckptNS)
	ctx := context.Background()
	for round := range 20 {
		id := fmt.Sprintf("race-%d", round)
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				require.NoError(t, s.Set(ctx, id, []byte{byte(w)}))
			}()
		}
		wg.Wait()
		run, err := s.Run(id)
		require.NoError(t, err)
		steps, err := run.Steps()
		require.NoError(t, err)
		require.Len(t, steps, 4, "every Set landed in the one run")
	}
	runs, err := db.Runs().List(inmem.RunQuery{Namespace: ckptNS, Tag: inmem.CheckPointTag})
	require.NoError(t, err)
	require.Len(t, runs, 20, "the runs begun by the losers of each race were deleted")
}

func TestCheckPointStoreBadInput(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	s := db.CheckPointStore(ckptNS)
	ctx := context.Background()

	require.ErrorIs(t, s.Set(ctx, "", []byte("x")), inmem.ErrInvalidArgument)
	_, _, err = s.Get(ctx, "")
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	require.ErrorIs(t, s.Delete(ctx, ""), inmem.ErrInvalidArgument)
	_, err = s.Run("")
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	//lint:ignore SA1012 a nil context is what is being checked
	require.ErrorIs(t, s.Set(nil, "c", nil), inmem.ErrInvalidArgument)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, s.Set(cancelled, "c", []byte("x")), context.Canceled)
	_, ok, err := s.Get(ctx, "c")
	require.NoError(t, err)
	require.False(t, ok, "a cancelled Set wrote nothing")

	require.ErrorIs(t, s.Set(ctx, "big", make([]byte, 64<<20)), inmem.ErrTooLarge)
	_, ok, err = s.Get(ctx, "big")
	require.NoError(t, err)
	require.False(t, ok)

	// Any id works, also one too long or not UTF-8 enough to name a run.
	for _, id := range []string{strings.Repeat("x", 1000), "\xff\xfe"} {
		require.NoError(t, s.Set(ctx, id, []byte("v")))
		v, ok, err := s.Get(ctx, id)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "v", string(v))
	}

	// An id of the longest name a run can have names its run; one byte
	// more and the run has no name.
	for id, name := range map[string]string{strings.Repeat("n", inmem.MaxNameSize): strings.Repeat("n", inmem.MaxNameSize),
		strings.Repeat("m", inmem.MaxNameSize+1): ""} {
		require.NoError(t, s.Set(ctx, id, []byte("v")))
		run, err := s.Run(id)
		require.NoError(t, err)
		info, err := run.Info()
		require.NoError(t, err)
		require.Equal(t, name, info.Name)
	}

	// A damaged index entry is reported, not read as "absent".
	require.NoError(t, db.Shared(ckptNS).KV().Put(inmem.CheckPointIndexPrefix+"bad", []byte("not a run id")))
	_, _, err = s.Get(ctx, "bad")
	require.ErrorIs(t, err, inmem.ErrCorruption)
}

func TestCheckPointStoreReadOnly(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	require.NoError(t, db.CheckPointStore(ckptNS).Set(ctx, "c", []byte("v")))
	require.NoError(t, db.Close())

	ro, err := inmem.Open(dir, inmem.WithReadOnly())
	require.NoError(t, err)
	defer ro.Close()
	s := ro.CheckPointStore(ckptNS)
	v, ok, err := s.Get(ctx, "c")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "v", string(v))
	err = s.Set(ctx, "c", []byte("w"))
	require.True(t, errors.Is(err, inmem.ErrReadOnly), "got %v", err)
	require.ErrorIs(t, s.Set(ctx, "new", []byte("w")), inmem.ErrReadOnly)
	require.ErrorIs(t, s.Delete(ctx, "c"), inmem.ErrReadOnly)
}
