package inmem

import (
	"testing"

	"github.com/inmem-db/inmem/internal/keys"
	"github.com/inmem-db/inmem/primitives"
	"github.com/stretchr/testify/require"
)

// replayFixture is a run with five steps: events 0..4, one per step, and a
// KV key per step.
func replayFixture(t *testing.T) (*DB, *Run) {
	db, err := OpenInMemory()
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	run, err := db.BeginRun()
	require.NoError(t, err)
	for i := range 5 {
		require.NoError(t, run.Update(func(tx *Tx) error {
			if _, err := tx.Events().Append("e", []byte{byte('a' + i)}); err != nil {
				return err
			}
			return tx.KV().Put(string(rune('k'+i)), []byte{byte(i)})
		}))
	}
	rep, err := db.Replay(run.ID())
	require.NoError(t, err)
	require.Equal(t, ReplayReport{Match: true, Steps: 5}, rep)
	return db, run
}

func TestReplayDetectsTamperedEvent(t *testing.T) {
	db, run := replayFixture(t)
	// Rewrite event 1's payload at step 4's version, as a damaged history
	// would hold it: the chain no longer checks out from step 4 on.
	rs := run.st
	k := keys.AppendKey(nil, rs.scope, keys.TagEvent, primitives.EventKey(1))
	raw, _, ok := db.store.Current().List.Get(k, db.store.Oracle.Visible())
	require.True(t, ok)
	forged := append([]byte(nil), raw...)
	forged[len(forged)-1] = 'X' // the payload is the value's tail
	_, _, err := db.store.Current().List.Insert(k, rs.Log.At(3).Version, forged)
	require.NoError(t, err)
	rep, err := db.Replay(run.ID())
	require.NoError(t, err)
	require.False(t, rep.Match)
	require.Equal(t, 4, rep.FirstDiff)
	require.Contains(t, rep.Reason, "event 1 does not chain")
}

func TestReplayDetectsWriteOutsideSteps(t *testing.T) {
	db, run := replayFixture(t)
	// A write of the run at a version that is no step of it (the version
	// of the run's own record, in the system scope).
	rs := run.st
	v := rs.Log.At(0).Version - 1
	k := keys.AppendKey(nil, rs.scope, keys.TagKV, []byte("ghost"))
	_, _, err := db.store.Current().List.Insert(k, v, []byte{0, 'x'})
	require.NoError(t, err)
	rep, err := db.Replay(run.ID())
	require.NoError(t, err)
	require.False(t, rep.Match)
	require.Equal(t, 0, rep.FirstDiff, "before the first step")
	require.Contains(t, rep.Reason, "belongs to no step")
	require.Equal(t, []string{"kv"}, rep.Mismatched)
}

func TestReplayDetectsMissingStepWrites(t *testing.T) {
	db, run := replayFixture(t)
	// A step the log records but whose writes are not the run's: another
	// run's commit.
	other, err := db.BeginRun()
	require.NoError(t, err)
	require.NoError(t, other.KV().Put("x", nil))
	run.st.Log.Add(other.st.Log.At(0).Version, 0)
	rep, err := db.Replay(run.ID())
	require.NoError(t, err)
	require.False(t, rep.Match)
	require.Equal(t, 6, rep.FirstDiff)
	require.Contains(t, rep.Reason, "no recorded writes")
}
