package inmem_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// TestErrorMessagesSayItOnce triggers the error paths of the package's API
// and checks that each error names its sentinel and says nothing twice.
func TestErrorMessagesSayItOnce(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun(inmem.Name("errors"))
	require.NoError(t, err)
	ns := inmem.Namespace{Tenant: "t"}
	shared := db.Shared(ns)

	type check struct {
		name string
		err  error
		want error
	}
	var checks []check
	add := func(name string, want error, err error) {
		checks = append(checks, check{name, err, want})
	}
	add2 := func(name string, want error) func(any, error) {
		return func(_ any, err error) { add(name, want, err) }
	}
	long := func(n int) string { return strings.Repeat("k", n) }

	// Runs and IDs.
	add2("parse run id: shape", inmem.ErrInvalidArgument)(inmem.ParseRunID("nope"))
	add2("parse run id: hex", inmem.ErrInvalidArgument)(inmem.ParseRunID("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"))
	var id inmem.RunID
	add("unmarshal run id", inmem.ErrInvalidArgument, id.UnmarshalText([]byte("x")))
	add2("run not found", inmem.ErrRunNotFound)(db.Run(inmem.RunID{1}))
	add2("runs get", inmem.ErrRunNotFound)(db.Runs().Get(inmem.RunID{1}))
	add2("children", inmem.ErrRunNotFound)(db.Runs().Children(inmem.RunID{1}))
	add2("lineage", inmem.ErrRunNotFound)(db.Runs().Lineage(inmem.RunID{1}))
	add2("list limit", inmem.ErrInvalidArgument)(db.Runs().List(inmem.RunQuery{Limit: -1}))
	add2("list status", inmem.ErrInvalidArgument)(db.Runs().List(inmem.RunQuery{Status: 99}))
	add("set status: bad", inmem.ErrInvalidArgument, db.Runs().SetStatus(run.ID(), 99))
	add("set status: missing run", inmem.ErrRunNotFound, db.Runs().SetStatus(inmem.RunID{1}, inmem.Paused))
	add("delete missing", inmem.ErrRunNotFound, db.Runs().Delete(inmem.RunID{1}))
	add("compact missing", inmem.ErrRunNotFound, db.Runs().Compact(inmem.RunID{1}))
	add2("begin: nil option", inmem.ErrInvalidArgument)(db.BeginRun(nil))
	add2("begin: missing parent", inmem.ErrRunNotFound)(db.BeginRun(inmem.Parent(inmem.RunID{1})))
	add2("begin: long name", inmem.ErrTooLarge)(db.BeginRun(inmem.Name(long(300))))
	add2("begin: long namespace", inmem.ErrTooLarge)(db.BeginRun(inmem.InNamespace(inmem.Namespace{Tenant: long(300)})))
	add2("begin: empty tag", inmem.ErrInvalidArgument)(db.BeginRun(inmem.Tags("")))
	add2("begin: meta value", inmem.ErrTooLarge)(db.BeginRun(inmem.Meta(map[string]string{"m": long(inmem.MaxRunTextSize + 1)})))
	add("shared: bad namespace", inmem.ErrTooLarge, db.Shared(inmem.Namespace{App: long(300)}).KV().Put("k", nil))
	add("end: shared", inmem.ErrInvalidArgument, shared.End(inmem.Completed, ""))
	add("end: bad status", inmem.ErrInvalidArgument, run.End(inmem.Active, ""))
	add("end: long reason", inmem.ErrTooLarge, run.End(inmem.Failed, long(inmem.MaxRunTextSize+1)))

	// KV.
	kv := run.KV()
	add("kv: empty key", inmem.ErrInvalidArgument, kv.Put("", nil))
	add("kv: long key", inmem.ErrTooLarge, kv.Put(long(inmem.MaxKeySize+1), nil))
	add("kv: large value", inmem.ErrTooLarge, kv.Put("k", make([]byte, inmem.MaxValueSize+1)))
	add("kv: bad ttl", inmem.ErrInvalidArgument, kv.PutTTL("k", nil, -time.Second))
	add2("kv: not found", inmem.ErrNotFound)(kv.Get("absent"))

	// Events.
	ev := run.Events()
	add2("events: empty type", inmem.ErrInvalidArgument)(ev.Append("", nil))
	add2("events: long type", inmem.ErrTooLarge)(ev.Append(long(2000), nil))
	add2("events: large payload", inmem.ErrTooLarge)(ev.Append("t", make([]byte, 16<<20+1)))
	add2("events: not found", inmem.ErrNotFound)(ev.Get(7))
	add2("events: bad range", inmem.ErrInvalidArgument)(ev.Range(5, 1))

	// State.
	st := run.State()
	_, err = st.Init("phase", []byte("plan"))
	require.NoError(t, err)
	add2("state: exists", inmem.ErrExists)(st.Init("phase", nil))
	add2("state: not found", inmem.ErrNotFound)(st.Get("absent"))
	add2("state: cas mismatch", inmem.ErrVersionMismatch)(st.CAS("phase", 5, []byte("act")))
	add2("state: cas in tx", inmem.ErrVersionMismatch)(nil, run.Update(func(tx *inmem.Tx) error {
		_, err := tx.State().CAS("phase", 5, []byte("act"))
		return err
	}))
	add2("state: empty name", inmem.ErrInvalidArgument)(st.Set("", nil))
	add2("state: nil transition", inmem.ErrInvalidArgument)(st.Transition("phase", nil))
	require.NoError(t, st.Define("door", inmem.Machine{Initial: "closed", Allow: map[string][]string{"closed": {"open"}}}))
	add2("state: invalid transition", inmem.ErrInvalidTransition)(st.Set("door", []byte("locked")))
	add("state: define exists", inmem.ErrExists, st.Define("door", inmem.Machine{Initial: "closed"}))

	// Traces.
	tr := run.Traces()
	add2("traces: bad kind", inmem.ErrInvalidArgument)(tr.Record(inmem.Span{Name: "x"}))
	add2("traces: empty name", inmem.ErrInvalidArgument)(tr.Record(inmem.Span{Kind: inmem.ToolCall}))
	add2("traces: bad parent", inmem.ErrNotFound)(tr.Record(inmem.Span{Kind: inmem.ToolCall, Name: "x", Parent: 99}))
	add2("traces: not found", inmem.ErrNotFound)(tr.Get(99))

	// Vectors.
	vs := run.Vectors()
	add("vectors: empty collection", inmem.ErrInvalidArgument, vs.CreateCollection("", inmem.VectorConfig{Dim: 2, Metric: inmem.Cosine}))
	add("vectors: bad config", inmem.ErrInvalidArgument, vs.CreateCollection("c", inmem.VectorConfig{}))
	require.NoError(t, vs.CreateCollection("c", inmem.VectorConfig{Dim: 2, Metric: inmem.Cosine}))
	add("vectors: exists", inmem.ErrExists, vs.CreateCollection("c", inmem.VectorConfig{Dim: 2, Metric: inmem.Cosine}))
	add("vectors: missing collection", inmem.ErrNotFound, vs.Upsert("absent", "k", []float32{1, 0}, nil))
	add("vectors: wrong dim", inmem.ErrInvalidArgument, vs.Upsert("c", "k", []float32{1}, nil))
	add2("vectors: not found", inmem.ErrNotFound)(vs.Get("c", "absent"))

	// History.
	add2("asof: out of range", inmem.ErrHistory)(run.AsOf(99))
	add2("asof: shared", inmem.ErrHistory)(shared.AsOf(1))
	add2("steps: shared", inmem.ErrHistory)(shared.Steps())
	add2("fork: out of range", inmem.ErrHistory)(db.Fork(run.ID(), 99))
	add2("fork: missing run", inmem.ErrRunNotFound)(db.Fork(inmem.RunID{1}, 0))
	add2("fork: nil option", inmem.ErrInvalidArgument)(db.Fork(run.ID(), 0, nil))
	add2("fork: other namespace", inmem.ErrInvalidArgument)(db.Fork(run.ID(), 0, inmem.InNamespace(ns)))
	add2("fork: empty tag", inmem.ErrInvalidArgument)(db.Fork(run.ID(), 0, inmem.Tags("")))
	add2("replay: missing run", inmem.ErrRunNotFound)(db.Replay(inmem.RunID{1}))
	add2("diff: missing run", inmem.ErrRunNotFound)(db.Diff(run.ID(), inmem.RunID{1}))
	add2("replayer: missing run", inmem.ErrRunNotFound)(db.Replayer(inmem.RunID{1}))
	add2("record: nil call", inmem.ErrInvalidArgument)(run.Recorder().Do("x", nil, nil))
	add2("record: empty name", inmem.ErrInvalidArgument)(run.Recorder().Do("", nil, func() ([]byte, error) { return nil, nil }))
	_, err = run.Recorder().Do("llm", []byte("a"), func() ([]byte, error) { return nil, nil })
	require.NoError(t, err)
	rp, err := db.Replayer(run.ID())
	require.NoError(t, err)
	_, err = rp.Do("llm", []byte("b"), nil)
	var div *inmem.DivergenceError
	require.ErrorAs(t, err, &div)
	add("replayer: divergence", nil, err)
	_, err = rp.Do("llm", nil, nil)
	require.ErrorAs(t, err, &div)
	add("replayer: past the end", nil, err)

	// Transactions.
	tx, err := run.Begin(false)
	require.NoError(t, err)
	add("tx: read-only write", inmem.ErrReadOnly, tx.KV().Put("k", nil))
	tx.Discard()
	add2("tx: done", inmem.ErrTxDone)(tx.KV().Get("k"))
	view, err := run.AsOf(1)
	require.NoError(t, err)
	add("view: write", inmem.ErrReadOnly, view.KV().Put("k", nil))

	// An ended run, and a transaction that began before it ended.
	late, err := run.Begin(true)
	require.NoError(t, err)
	require.NoError(t, late.KV().Put("late", nil))
	require.NoError(t, run.End(inmem.Completed, "done"))
	add("ended: commit", inmem.ErrRunEnded, late.Commit())
	add("ended: kv", inmem.ErrRunEnded, kv.Put("k", nil))
	add2("ended: events", inmem.ErrRunEnded)(ev.Append("t", nil))
	add2("ended: state", inmem.ErrRunEnded)(st.Set("phase", nil))
	add2("ended: record", inmem.ErrRunEnded)(run.Recorder().Do("x", nil, func() ([]byte, error) { return nil, nil }))
	add("ended: end again", inmem.ErrRunEnded, run.End(inmem.Failed, ""))
	add("ended: invalid transition", inmem.ErrInvalidTransition, db.Runs().SetStatus(run.ID(), inmem.Active))
	add2("ended: begin", inmem.ErrRunEnded)(run.Begin(true))

	// A deleted run.
	gone, err := db.BeginRun()
	require.NoError(t, err)
	require.NoError(t, db.Runs().Delete(gone.ID()))
	add("deleted: kv", inmem.ErrRunNotFound, gone.KV().Put("k", nil))
	add2("deleted: info", inmem.ErrRunNotFound)(gone.Info())

	for _, c := range checks {
		require.Error(t, c.err, c.name)
		if c.want != nil {
			require.ErrorIs(t, c.err, c.want, c.name)
		}
		msg := c.err.Error()
		require.Empty(t, inmem.RepeatedPhrase(msg), "%s: %q says a phrase twice", c.name, msg)
		if c.want != nil && !errors.Is(c.want, inmem.ErrTxDone) {
			require.Equal(t, 1, strings.Count(msg, c.want.Error()), "%s: %q", c.name, msg)
		}
	}

	require.NoError(t, db.Close())
	add2("closed: begin", inmem.ErrClosed)(db.BeginRun())
	add("closed: kv", inmem.ErrClosed, run.KV().Put("k", nil))
	for _, c := range checks[len(checks)-2:] {
		require.ErrorIs(t, c.err, c.want, c.name)
		require.Empty(t, inmem.RepeatedPhrase(c.err.Error()), c.name)
	}
}
