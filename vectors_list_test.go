package inmem_test

import (
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
	rs, err = vs.List("docs")
	require.NoError(t, err)
	require.Equal(t, []string{"b"}, recordKeys(rs))

	require.NoError(t, run.Update(func(tx *inmem.Tx) error {
		if err := tx.Vectors().Upsert("docs", "c", []float32{2, 2}, nil); err != nil {
			return err
		}
		rs, err := tx.Vectors().List("docs")
		require.NoError(t, err)
		require.Equal(t, []string{"b", "c"}, recordKeys(rs))
		return nil
	}))
}
