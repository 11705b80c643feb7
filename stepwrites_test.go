package inmem_test

import (
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// TestStepsNameCreatedCollections: a step that only creates a vector
// collection lists it, so no step shows empty writes.
func TestStepsNameCreatedCollections(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	cfg := inmem.VectorConfig{Dim: 2, Metric: inmem.Cosine}
	require.NoError(t, run.Vectors().CreateCollection("docs", cfg))
	require.NoError(t, run.Vectors().Upsert("docs", "k1", []float32{1, 0}, nil))
	require.NoError(t, run.Update(func(tx *inmem.Tx) error {
		if err := tx.Vectors().CreateCollection("notes", cfg); err != nil {
			return err
		}
		return tx.Vectors().Upsert("notes", "a", []float32{0, 1}, nil)
	}))

	steps, err := run.Steps()
	require.NoError(t, err)
	require.Len(t, steps, 3)
	require.Equal(t, inmem.StepWrites{Vectors: []string{"docs"}}, steps[0].Writes)
	require.Equal(t, inmem.StepWrites{Vectors: []string{"k1"}}, steps[1].Writes)
	require.Equal(t, inmem.StepWrites{Vectors: []string{"notes", "a"}}, steps[2].Writes)

	// Replay finds every step wrote something, and a fork after the
	// collection step replays and diffs like its parent.
	rep, err := db.Replay(run.ID())
	require.NoError(t, err)
	require.True(t, rep.Match, "%+v", rep)
	fork, err := db.Fork(run.ID(), 1)
	require.NoError(t, err)
	require.NoError(t, fork.Vectors().Upsert("docs", "k1", []float32{1, 0}, nil))
	fsteps, err := fork.Steps()
	require.NoError(t, err)
	require.Equal(t, []inmem.Step{{N: 1, Version: fsteps[0].Version, Time: fsteps[0].Time, Writes: inmem.StepWrites{Vectors: []string{"k1"}}}}, fsteps)
	rep, err = db.Replay(fork.ID())
	require.NoError(t, err)
	require.True(t, rep.Match, "%+v", rep)
	d, err := db.Diff(run.ID(), fork.ID())
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, d.Vectors.Removed)
	require.Empty(t, d.Vectors.Added)
	require.Empty(t, d.Vectors.Changed)
}
