package inmem_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

func mustNotCall(t *testing.T) func() ([]byte, error) {
	return func() ([]byte, error) {
		t.Error("the call ran although its result could not be recorded")
		return nil, nil
	}
}

// TestRecorderRefusesBeforeCalling: a call whose result could not be
// recorded is never made.
func TestRecorderRefusesBeforeCalling(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	_, err = run.Recorder().Do("first", []byte("in"), func() ([]byte, error) { return []byte("out"), nil })
	require.NoError(t, err)

	view, err := run.AsOf(1)
	require.NoError(t, err)
	require.ErrorIs(t, view.Read(func(tx *inmem.Tx) error {
		_, err := tx.Recorder().Do("llm", nil, mustNotCall(t))
		return err
	}), inmem.ErrReadOnly)

	tx, err := run.Begin(false)
	require.NoError(t, err)
	_, err = tx.Recorder().Do("llm", nil, mustNotCall(t))
	require.ErrorIs(t, err, inmem.ErrReadOnly)
	tx.Discard()

	open, err := run.Begin(true) // begun before the run ends
	require.NoError(t, err)
	defer open.Discard()
	rec := run.Recorder()
	require.NoError(t, run.End(inmem.Completed, ""))
	for _, r := range []*inmem.Recorder{rec, rec.WithKind(inmem.LLMCall), run.Recorder(), open.Recorder()} {
		out, err := r.Do("llm", []byte("prompt"), mustNotCall(t))
		require.ErrorIs(t, err, inmem.ErrRunEnded)
		require.Nil(t, out)
	}

	other, err := db.BeginRun()
	require.NoError(t, err)
	rec = other.Recorder()
	require.NoError(t, db.Runs().Delete(other.ID()))
	_, err = rec.Do("llm", nil, mustNotCall(t))
	require.ErrorIs(t, err, inmem.ErrRunNotFound)

	rp, err := db.Replayer(run.ID())
	require.NoError(t, err)
	require.Equal(t, 1, rp.Remaining())
}

// TestTxRecorderJoinsTheStep records a call inside an agent step, beside a
// KV write: one step holds both, and the Replayer returns the call in
// order with calls recorded outside transactions.
func TestTxRecorderJoinsTheStep(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	_, err = run.Recorder().Do("plan", []byte("p"), func() ([]byte, error) { return []byte("plan-out"), nil })
	require.NoError(t, err)

	calls := 0
	require.NoError(t, run.Update(func(tx *inmem.Tx) error {
		out, err := tx.Recorder().WithKind(inmem.LLMCall).Do("llm", []byte("q"), func() ([]byte, error) {
			calls++
			return []byte("answer"), nil
		})
		if err != nil {
			return err
		}
		return tx.KV().Put("answer", out)
	}))
	require.Equal(t, 1, calls)

	// A step that fails is not recorded: its span goes with its writes.
	require.Error(t, run.Update(func(tx *inmem.Tx) error {
		if _, err := tx.Recorder().Do("lost", nil, func() ([]byte, error) { return nil, nil }); err != nil {
			return err
		}
		return tx.KV().Put("", nil)
	}))

	_, err = run.Recorder().Do("tool", []byte("t"), func() ([]byte, error) { return []byte("tool-out"), nil })
	require.NoError(t, err)

	steps, err := run.Steps()
	require.NoError(t, err)
	require.Len(t, steps, 3)
	require.Equal(t, []string{"answer"}, steps[1].Writes.KV)
	require.Len(t, steps[1].Writes.Traces, 1)
	info, err := run.Info()
	require.NoError(t, err)
	require.Equal(t, 3, info.Steps)
	spans, err := run.Traces().Query(inmem.SpanQuery{Kind: inmem.LLMCall})
	require.NoError(t, err)
	require.Len(t, spans, 1)
	require.Equal(t, []string{inmem.RecordedTag}, spans[0].Tags)

	rp, err := db.Replayer(run.ID())
	require.NoError(t, err)
	for _, c := range []struct{ name, in, out string }{{"plan", "p", "plan-out"}, {"llm", "q", "answer"}, {"tool", "t", "tool-out"}} {
		out, err := rp.Do(c.name, []byte(c.in), mustNotCall(t))
		require.NoError(t, err, c.name)
		require.Equal(t, c.out, string(out))
	}
	require.Zero(t, rp.Remaining())
}

// TestTxRecorderInRetriedUpdate: a conflict re-runs the update function,
// and the call with it; only the attempt that commits is recorded.
func TestTxRecorderInRetriedUpdate(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	calls := 0
	require.NoError(t, run.Update(func(tx *inmem.Tx) error {
		if _, err := tx.KV().Get("x"); err != nil && !errors.Is(err, inmem.ErrNotFound) {
			return err
		}
		if _, err := tx.Recorder().Do("llm", nil, func() ([]byte, error) {
			calls++
			return []byte(fmt.Sprint(calls)), nil
		}); err != nil {
			return err
		}
		if calls == 1 {
			// A write the first attempt read past: its commit conflicts.
			if err := run.KV().Put("x", nil); err != nil {
				return err
			}
		}
		return tx.KV().Put("y", nil)
	}))
	require.Equal(t, 2, calls)
	rp, err := db.Replayer(run.ID())
	require.NoError(t, err)
	out, err := rp.Do("llm", nil, nil)
	require.NoError(t, err)
	require.Equal(t, "2", string(out))
	require.Zero(t, rp.Remaining())
}
