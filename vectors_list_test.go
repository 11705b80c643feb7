package inmem_test

import (
	"fmt"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

func recordKeys(rs []inmem.VectorRecord) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Key)
	}
	return out
}

// TestVectorsList: List gives a collection's records in key order, with
// their vectors and metadata, as of a view's step, with a transaction's
// own writes, and ErrNotFound for a collection that is not there.
func TestVectorsList(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	vs := run.Vectors()
	_, err = vs.List("docs")
	require.ErrorIs(t, err, inmem.ErrNotFound)
	_, err = vs.Len("docs")
	require.ErrorIs(t, err, inmem.ErrNotFound)
	require.NoError(t, vs.CreateCollection("docs", inmem.VectorConfig{Dim: 2, Metric: inmem.Euclidean}))
	require.NoError(t, vs.CreateCollection("other", inmem.VectorConfig{Dim: 2, Metric: inmem.Euclidean}))
	require.NoError(t, vs.Upsert("docs", "b", []float32{0, 1}, map[string]any{"lang": "en"}))
	require.NoError(t, vs.Upsert("docs", "a", []float32{1, 0}, nil))
	require.NoError(t, vs.Upsert("other", "z", []float32{1, 1}, nil))
	rs, err := vs.List("docs")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, recordKeys(rs))
	require.Equal(t, []float32{0, 1}, rs[1].Vector)
	require.Equal(t, "en", rs[1].Meta["lang"])

	require.NoError(t, vs.Delete("docs", "a"))
	view, err := run.AsOf(4) // after the upsert of a
	require.NoError(t, err)
	rs, err = view.Vectors().List("docs")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, recordKeys(rs))
	n, err := view.Vectors().Len("docs")
	require.NoError(t, err)
	require.Equal(t, 2, n, "Len as of the view's step")
	rs, err = vs.List("docs")
	require.NoError(t, err)
	require.Equal(t, []string{"b"}, recordKeys(rs))
	n, err = vs.Len("docs")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = vs.Len("other")
	require.NoError(t, err)
	require.Equal(t, 1, n, "only its own collection's records")

	require.NoError(t, run.Update(func(tx *inmem.Tx) error {
		if err := tx.Vectors().Upsert("docs", "c", []float32{2, 2}, nil); err != nil {
			return err
		}
		rs, err := tx.Vectors().List("docs")
		require.NoError(t, err)
		require.Equal(t, []string{"b", "c"}, recordKeys(rs))
		n, err := tx.Vectors().Len("docs")
		require.NoError(t, err)
		require.Equal(t, 2, n, "with the transaction's own writes")
		return nil
	}))
}

// TestDroppedCollectionLeavesNoGraph: a shared collection whose graph a
// snapshot holds, dropped after it, has no graph in memory after a reopen
// (recovery drops the loaded one when it replays the drop).
func TestDroppedCollectionLeavesNoGraph(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	vs := db.Shared(inmem.Namespace{App: "mem"}).Vectors()
	require.NoError(t, vs.CreateCollection("docs", inmem.VectorConfig{Dim: 2, Metric: inmem.Euclidean}))
	for i := range 50 {
		require.NoError(t, vs.Upsert("docs", fmt.Sprint("k", i), []float32{float32(i), 1}, nil))
	}
	_, err = vs.Search("docs", []float32{1, 1}, 3)
	require.NoError(t, err)
	require.NoError(t, db.Checkpoint())
	require.NoError(t, vs.DropCollection("docs"))
	require.NoError(t, db.Close())

	db, err = inmem.Open(dir)
	require.NoError(t, err)
	defer db.Close()
	require.Zero(t, db.Stats().VectorNodes, "the dropped collection's graph is gone")
	cs, err := db.Shared(inmem.Namespace{App: "mem"}).Vectors().Collections()
	require.NoError(t, err)
	require.Empty(t, cs)
}
