package inmem

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/inmem-db/inmem/wal"
	"github.com/stretchr/testify/require"
)

// readOnlyFixture writes a database with a run, a snapshot and commits
// after it, and closes it.
func readOnlyFixture(t *testing.T) (string, RunID) {
	t.Helper()
	dir := t.TempDir()
	db, err := Open(dir)
	require.NoError(t, err)
	run, err := db.BeginRun(Name("r"))
	require.NoError(t, err)
	for i := 0; i < 5; i++ {
		require.NoError(t, run.KV().Put(fmt.Sprint("a", i), []byte("v")))
	}
	require.NoError(t, db.Checkpoint())
	for i := 0; i < 5; i++ {
		require.NoError(t, run.KV().Put(fmt.Sprint("b", i), []byte("v")))
	}
	require.NoError(t, db.Close())
	return dir, run.ID()
}

// TestReadOnlyChangesNothing: a read-only handle reads everything,
// refuses every write with ErrReadOnly, and leaves the directory exactly
// as it was (no lock file touched, no segment, no snapshot).
func TestReadOnlyChangesNothing(t *testing.T) {
	dir, id := readOnlyFixture(t)
	before := dirState(t, dir)

	db, err := Open(dir, WithReadOnly())
	require.NoError(t, err)
	run, err := db.Run(id)
	require.NoError(t, err)
	v, err := run.KV().Get("b4")
	require.NoError(t, err)
	require.Equal(t, "v", string(v))
	steps, err := run.Steps()
	require.NoError(t, err)
	require.Len(t, steps, 10)
	rep, err := db.Replay(id)
	require.NoError(t, err)
	require.True(t, rep.Match)

	require.ErrorIs(t, run.KV().Put("c", []byte("v")), ErrReadOnly)
	_, err = db.BeginRun(Name("new"))
	require.ErrorIs(t, err, ErrReadOnly)
	require.ErrorIs(t, db.Shared(Namespace{}).KV().Put("s", nil), ErrReadOnly)
	require.ErrorIs(t, run.Update(func(tx *Tx) error { return tx.KV().Put("d", nil) }), ErrReadOnly)
	require.ErrorIs(t, db.Checkpoint(), ErrReadOnly)
	require.ErrorIs(t, db.Runs().SetStatus(id, Completed), ErrReadOnly)
	_, err = db.Fork(id, 3)
	require.ErrorIs(t, err, ErrReadOnly)
	list, err := db.Runs().List(RunQuery{})
	require.NoError(t, err)
	require.Len(t, list, 1, "the refused BeginRun and Fork left no run behind")
	require.NoError(t, db.Close())

	require.Equal(t, before, dirState(t, dir))
}

// TestReadOnlyNoDatabase: a path that holds no database is ErrNotFound for
// a read-only open and for WithMustExist, and nothing is created there.
func TestReadOnlyNoDatabase(t *testing.T) {
	parent := t.TempDir()
	missing := filepath.Join(parent, "typo")
	for _, opt := range []Option{WithReadOnly(), WithMustExist()} {
		_, err := Open(missing, opt)
		require.ErrorIs(t, err, ErrNotFound)
		require.Contains(t, err.Error(), "no such directory")
		require.NoDirExists(t, missing)

		empty := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(empty, "notes.txt"), []byte("x"), 0o644))
		before := dirState(t, empty)
		_, err = Open(empty, opt)
		require.ErrorIs(t, err, ErrNotFound)
		require.Contains(t, err.Error(), "no database here")
		require.Equal(t, before, dirState(t, empty))
	}

	// WithMustExist opens a database that is there, for writing.
	dir, _ := readOnlyFixture(t)
	db, err := Open(dir, WithMustExist())
	require.NoError(t, err)
	require.NoError(t, db.Shared(Namespace{}).KV().Put("k", nil))
	require.NoError(t, db.Close())

	_, err = OpenInMemory(WithReadOnly())
	require.ErrorIs(t, err, ErrInvalidArgument)
}

// TestReadOnlyTornTail: a record cut short at the end of the log (a write
// in progress, or a crash) is read as the log's end and left in place; a
// writable Open then cuts it off.
func TestReadOnlyTornTail(t *testing.T) {
	dir, id := readOnlyFixture(t)
	segs, err := wal.Segments(vfs.OS, walDir(dir))
	require.NoError(t, err)
	last := filepath.Join(walDir(dir), wal.SegmentName(segs[len(segs)-1]))
	f, err := os.OpenFile(last, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte{200, 0, 0, 0, 1, 2, 3}) // a frame header promising 200 bytes, then 3
	require.NoError(t, err)
	require.NoError(t, f.Close())
	before := dirState(t, dir)

	db, err := Open(dir, WithReadOnly())
	require.NoError(t, err)
	run, err := db.Run(id)
	require.NoError(t, err)
	_, err = run.KV().Get("b4")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	require.Equal(t, before, dirState(t, dir))

	db, err = Open(dir)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	require.NotEqual(t, before, dirState(t, dir), "the writable open cut the tail")
}

// TestReadOnlyBesideWriter: while another handle holds the database and
// commits, checkpoints and rolls segments, read-only opens succeed, and
// each sees a prefix of the commits, never shorter than the one before.
func TestReadOnlyBesideWriter(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, WithDurability(Batched(time.Millisecond, 8)), withSegmentSize(2048))
	require.NoError(t, err)
	defer w.Close() // a second Close (after the one below) is ErrClosed, unchecked here
	_, err = Open(dir)
	require.ErrorIs(t, err, ErrLocked, "a second writer is still refused")

	ns := Namespace{App: "w"}
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	var werr error
	go func() {
		defer wg.Done()
		for i := 0; !done.Load() && i < 3000; i++ { // bounded: a reader catches up once it stops
			if werr = w.Shared(ns).KV().Put(fmt.Sprintf("k%06d", i), make([]byte, 100)); werr != nil {
				return
			}
			if i%50 == 49 {
				if werr = w.Checkpoint(); werr != nil {
					return
				}
			}
		}
	}()
	stop := func() { done.Store(true); wg.Wait() }
	defer stop() // a failed round leaves no writer behind
	seen := 0
	for round := 0; round < 25 || w.Stats().Checkpoints < 10; round++ {
		db, err := Open(dir, WithReadOnly())
		require.NoError(t, err, "round %d", round)
		es, err := db.Shared(ns).KV().List("k")
		require.NoError(t, err)
		for i, e := range es {
			require.Equal(t, fmt.Sprintf("k%06d", i), e.Key, "not a prefix of the commits")
		}
		require.GreaterOrEqual(t, len(es), seen)
		seen = len(es)
		require.NoError(t, db.Close())
		time.Sleep(time.Millisecond)
	}
	stop()
	require.NoError(t, werr)
	require.Positive(t, seen)
	require.Positive(t, w.Stats().Checkpoints, "the writer retired segments under the readers")
	require.NoError(t, w.Close())
}

// TestOpenWithoutCommitChangesNothing: opening and closing a database
// without committing leaves its directory as it was (it used to add a WAL
// segment each time), and a checkpoint with nothing new since the newest
// snapshot writes nothing.
func TestOpenWithoutCommitChangesNothing(t *testing.T) {
	dir, id := readOnlyFixture(t)
	before := dirState(t, dir)
	for i := 0; i < 3; i++ {
		db, err := Open(dir)
		require.NoError(t, err)
		_, err = db.Run(id)
		require.NoError(t, err)
		require.NoError(t, db.Close())
	}
	require.Equal(t, before, dirState(t, dir))

	db, err := Open(dir)
	require.NoError(t, err)
	require.NoError(t, db.Checkpoint()) // covers the commits after the fixture's snapshot
	require.NoError(t, db.Close())
	after := dirState(t, dir)
	require.NotEqual(t, before, after)
	for i := 0; i < 2; i++ {
		db, err = Open(dir)
		require.NoError(t, err)
		require.NoError(t, db.Checkpoint())
		require.NoError(t, db.Checkpoint())
		require.NoError(t, db.Close())
	}
	require.Equal(t, after, dirState(t, dir))

	// Commits after a reopen land at the end of the last segment, and are
	// all there after the next one.
	db, err = Open(dir)
	require.NoError(t, err)
	run, err := db.Run(id)
	require.NoError(t, err)
	require.ErrorIs(t, run.KV().Put("late", []byte("v")), nil)
	require.NoError(t, db.Close())
	db, err = Open(dir)
	require.NoError(t, err)
	run, err = db.Run(id)
	require.NoError(t, err)
	v, err := run.KV().Get("late")
	require.NoError(t, err)
	require.Equal(t, "v", string(v))
	require.NoError(t, db.Close())
}

// TestReadOnlyCorruption: damage that is really there is reported as by a
// writable open (ErrCorruption, the file named), after the reads again.
func TestReadOnlyCorruption(t *testing.T) {
	dir, _ := readOnlyFixture(t)
	segs, err := wal.Segments(vfs.OS, walDir(dir))
	require.NoError(t, err)
	first := filepath.Join(walDir(dir), wal.SegmentName(segs[len(segs)-1]))
	b, err := os.ReadFile(first)
	require.NoError(t, err)
	b[len(b)/2] ^= 0xff
	require.NoError(t, os.WriteFile(first, b, 0o644))
	require.NoError(t, os.Remove(filepath.Join(dir, lockName)))
	before := dirState(t, dir)
	_, err = Open(dir, WithReadOnly())
	require.ErrorIs(t, err, ErrCorruption)
	require.Contains(t, err.Error(), wal.SegmentName(segs[len(segs)-1]))
	require.Equal(t, before, dirState(t, dir))
}
