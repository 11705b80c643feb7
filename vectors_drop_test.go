package inmem_test

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// requireSearch requires that a search of coll for q returns keys, in order.
func requireSearch(t *testing.T, vs *inmem.Vectors, coll string, q []float32, k int, keys []string, opts ...inmem.SearchOption) []inmem.Match {
	t.Helper()
	ms, err := vs.Search(coll, q, k, opts...)
	require.NoError(t, err)
	require.Equal(t, keys, keysOf(ms))
	return ms
}

// TestVectorsDropCollection: a drop removes the configuration and every
// vector in one step; the name then takes a collection of another
// dimension and metric, in a run and in a shared scope, and the run's
// earlier steps still see the dropped one.
func TestVectorsDropCollection(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	for name, r := range map[string]*inmem.Run{"run": run, "shared": db.Shared(inmem.Namespace{App: "a"})} {
		t.Run(name, func(t *testing.T) {
			vs := r.Vectors()
			require.ErrorIs(t, vs.DropCollection("c"), inmem.ErrNotFound)
			require.NoError(t, vs.CreateCollection("c", inmem.VectorConfig{Dim: 3, Metric: inmem.Cosine}))
			require.NoError(t, vs.Upsert("c", "a", []float32{1, 0, 0}, nil))
			require.NoError(t, vs.Upsert("c", "b", []float32{0, 1, 0}, nil))
			requireSearch(t, vs, "c", []float32{1, 0, 0}, 5, []string{"a", "b"}) // builds the graph

			require.NoError(t, vs.DropCollection("c"))
			_, err := vs.Search("c", []float32{1, 0, 0}, 5)
			require.ErrorIs(t, err, inmem.ErrNotFound)
			_, err = vs.Get("c", "a")
			require.ErrorIs(t, err, inmem.ErrNotFound)
			require.ErrorIs(t, vs.Upsert("c", "a", []float32{1, 0, 0}, nil), inmem.ErrNotFound)
			require.ErrorIs(t, vs.DropCollection("c"), inmem.ErrNotFound)

			require.NoError(t, vs.CreateCollection("c", inmem.VectorConfig{Dim: 5, Metric: inmem.Euclidean}))
			require.NoError(t, vs.Upsert("c", "x", []float32{0, 0, 0, 0, 1}, nil))
			require.NoError(t, vs.Upsert("c", "a", []float32{3, 0, 0, 0, 0}, nil))
			ms := requireSearch(t, vs, "c", []float32{0, 0, 0, 0, 1}, 5, []string{"x", "a"})
			require.Equal(t, float32(0), ms[0].Score, "euclidean now: 0 is a match")
			_, err = vs.Search("c", []float32{1, 0, 0}, 5)
			require.ErrorContains(t, err, "dimension")
		})
	}

	// The run's history: before the drop the old collection, after it the
	// new one, read in any order (each has its own graph).
	steps, err := run.Steps()
	require.NoError(t, err)
	require.Len(t, steps, 7) // create, a, b, drop, create, x, a
	require.ElementsMatch(t, []string{"a", "b", "c"}, steps[3].Writes.Vectors, "the drop names the keys and the collection")
	for range 2 {
		view, err := run.AsOf(3)
		require.NoError(t, err)
		requireSearch(t, view.Vectors(), "c", []float32{0, 1, 0}, 5, []string{"b", "a"})
		view, err = run.AsOf(4)
		require.NoError(t, err)
		_, err = view.Vectors().Search("c", []float32{0, 1, 0}, 5)
		require.ErrorIs(t, err, inmem.ErrNotFound)
		view, err = run.AsOf(6)
		require.NoError(t, err)
		requireSearch(t, view.Vectors(), "c", []float32{0, 0, 0, 0, 1}, 5, []string{"x"})
		requireSearch(t, run.Vectors(), "c", []float32{3, 0, 0, 0, 0}, 5, []string{"a", "x"})
	}
	rep, err := db.Replay(run.ID())
	require.NoError(t, err)
	require.True(t, rep.Match, rep.Reason)

	// A fork from before the drop has the old collection and can drop it
	// in turn; its parent is untouched.
	fork, err := db.Fork(run.ID(), 3)
	require.NoError(t, err)
	fv := fork.Vectors()
	requireSearch(t, fv, "c", []float32{1, 0, 0}, 5, []string{"a", "b"})
	require.NoError(t, fv.Upsert("c", "f", []float32{1, 1, 0}, nil))
	require.NoError(t, fv.DropCollection("c"))
	require.NoError(t, fv.CreateCollection("c", inmem.VectorConfig{Dim: 2, Metric: inmem.Dot}))
	require.NoError(t, fv.Upsert("c", "y", []float32{1, 2}, nil))
	requireSearch(t, fv, "c", []float32{1, 0}, 5, []string{"y"})
	view, err := fork.AsOf(1)
	require.NoError(t, err)
	requireSearch(t, view.Vectors(), "c", []float32{1, 0.9, 0}, 5, []string{"f", "a", "b"})
	requireSearch(t, run.Vectors(), "c", []float32{3, 0, 0, 0, 0}, 5, []string{"a", "x"})
	rep, err = db.Replay(fork.ID())
	require.NoError(t, err)
	require.True(t, rep.Match, rep.Reason)
	d, err := db.Diff(run.ID(), fork.ID())
	require.NoError(t, err)
	require.Equal(t, []string{"y"}, d.Vectors.Added)
	require.Equal(t, []string{"a", "x"}, d.Vectors.Removed)
}

// TestVectorsDropAndCreateInOneTransaction: a transaction may drop a
// collection and create it again with another configuration; a failing
// transaction leaves both untouched.
func TestVectorsDropAndCreateInOneTransaction(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	vs := run.Vectors()
	require.NoError(t, vs.CreateCollection("c", inmem.VectorConfig{Dim: 2, Metric: inmem.Euclidean}))
	require.NoError(t, vs.Upsert("c", "a", []float32{1, 0}, nil))
	require.NoError(t, vs.Upsert("c", "b", []float32{0, 1}, nil))
	requireSearch(t, vs, "c", []float32{1, 0}, 5, []string{"a", "b"})

	boom := errors.New("boom")
	require.ErrorIs(t, run.Update(func(tx *inmem.Tx) error {
		require.NoError(t, tx.Vectors().DropCollection("c"))
		return boom
	}), boom)
	requireSearch(t, vs, "c", []float32{1, 0}, 5, []string{"a", "b"})

	require.NoError(t, run.Update(func(tx *inmem.Tx) error {
		tvs := tx.Vectors()
		if err := tvs.DropCollection("c"); err != nil {
			return err
		}
		if err := tvs.CreateCollection("c", inmem.VectorConfig{Dim: 3, Metric: inmem.Cosine}); err != nil {
			return err
		}
		if err := tvs.Upsert("c", "a", []float32{0, 0, 1}, nil); err != nil {
			return err
		}
		// The transaction's search sees the new collection only.
		ms, err := tvs.Search("c", []float32{0, 0, 1}, 5)
		require.NoError(t, err)
		require.Equal(t, []string{"a"}, keysOf(ms))
		return nil
	}))
	requireSearch(t, vs, "c", []float32{0, 1, 1}, 5, []string{"a"})
	view, err := run.AsOf(3)
	require.NoError(t, err)
	requireSearch(t, view.Vectors(), "c", []float32{0, 1}, 5, []string{"b", "a"})
	rep, err := db.Replay(run.ID())
	require.NoError(t, err)
	require.True(t, rep.Match, rep.Reason)
}

// TestVectorsDropCollectionReopen: a drop and a new collection of the
// same name survive a restart, from the WAL over a snapshot whose graph
// is the dropped collection's (same dimension, another metric) and over
// one taken after the drop.
func TestVectorsDropCollectionReopen(t *testing.T) {
	dir := t.TempDir()
	open := func() *inmem.DB {
		db, err := inmem.Open(dir, inmem.WithDurability(inmem.Strict()))
		require.NoError(t, err)
		return db
	}
	db := open()
	run, err := db.BeginRun()
	require.NoError(t, err)
	id := run.ID()
	for _, r := range []*inmem.Run{run, db.Shared(inmem.Namespace{})} {
		vs := r.Vectors()
		require.NoError(t, vs.CreateCollection("c", inmem.VectorConfig{Dim: 2, Metric: inmem.Dot}))
		require.NoError(t, vs.Upsert("c", "big", []float32{10, 0}, nil))
		require.NoError(t, vs.Upsert("c", "near", []float32{1, 1}, nil))
		requireSearch(t, vs, "c", []float32{1, 1}, 5, []string{"big", "near"}) // dot: the long one wins
	}
	require.NoError(t, db.Checkpoint()) // carries the shared scope's dot graph
	for _, r := range []*inmem.Run{run, db.Shared(inmem.Namespace{})} {
		vs := r.Vectors()
		require.NoError(t, vs.DropCollection("c"))
		require.NoError(t, vs.CreateCollection("c", inmem.VectorConfig{Dim: 2, Metric: inmem.Euclidean}))
		require.NoError(t, vs.Upsert("c", "big", []float32{10, 0}, nil))
		require.NoError(t, vs.Upsert("c", "near", []float32{1, 1}, nil))
	}
	check := func(db *inmem.DB) {
		t.Helper()
		run, err := db.Run(id)
		require.NoError(t, err)
		for _, r := range []*inmem.Run{run, db.Shared(inmem.Namespace{})} {
			ms := requireSearch(t, r.Vectors(), "c", []float32{1, 1}, 5, []string{"near", "big"}) // euclidean: the close one wins
			require.Equal(t, float32(0), ms[0].Score)
		}
		view, err := run.AsOf(3)
		require.NoError(t, err)
		requireSearch(t, view.Vectors(), "c", []float32{1, 1}, 5, []string{"big", "near"})
		rep, err := db.Replay(id)
		require.NoError(t, err)
		require.True(t, rep.Match, rep.Reason)
	}
	check(db)
	require.NoError(t, db.Close())

	db = open()
	require.Equal(t, uint64(1), db.Stats().VectorGraphsLoaded, "the dropped collection's graph came with the snapshot")
	check(db)
	require.NoError(t, db.Checkpoint())
	require.NoError(t, db.Close())

	db = open()
	defer db.Close()
	check(db)
}

// TestVectorsSearchSeesOwnWrites: a transaction's search sees what it
// upserted, replaced and deleted, with a filter applied to both its own
// vectors and the committed ones.
func TestVectorsSearchSeesOwnWrites(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	for name, r := range map[string]*inmem.Run{"run": run, "shared": db.Shared(inmem.Namespace{})} {
		t.Run(name, func(t *testing.T) {
			vs := r.Vectors()
			require.NoError(t, vs.CreateCollection("c", inmem.VectorConfig{Dim: 2, Metric: inmem.Euclidean}))
			require.NoError(t, vs.Upsert("c", "a", []float32{1, 0}, map[string]any{"lang": "en"}))
			require.NoError(t, vs.Upsert("c", "b", []float32{2, 0}, map[string]any{"lang": "de"}))
			requireSearch(t, vs, "c", []float32{0, 0}, 5, []string{"a", "b"})

			require.NoError(t, r.Update(func(tx *inmem.Tx) error {
				tvs := tx.Vectors()
				require.NoError(t, tvs.Upsert("c", "new", []float32{0.5, 0}, map[string]any{"lang": "en"}))
				requireSearch(t, tvs, "c", []float32{0, 0}, 5, []string{"new", "a", "b"})
				requireSearch(t, tvs, "c", []float32{0, 0}, 1, []string{"new"})
				requireSearch(t, tvs, "c", []float32{0, 0}, 5, []string{"new", "a"}, inmem.Where(inmem.Eq("lang", "en")))
				requireSearch(t, tvs, "c", []float32{0, 0}, 5, []string{"b"}, inmem.Where(inmem.Eq("lang", "de")))

				require.NoError(t, tvs.Delete("c", "a"))
				requireSearch(t, tvs, "c", []float32{0, 0}, 5, []string{"new", "b"})

				require.NoError(t, tvs.Upsert("c", "new", []float32{9, 0}, map[string]any{"lang": "en"}))
				ms := requireSearch(t, tvs, "c", []float32{0, 0}, 5, []string{"b", "new"})
				require.Equal(t, float32(-9), ms[1].Score, "scored as the collection scores")
				requireSearch(t, tvs, "c", []float32{0, 0}, 1, []string{"b"})

				require.NoError(t, tvs.Upsert("c", "b", []float32{20, 0}, map[string]any{"lang": "de"}))
				requireSearch(t, tvs, "c", []float32{0, 0}, 5, []string{"new", "b"})
				return nil
			}))
			requireSearch(t, vs, "c", []float32{0, 0}, 5, []string{"new", "b"})

			// A transaction that creates a collection searches it.
			require.NoError(t, r.Update(func(tx *inmem.Tx) error {
				tvs := tx.Vectors()
				require.NoError(t, tvs.CreateCollection("d", inmem.VectorConfig{Dim: 2, Metric: inmem.Cosine}))
				requireSearch(t, tvs, "d", []float32{1, 0}, 5, []string{})
				require.NoError(t, tvs.Upsert("d", "x", []float32{1, 0}, nil))
				requireSearch(t, tvs, "d", []float32{1, 0}, 5, []string{"x"})
				return nil
			}))
		})
	}
}

// TestVectorsDropFreesGraph: a dropped collection's graph leaves memory
// with it.
func TestVectorsDropFreesGraph(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	vs := db.Shared(inmem.Namespace{}).Vectors()
	require.NoError(t, vs.CreateCollection("c", inmem.VectorConfig{Dim: 2, Metric: inmem.Euclidean}))
	require.NoError(t, vs.Upsert("c", "a", []float32{1, 0}, nil))
	require.NoError(t, vs.Upsert("c", "b", []float32{0, 1}, nil))
	requireSearch(t, vs, "c", []float32{1, 0}, 5, []string{"a", "b"})
	require.Equal(t, int64(2), db.Stats().VectorNodes)
	require.NoError(t, vs.DropCollection("c"))
	require.Zero(t, db.Stats().VectorNodes)
}

// TestVectorsCollections lists collections by name with their
// configurations, and a dropped one no more.
func TestVectorsCollections(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	vs := db.Shared(inmem.Namespace{}).Vectors()
	cs, err := vs.Collections()
	require.NoError(t, err)
	require.Empty(t, cs)
	require.NoError(t, vs.CreateCollection("notes", inmem.VectorConfig{Dim: 4, Metric: inmem.Dot}))
	require.NoError(t, vs.CreateCollection("docs", inmem.VectorConfig{Dim: 2, Metric: inmem.Cosine}))
	require.NoError(t, vs.Upsert("docs", "a", []float32{1, 0}, nil))
	cs, err = vs.Collections()
	require.NoError(t, err)
	require.Equal(t, []inmem.CollectionInfo{
		{Name: "docs", Config: inmem.VectorConfig{Dim: 2, Metric: inmem.Cosine}},
		{Name: "notes", Config: inmem.VectorConfig{Dim: 4, Metric: inmem.Dot}},
	}, cs)
	require.NoError(t, vs.DropCollection("docs"))
	cs, err = vs.Collections()
	require.NoError(t, err)
	require.Equal(t, []string{"notes"}, []string{cs[0].Name})
	require.Len(t, cs, 1)
}

// TestVectorsDropConcurrent: searches and upserts beside drops that make
// the collection again with another dimension either succeed against the
// collection they read or fail cleanly (not found, wrong dimension); at
// the end the collection answers exactly, in a run and in a shared scope.
func TestVectorsDropConcurrent(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	for name, r := range map[string]*inmem.Run{"run": run, "shared": db.Shared(inmem.Namespace{})} {
		t.Run(name, func(t *testing.T) {
			vs := r.Vectors()
			vec := func(dim, i int) []float32 {
				v := make([]float32, dim)
				v[i%dim] = 1
				v[(i+1)%dim] = float32(i%7) / 10
				return v
			}
			// Failures a reader racing a drop may see.
			benign := func(err error) bool {
				return err == nil || errors.Is(err, inmem.ErrNotFound) || errors.Is(err, inmem.ErrInvalidArgument) || errors.Is(err, inmem.ErrConflict)
			}
			done := make(chan struct{})
			errs := make(chan error, 4)
			var found atomic.Int64
			for w := range 3 {
				go func() {
					var bad error
					for i := 0; ; i++ {
						select {
						case <-done:
							errs <- bad
							return
						default:
						}
						for _, dim := range []int{3, 5} {
							if err := vs.Upsert("c", fmt.Sprintf("w%d-%d", w, i%20), vec(dim, i), nil); !benign(err) {
								bad = err
							}
							ms, err := vs.Search("c", vec(dim, i), 3)
							if !benign(err) {
								bad = err
							}
							if len(ms) > 0 {
								found.Add(1)
							}
						}
					}
				}()
			}
			// At least 30 drops, and on until the workers found something
			// (without -race the drops can outrun their first search).
			for i := 0; i < 30 || (found.Load() == 0 && i < 100000); i++ {
				dim := 3 + 2*(i%2)
				_ = vs.DropCollection("c")
				require.NoError(t, vs.CreateCollection("c", inmem.VectorConfig{Dim: dim, Metric: inmem.Euclidean}))
				runtime.Gosched()
			}
			close(done)
			for range 3 {
				require.NoError(t, <-errs)
			}
			require.NotZero(t, found.Load(), "searches found vectors between the drops")
			require.NoError(t, vs.DropCollection("c"))
			require.NoError(t, vs.CreateCollection("c", inmem.VectorConfig{Dim: 2, Metric: inmem.Euclidean}))
			require.NoError(t, vs.Upsert("c", "a", []float32{1, 0}, nil))
			require.NoError(t, vs.Upsert("c", "b", []float32{0, 3}, nil))
			requireSearch(t, vs, "c", []float32{1, 0}, 10, []string{"a", "b"})
		})
	}
}
