package inmem_test

import (
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// TestDiffSeesTypedAttributes: two spans that differ only in a typed
// attribute value are a change in Diff.
func TestDiffSeesTypedAttributes(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	t0 := time.Unix(1700000000, 0)
	span := func(tokens int) inmem.Span {
		return inmem.Span{Kind: inmem.LLMCall, Name: "plan", Start: t0, End: t0.Add(time.Second), Status: inmem.StatusOK,
			Values: map[string]inmem.AttrValue{"gen_ai.usage.input_tokens": inmem.IntValue(tokens)}}
	}
	a, err := db.BeginRun()
	require.NoError(t, err)
	_, err = a.Traces().Record(span(12))
	require.NoError(t, err)
	b, err := db.BeginRun()
	require.NoError(t, err)
	_, err = b.Traces().Record(span(13))
	require.NoError(t, err)
	d, err := db.Diff(a.ID(), b.ID())
	require.NoError(t, err)
	require.Len(t, d.Traces.Changed, 1)
	require.Contains(t, string(d.Traces.Changed[0].Before), "12")
	require.Contains(t, string(d.Traces.Changed[0].After), "13")
}
