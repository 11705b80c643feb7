package inmem_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/inmem-db/inmem"
)

// coldFiles lists the cold tier's files of the database in dir.
func coldFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "cold", "*.cold"))
	require.NoError(t, err)
	return names
}

// frozenByHand opens a database in a new directory with no background
// freezer (runs move only through Runs.Freeze), closed at the test's end.
func frozenByHand(t *testing.T) (string, *inmem.DB) {
	t.Helper()
	dir := t.TempDir()
	db, err := inmem.Open(dir, inmem.WithColdAfter(-1))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return dir, db
}

func endRun(t *testing.T, db *inmem.DB, id inmem.RunID) {
	t.Helper()
	r, err := db.Run(id)
	require.NoError(t, err)
	require.NoError(t, r.End(inmem.Completed, ""))
}

func requireCold(t *testing.T, db *inmem.DB, id inmem.RunID, want bool) {
	t.Helper()
	info, err := db.Runs().Get(id)
	require.NoError(t, err)
	require.Equal(t, want, info.Cold, "run %s cold", id)
}

// TestColdHistoryModel: runs using every primitive, read at every step
// against a model (checkHistory: AsOf at each step, Steps, Replay, Diff,
// the fork), answer the same once frozen, after a reclaim dropped them
// from the arena, after a reopen (with and without a checkpoint), after
// a compaction of the tier; a new fork of a frozen run at a random step
// reads that step through the cold file.
func TestColdHistoryModel(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		for _, which := range []string{"parent", "child", "both"} {
			t.Run(fmt.Sprintf("%d/%s", seed, which), func(t *testing.T) {
				dir := t.TempDir()
				clock := newTestClock()
				opts := []inmem.Option{inmem.WithClock(clock.now), inmem.WithColdAfter(-1)}
				db, err := inmem.Open(dir, opts...)
				require.NoError(t, err)
				f := buildHistory(t, db, seed, 20)
				endRun(t, db, f.parent)
				endRun(t, db, f.child)
				checkHistory(t, db, f, "hot, ended")

				frozen := map[string][]inmem.RunID{
					"parent": {f.parent}, "child": {f.child}, "both": {f.parent, f.child},
				}[which]
				before := db.Stats()
				for _, id := range frozen {
					require.NoError(t, db.Runs().Freeze(id))
					requireCold(t, db, id, true)
				}
				require.Equal(t, len(frozen), db.Stats().ColdRuns)
				require.Len(t, coldFiles(t, dir), len(frozen))
				checkHistory(t, db, f, "cold")
				_, err = db.Reclaim()
				require.NoError(t, err)
				after := db.Stats()
				require.Less(t, after.Entries, before.Entries, "the reclaim dropped the frozen runs' versions")
				checkHistory(t, db, f, "cold, reclaimed")

				rng := rand.New(rand.NewPCG(seed, 3))
				if rng.IntN(2) == 0 {
					require.NoError(t, db.Checkpoint())
				}
				require.NoError(t, db.Close())
				db, err = inmem.Open(dir, opts...)
				require.NoError(t, err)
				defer db.Close()
				for _, id := range frozen {
					requireCold(t, db, id, true)
				}
				checkHistory(t, db, f, "cold, reopened")

				// A fork of the frozen parent at any step is hot and reads
				// through to the cold file at the fork version.
				step := 1 + rng.IntN(len(f.parentModels)-1)
				fork, err := db.Fork(f.parent, step)
				require.NoError(t, err)
				requireState(t, fork, f.parentModels[step], fmt.Sprintf("fork of the cold parent at step %d", step))
				requireCold(t, db, fork.ID(), false)
				got, err := db.Diff(f.parent, fork.ID())
				require.NoError(t, err)
				want := expectedDiff(f.parentModels[len(f.parentModels)-1], f.parentModels[step])
				normalize(&got, true)
				normalize(&want, true)
				require.Equal(t, want, got, "diff cold parent -> hot fork")

				require.NoError(t, db.CompactCold())
				require.Len(t, coldFiles(t, dir), 1, "the compaction merged the small files")
				checkHistory(t, db, f, "cold, compacted")
				requireState(t, fork, f.parentModels[step], "fork after the compaction")
			})
		}
	}
}

func TestFreezeRefusals(t *testing.T) {
	mem := memDB(t)
	r := freshRun(t, mem)
	require.NoError(t, r.End(inmem.Completed, ""))
	require.ErrorIs(t, mem.Runs().Freeze(r.ID()), inmem.ErrInvalidArgument, "in memory: no cold tier")

	db, err := inmem.Open(t.TempDir(), inmem.WithColdAfter(-1))
	require.NoError(t, err)
	defer db.Close()
	active := freshRun(t, db)
	require.NoError(t, active.KV().Put("k", []byte("v")))
	require.ErrorIs(t, db.Runs().Freeze(active.ID()), inmem.ErrInvalidArgument, "active")
	paused := freshRun(t, db)
	require.NoError(t, db.Runs().SetStatus(paused.ID(), inmem.Paused))
	require.ErrorIs(t, db.Runs().Freeze(paused.ID()), inmem.ErrInvalidArgument, "paused")
	require.ErrorIs(t, db.Runs().Freeze(inmem.RunID{1}), inmem.ErrRunNotFound)
	requireCold(t, db, active.ID(), false)

	require.NoError(t, active.End(inmem.Failed, "boom"))
	require.NoError(t, db.Runs().Freeze(active.ID()))
	require.NoError(t, db.Runs().Freeze(active.ID()), "freezing a cold run again does nothing")
	requireCold(t, db, active.ID(), true)
	v, err := active.KV().Get("k")
	require.NoError(t, err)
	require.Equal(t, "v", string(v))
	require.ErrorIs(t, active.KV().Put("k", []byte("w")), inmem.ErrRunEnded)
}

// TestColdAfterZero: with WithColdAfter(0) the freezer moves runs as they
// end, many to a file, and a deleted cold run leaves the manifest.
func TestColdAfterZero(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir, inmem.WithColdAfter(0))
	require.NoError(t, err)
	defer db.Close()
	var ids []inmem.RunID
	for i := range 20 {
		r := freshRun(t, db)
		require.NoError(t, r.KV().Put("k", []byte(fmt.Sprint(i))))
		_, err := r.Events().Append("e", []byte(fmt.Sprint(i)))
		require.NoError(t, err)
		require.NoError(t, r.End(inmem.Completed, ""))
		ids = append(ids, r.ID())
	}
	hot := freshRun(t, db)
	require.NoError(t, hot.KV().Put("k", []byte("hot")))
	require.Eventually(t, func() bool { return db.Stats().ColdRuns == len(ids) }, 10*time.Second, 10*time.Millisecond)
	require.Less(t, len(coldFiles(t, dir)), len(ids), "runs share files")
	requireCold(t, db, hot.ID(), false)
	for i, id := range ids {
		r, err := db.Run(id)
		require.NoError(t, err)
		v, err := r.KV().Get("k")
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(i), string(v))
		evs, err := r.Events().Range(0, 10)
		require.NoError(t, err)
		require.Len(t, evs, 1)
	}
	require.NoError(t, db.Runs().Delete(ids[0]))
	_, err = db.Run(ids[0])
	require.ErrorIs(t, err, inmem.ErrRunNotFound)
	require.Equal(t, len(ids)-1, db.Stats().ColdRuns)
	st := db.Stats()
	require.Positive(t, st.ColdBytes)
	require.Positive(t, st.CacheHits+st.CacheMisses)
}

// TestColdDamage: a damaged cold file fails the reads of its runs with
// ErrCorruption naming the file; other runs keep working; Verify fails.
func TestColdDamage(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir, inmem.WithColdAfter(-1))
	require.NoError(t, err)
	damaged := freshRun(t, db)
	for i := range 50 {
		require.NoError(t, damaged.KV().Put(fmt.Sprint("k", i), []byte(fmt.Sprint("value ", i))))
		_, err := damaged.Events().Append("e", []byte(fmt.Sprint(i)))
		require.NoError(t, err)
	}
	require.NoError(t, damaged.End(inmem.Completed, ""))
	require.NoError(t, db.Runs().Freeze(damaged.ID()))
	other := freshRun(t, db)
	require.NoError(t, other.KV().Put("k", []byte("v")))
	require.NoError(t, other.End(inmem.Completed, ""))
	require.NoError(t, db.Runs().Freeze(other.ID()))
	_, err = db.Reclaim()
	require.NoError(t, err)
	require.NoError(t, db.Close())

	files := coldFiles(t, dir)
	require.Len(t, files, 2)
	// The damaged run's file is the first one written.
	b, err := os.ReadFile(files[0])
	require.NoError(t, err)
	b[10] ^= 0xFF // inside the first block
	require.NoError(t, os.WriteFile(files[0], b, 0o644))

	db, err = inmem.Open(dir, inmem.WithColdAfter(-1))
	require.NoError(t, err)
	r, err := db.Run(damaged.ID())
	require.NoError(t, err)
	_, err = r.KV().Get("k1")
	require.ErrorIs(t, err, inmem.ErrCorruption)
	require.ErrorContains(t, err, filepath.Base(files[0]))
	_, err = r.KV().List("")
	require.ErrorIs(t, err, inmem.ErrCorruption)
	_, err = r.Events().Len()
	require.ErrorIs(t, err, inmem.ErrCorruption)
	_, err = r.Steps()
	require.ErrorIs(t, err, inmem.ErrCorruption)
	_, err = db.Replay(damaged.ID())
	require.ErrorIs(t, err, inmem.ErrCorruption)
	o, err := db.Run(other.ID())
	require.NoError(t, err)
	v, err := o.KV().Get("k")
	require.NoError(t, err)
	require.Equal(t, "v", string(v))
	require.NoError(t, db.Close())
	rep, err := inmem.VerifyFiles(dir)
	require.NoError(t, err)
	require.False(t, rep.OK())
	require.Len(t, rep.Problems, 1, "%v", rep.Problems)
	require.Equal(t, "cold/"+filepath.Base(files[0]), rep.Problems[0].File)
	require.Equal(t, 2, rep.ColdFiles)
	require.Equal(t, 2, rep.ColdRuns)

	// A file the manifest names that is gone.
	require.NoError(t, os.Remove(files[1]))
	rep, err = inmem.VerifyFiles(dir)
	require.NoError(t, err)
	require.Len(t, rep.Problems, 2, "%v", rep.Problems)
	require.Contains(t, rep.Problems[1].What, "missing")
}

// TestColdBackgroundCompaction: once most runs of a file are deleted, the
// freezer's next pass rewrites the file with the rest, which read the
// same, and removes the old one.
func TestColdBackgroundCompaction(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir, inmem.WithColdAfter(-1))
	require.NoError(t, err)
	var runs []*inmem.Run
	for i := range 10 {
		r := freshRun(t, db)
		require.NoError(t, r.KV().Put("k", []byte(fmt.Sprint(i))))
		require.NoError(t, r.End(inmem.Completed, ""))
		runs = append(runs, r)
	}
	require.NoError(t, db.Close())
	// Reopened with the freezer on: it finds the ten ended runs due and
	// freezes them in one pass, into one file.
	db, err = inmem.Open(dir, inmem.WithColdAfter(0))
	require.NoError(t, err)
	defer db.Close()
	require.Eventually(t, func() bool { return db.Stats().ColdRuns == 10 }, 10*time.Second, 5*time.Millisecond)
	files := coldFiles(t, dir)
	require.Len(t, files, 1)
	for _, r := range runs[:8] {
		require.NoError(t, db.Runs().Delete(r.ID()))
	}
	// A run's end wakes the freezer, which compacts after freezing.
	kick := freshRun(t, db)
	require.NoError(t, kick.End(inmem.Completed, ""))
	require.Eventually(t, func() bool {
		st := db.Stats()
		return st.ColdCompactions > 0 && st.ColdRuns == 3
	}, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		now := coldFiles(t, dir)
		return !slices.Contains(now, files[0])
	}, 10*time.Second, 5*time.Millisecond, "the old file is removed")
	for i, r := range runs[8:] {
		h, err := db.Run(r.ID())
		require.NoError(t, err)
		v, err := h.KV().Get("k")
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(8+i), string(v))
	}
}

// TestColdDeletedParentOfFork: a deleted cold run that a fork reads
// through stays in the manifest, so the fork reads the same before and
// after a reopen and a compaction; once the fork is deleted too, a
// compaction drops the entry and the file.
func TestColdDeletedParentOfFork(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir, inmem.WithColdAfter(-1))
	require.NoError(t, err)
	parent := freshRun(t, db)
	for i := range 5 {
		require.NoError(t, parent.KV().Put(fmt.Sprint("k", i), []byte(fmt.Sprint(i))))
	}
	require.NoError(t, parent.End(inmem.Completed, ""))
	require.NoError(t, db.Runs().Freeze(parent.ID()))
	fork, err := db.Fork(parent.ID(), 3)
	require.NoError(t, err)
	require.NoError(t, db.Runs().Delete(parent.ID()))
	check := func(db *inmem.DB, phase string) {
		f, err := db.Run(fork.ID())
		require.NoError(t, err, phase)
		es, err := f.KV().List("")
		require.NoError(t, err, phase)
		require.Equal(t, []string{"k0", "k1", "k2"}, entryKeys(es), phase)
	}
	check(db, "after the delete")
	_, err = db.Reclaim()
	require.NoError(t, err)
	require.NoError(t, db.CompactCold())
	check(db, "after a compaction")
	require.NoError(t, db.Close())
	db, err = inmem.Open(dir, inmem.WithColdAfter(-1))
	require.NoError(t, err)
	defer db.Close()
	check(db, "after a reopen")
	require.Len(t, coldFiles(t, dir), 1)

	require.NoError(t, db.Runs().Delete(fork.ID()))
	require.NoError(t, db.CompactCold())
	require.Empty(t, coldFiles(t, dir), "nothing reads the file any more")
}

// TestColdReadsDuringTransitions: readers of a run, through every path
// (point reads, lists, a view at a step, Steps), see the same answers
// while the run is frozen, reclaimed out of the arena, moved by a
// compaction and checkpointed, all concurrently.
func TestColdReadsDuringTransitions(t *testing.T) {
	_, db := frozenByHand(t)
	var runs []*inmem.Run
	for i := range 4 {
		r := freshRun(t, db)
		for s := range 10 {
			require.NoError(t, r.KV().Put(fmt.Sprint("k", s), []byte(fmt.Sprint(i, "/", s))))
		}
		require.NoError(t, r.End(inmem.Completed, ""))
		runs = append(runs, r)
	}
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for _, r := range runs {
		go func() {
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				es, err := r.KV().List("")
				if err == nil && len(es) != 10 {
					err = fmt.Errorf("list: %d entries", len(es))
				}
				if err == nil {
					var v []byte
					v, err = r.KV().Get("k3")
					if err == nil && string(v) == "" {
						err = fmt.Errorf("get k3: empty")
					}
				}
				if err == nil {
					var view *inmem.View
					if view, err = r.AsOf(4); err == nil {
						es, err = view.KV().List("")
						if err == nil && len(es) != 4 {
							err = fmt.Errorf("as of step 4: %d entries", len(es))
						}
					}
				}
				if err == nil {
					var steps []inmem.Step
					if steps, err = r.Steps(); err == nil && len(steps) != 10 {
						err = fmt.Errorf("%d steps", len(steps))
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for _, r := range runs {
		require.NoError(t, db.Runs().Freeze(r.ID()))
		_, err := db.Reclaim()
		require.NoError(t, err)
	}
	require.NoError(t, db.Checkpoint())
	require.NoError(t, db.CompactCold())
	_, err := db.Reclaim()
	require.NoError(t, err)
	close(stop)
	for range runs {
		require.NoError(t, <-errs)
	}
	require.Equal(t, 4, db.Stats().ColdRuns)
}

// TestColdReplayer: the calls a Recorder recorded come back from a frozen
// run, in order, without calling anything.
func TestColdReplayer(t *testing.T) {
	_, db := frozenByHand(t)
	run := freshRun(t, db)
	rec := run.Recorder().WithKind(inmem.LLMCall)
	for i := range 5 {
		out, err := rec.Do("llm", []byte(fmt.Sprint("prompt ", i)), func() ([]byte, error) { return []byte(fmt.Sprint("answer ", i)), nil })
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint("answer ", i), string(out))
	}
	require.NoError(t, run.End(inmem.Completed, ""))
	require.NoError(t, db.Runs().Freeze(run.ID()))
	_, err := db.Reclaim()
	require.NoError(t, err)
	rp, err := db.Replayer(run.ID())
	require.NoError(t, err)
	for i := range 5 {
		out, err := rp.Do("llm", []byte(fmt.Sprint("prompt ", i)), mustNotCall(t))
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint("answer ", i), string(out))
	}
	require.Zero(t, rp.Remaining())
}

// TestCompactColdRewritesAfterOneDelete: CompactCold rewrites a file as
// soon as one of its runs is deleted, not only once most are.
func TestCompactColdRewritesAfterOneDelete(t *testing.T) {
	dir, db := frozenByHand(t)
	var runs []*inmem.Run
	for i := range 4 {
		r := freshRun(t, db)
		require.NoError(t, r.KV().Put("k", []byte(fmt.Sprint(i))))
		require.NoError(t, r.End(inmem.Completed, ""))
		require.NoError(t, db.Runs().Freeze(r.ID()))
		runs = append(runs, r)
	}
	require.NoError(t, db.CompactCold())
	merged := coldFiles(t, dir)
	require.Len(t, merged, 1)
	require.NoError(t, db.Runs().Delete(runs[0].ID()))
	require.NoError(t, db.CompactCold())
	now := coldFiles(t, dir)
	require.Len(t, now, 1)
	require.NotEqual(t, merged, now, "the file was rewritten without the deleted run")
	for i, r := range runs[1:] {
		v, err := r.KV().Get("k")
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(i+1), string(v))
	}
}

// TestColdMissingFile: a file the manifest names that is gone is damage:
// reads of its runs fail with ErrCorruption naming it.
func TestColdMissingFile(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir, inmem.WithColdAfter(-1))
	require.NoError(t, err)
	r := freshRun(t, db)
	require.NoError(t, r.KV().Put("k", []byte("v")))
	require.NoError(t, r.End(inmem.Completed, ""))
	require.NoError(t, db.Runs().Freeze(r.ID()))
	require.NoError(t, db.Close())
	files := coldFiles(t, dir)
	require.Len(t, files, 1)
	require.NoError(t, os.Remove(files[0]))
	db, err = inmem.Open(dir, inmem.WithColdAfter(-1))
	require.NoError(t, err)
	defer db.Close()
	h, err := db.Run(r.ID())
	require.NoError(t, err)
	_, err = h.KV().Get("k")
	require.ErrorIs(t, err, inmem.ErrCorruption)
	require.ErrorContains(t, err, filepath.Base(files[0]))
}
