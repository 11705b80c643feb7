package inmem_test

import (
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

func spanIDs(ss []inmem.Span) []inmem.SpanID {
	var out []inmem.SpanID
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

func recordSpans(t *testing.T, tr *inmem.Traces, spans ...inmem.Span) []inmem.SpanID {
	t.Helper()
	var ids []inmem.SpanID
	for _, s := range spans {
		id, err := tr.Record(s)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	return ids
}

func TestTracesAll(t *testing.T) {
	db := memDB(t)
	tr := freshRun(t, db).Traces()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	ids := recordSpans(t, tr,
		inmem.Span{Kind: inmem.LLMCall, Name: "plan", Start: at(5), Tags: []string{"x"}},
		inmem.Span{Kind: inmem.ToolCall, Name: "search", Start: at(1), Tags: []string{"x", "y"}},
		inmem.Span{Kind: inmem.ToolCall, Name: "fetch", Start: at(3)},
	)
	recordSpans(t, tr,
		inmem.Span{Kind: inmem.ToolCall, Name: "search", Start: at(2), Parent: ids[0]},
		inmem.Span{Kind: inmem.Decision, Name: "pick", Start: at(4), Parent: ids[0], Tags: []string{"y"},
			Values: map[string]inmem.AttrValue{"score": inmem.Float64Value(0.5)}},
		inmem.Span{Kind: inmem.ToolCall, Name: "search", Start: at(6), Parent: ids[1], Attrs: map[string]string{"q": "go"}},
	)
	for _, q := range []inmem.SpanQuery{
		{},
		{Limit: 2},
		{Kind: inmem.ToolCall},
		{Kind: inmem.ToolCall, Limit: 3},
		{Name: "search"},
		{Name: "search", Kind: inmem.Decision},
		{Tag: "y"},
		{Tag: "x", Kind: inmem.LLMCall},
		{Parent: ids[0]},
		{Parent: ids[0], Kind: inmem.Decision},
		{From: at(2), Until: at(5)},
		{Kind: inmem.ToolCall, From: at(2), Limit: 2},
		{Name: "search", Until: at(3)},
		{Name: "absent"},
		{Parent: 99},
	} {
		want, err := tr.Query(q)
		require.NoError(t, err)
		got, err := drain(tr.All(q))
		require.NoError(t, err)
		require.Equal(t, want, got, "%+v", q)
	}

	got := firstN(t, tr.All(inmem.SpanQuery{Kind: inmem.ToolCall}), 2)
	require.Equal(t, []inmem.SpanID{2, 4}, spanIDs(got))

	errs := errorsOf(t, tr.All(inmem.SpanQuery{Limit: -1}))
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], inmem.ErrInvalidArgument)

	require.NoError(t, db.Close())
	errs = errorsOf(t, tr.All(inmem.SpanQuery{}))
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], inmem.ErrClosed)
}

// Through a transaction the sequence sees the spans it recorded, as Query
// does; spans recorded by the loop body are not part of the loop.
func TestTracesAllInTransaction(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	recordSpans(t, r.Traces(), inmem.Span{Kind: inmem.Thought, Name: "a"})

	err := r.Update(func(tx *inmem.Tx) error {
		recordSpans(t, tx.Traces(), inmem.Span{Kind: inmem.Thought, Name: "b"}, inmem.Span{Kind: inmem.Custom, Name: "c"})
		q := inmem.SpanQuery{Kind: inmem.Thought}
		want, err := tx.Traces().Query(q)
		require.NoError(t, err)
		got, err := drain(tx.Traces().All(q))
		require.NoError(t, err)
		require.Equal(t, want, got)
		require.Equal(t, []inmem.SpanID{1, 2}, spanIDs(got))

		n := 0
		for _, err := range tx.Traces().All(inmem.SpanQuery{}) {
			require.NoError(t, err)
			n++
			recordSpans(t, tx.Traces(), inmem.Span{Kind: inmem.Thought, Name: "loop"})
		}
		require.Equal(t, 3, n)
		return nil
	})
	require.NoError(t, err)
	all, err := r.Traces().Query(inmem.SpanQuery{})
	require.NoError(t, err)
	require.Len(t, all, 6)

	tx, err := r.Begin(true)
	require.NoError(t, err)
	defer tx.Discard()
	_, err = drain(tx.Traces().All(inmem.SpanQuery{Name: "a"}))
	require.NoError(t, err)
	recordSpans(t, r.Traces(), inmem.Span{Kind: inmem.Thought, Name: "a"})
	recordSpans(t, tx.Traces(), inmem.Span{Kind: inmem.Thought, Name: "mine"})
	require.ErrorIs(t, tx.Commit(), inmem.ErrConflict, "the listed index changed")
}

func TestTracesAllViewForkShared(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	recordSpans(t, r.Traces(), inmem.Span{Kind: inmem.ToolCall, Name: "a"})
	recordSpans(t, r.Traces(), inmem.Span{Kind: inmem.ToolCall, Name: "b"})

	view, err := r.AsOf(1)
	require.NoError(t, err)
	got, err := drain(view.Traces().All(inmem.SpanQuery{Kind: inmem.ToolCall}))
	require.NoError(t, err)
	require.Equal(t, []inmem.SpanID{1}, spanIDs(got))

	child, err := db.Fork(r.ID(), 1)
	require.NoError(t, err)
	recordSpans(t, child.Traces(), inmem.Span{Kind: inmem.ToolCall, Name: "c", Parent: 1})
	want, err := child.Traces().Query(inmem.SpanQuery{})
	require.NoError(t, err)
	got, err = drain(child.Traces().All(inmem.SpanQuery{}))
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, []inmem.SpanID{1, 2}, spanIDs(got))
	require.Equal(t, "c", got[1].Name, "the fork's own span 2, not the parent's")

	sh := db.Shared(inmem.Namespace{Agent: "s"})
	recordSpans(t, sh.Traces(), inmem.Span{Kind: inmem.Retrieval, Name: "r", Tags: []string{"t"}})
	got, err = drain(sh.Traces().All(inmem.SpanQuery{Tag: "t"}))
	require.NoError(t, err)
	require.Equal(t, []inmem.SpanID{1}, spanIDs(got))
}
