package main

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

// mcpSession connects an SDK client to a server over db through the
// in-memory transport; the session and server end with the test.
func mcpSession(t *testing.T, db *inmem.DB) *mcp.ClientSession {
	t.Helper()
	ctx := context.Background()
	srv := newMCPServer(db, inmem.Namespace{})
	ct, st := mcp.NewInMemoryTransports()
	ss, err := srv.Connect(ctx, st, nil)
	require.NoError(t, err)
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, ct, nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, cs.Close())
		_ = ss.Wait()
	})
	return cs
}

// checkNoLeak fails the test if goroutines it started outlive it. Call it
// first, so that its cleanup runs after every other.
func checkNoLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		// Goroutines finish shortly after the connections they serve close.
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf)
		}
	})
}

func memDB(t *testing.T) *inmem.DB {
	t.Helper()
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

// callTool calls a tool that must succeed and decodes its structured result.
func callTool[Out any](t *testing.T, cs *mcp.ClientSession, name string, args any) Out {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	require.NoError(t, err)
	require.False(t, res.IsError, "%s: %s", name, resultText(res))
	b, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	var out Out
	require.NoError(t, json.Unmarshal(b, &out), string(b))
	return out
}

// toolError calls a tool that must fail and returns its error text.
func toolError(t *testing.T, cs *mcp.ClientSession, name string, args any) string {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	require.NoError(t, err, "a bad call is a tool error, not a protocol error")
	require.True(t, res.IsError, "%s should fail: %s", name, resultText(res))
	return resultText(res)
}

func resultText(res *mcp.CallToolResult) string {
	var sb strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			sb.WriteString(tc.Text)
		}
	}
	return sb.String()
}

type anyMap = map[string]any

// TestMCPTools drives every primitive's tools through the SDK's client:
// a run begun, KV put and read back (text and binary), events appended
// and ranged, a state cell created and compare-and-swapped, a span
// recorded and queried, vectors stored and searched with a metadata
// filter, and the run ended; bad input gets a clear tool error.
func TestMCPTools(t *testing.T) {
	checkNoLeak(t)
	db := memDB(t)
	cs := mcpSession(t, db)
	ctx := context.Background()

	tools, err := cs.ListTools(ctx, nil)
	require.NoError(t, err)
	names := map[string]bool{}
	for _, tl := range tools.Tools {
		names[tl.Name] = true
		schema, ok := tl.InputSchema.(map[string]any)
		require.True(t, ok, tl.Name)
		require.Equal(t, "object", schema["type"], tl.Name)
		require.NotEmpty(t, tl.Description, tl.Name)
	}
	for _, n := range []string{"runs_begin", "runs_end", "runs_list", "runs_show", "kv_get", "kv_put", "kv_delete", "kv_list",
		"events_append", "events_range", "state_get", "state_cas", "state_define", "traces_record", "traces_query",
		"vectors_upsert", "vectors_search", "vectors_delete", "vectors_drop_collection", "vectors_list_collections", "history_steps", "history_asof", "history_fork", "history_diff", "history_replay"} {
		require.True(t, names[n], "tool %s listed", n)
	}

	run := callTool[runOut](t, cs, "runs_begin", anyMap{"name": "triage", "tags": []string{"mcp"},
		"namespace": anyMap{"tenant": "acme"}, "meta": anyMap{"model": "m"}})
	require.Equal(t, "triage", run.Name)
	require.Equal(t, "active", run.Status)
	require.Equal(t, "acme", run.Namespace.Tenant)
	id := run.ID

	// KV: text and binary values.
	callTool[okOut](t, cs, "kv_put", anyMap{"run": id, "key": "ticket/id", "value": "4821"})
	callTool[okOut](t, cs, "kv_put", anyMap{"run": id, "key": "ticket/blob", "value_base64": "AP8="})
	got := callTool[entryOut](t, cs, "kv_get", anyMap{"run": id, "key": "ticket/id"})
	require.Equal(t, "4821", got.Value)
	got = callTool[entryOut](t, cs, "kv_get", anyMap{"run": id, "key": "ticket/blob"})
	require.Equal(t, "AP8=", got.ValueBase64, "bytes that are not UTF-8 come back as base64")
	list := callTool[kvListOut](t, cs, "kv_list", anyMap{"run": id, "prefix": "ticket/", "limit": 1})
	require.Len(t, list.Entries, 1)
	require.True(t, list.More)
	require.Contains(t, toolError(t, cs, "kv_get", anyMap{"run": id, "key": "nope"}), "not found")

	// Events.
	e0 := callTool[eventOut](t, cs, "events_append", anyMap{"run": id, "type": "step.observe", "payload": `{"n":1}`})
	e1 := callTool[eventOut](t, cs, "events_append", anyMap{"run": id, "type": "step.act", "payload": "go"})
	require.Equal(t, uint64(0), e0.Seq)
	require.Equal(t, uint64(1), e1.Seq)
	require.Len(t, e1.Hash, 64)
	evs := callTool[eventsRangeOut](t, cs, "events_range", anyMap{"run": id})
	require.Equal(t, uint64(2), evs.Len)
	require.Len(t, evs.Events, 2)
	require.Equal(t, `{"n":1}`, evs.Events[0].Payload)
	evs = callTool[eventsRangeOut](t, cs, "events_range", anyMap{"run": id, "type": "step.act"})
	require.Len(t, evs.Events, 1)
	require.Equal(t, uint64(1), evs.Events[0].Seq)

	// State: create, compare-and-swap, a stale version refused.
	c := callTool[cellOut](t, cs, "state_cas", anyMap{"run": id, "name": "phase", "version": 0, "value": "plan"})
	require.Equal(t, uint64(1), c.Version)
	c = callTool[cellOut](t, cs, "state_cas", anyMap{"run": id, "name": "phase", "version": 1, "value": "act"})
	require.Equal(t, uint64(2), c.Version)
	require.Contains(t, toolError(t, cs, "state_cas", anyMap{"run": id, "name": "phase", "version": 1, "value": "x"}), "version mismatch")
	c = callTool[cellOut](t, cs, "state_get", anyMap{"run": id, "name": "phase"})
	require.Equal(t, "act", c.Value)

	// Traces.
	root := callTool[tracesRecordOut](t, cs, "traces_record", anyMap{"run": id, "kind": "decision", "name": "resolve", "status": "ok"})
	callTool[tracesRecordOut](t, cs, "traces_record", anyMap{"run": id, "kind": "tool_call", "name": "lookup", "parent": root.ID,
		"attrs": anyMap{"gen_ai.tool.name": "lookup"}, "output": "found"})
	spans := callTool[tracesQueryOut](t, cs, "traces_query", anyMap{"run": id, "kind": "tool_call"})
	require.Len(t, spans.Spans, 1)
	require.Equal(t, root.ID, spans.Spans[0].Parent)
	require.Equal(t, "found", spans.Spans[0].Output)
	require.Contains(t, toolError(t, cs, "traces_record", anyMap{"run": id, "kind": "dream", "name": "x"}), "want llm_call")

	// Vectors in the shared scope, searched with and without a filter.
	shared := anyMap{"tenant": "acme"}
	up := callTool[vectorsUpsertOut](t, cs, "vectors_upsert", anyMap{"shared": shared, "collection": "docs", "key": "a",
		"vector": []float32{1, 0, 0}, "meta": anyMap{"lang": "en", "year": 2021}})
	require.True(t, up.Created)
	for _, v := range []struct {
		key  string
		vec  []float32
		meta anyMap
	}{
		{"b", []float32{0.9, 0.1, 0}, anyMap{"lang": "de", "year": 2023}},
		{"c", []float32{0, 1, 0}, anyMap{"lang": "en", "year": 2019}},
	} {
		up = callTool[vectorsUpsertOut](t, cs, "vectors_upsert", anyMap{"shared": shared, "collection": "docs", "key": v.key, "vector": v.vec, "meta": v.meta})
		require.False(t, up.Created)
	}
	ms := callTool[vectorsSearchOut](t, cs, "vectors_search", anyMap{"shared": shared, "collection": "docs", "vector": []float32{1, 0, 0}, "k": 2})
	require.Equal(t, []string{"a", "b"}, matchKeys(ms))
	ms = callTool[vectorsSearchOut](t, cs, "vectors_search", anyMap{"shared": shared, "collection": "docs", "vector": []float32{1, 0, 0},
		"filter": anyMap{"field": "lang", "eq": "en"}})
	require.Equal(t, []string{"a", "c"}, matchKeys(ms))
	ms = callTool[vectorsSearchOut](t, cs, "vectors_search", anyMap{"shared": shared, "collection": "docs", "vector": []float32{1, 0, 0},
		"filter": anyMap{"and": []any{anyMap{"field": "year", "gte": 2020}, anyMap{"not": anyMap{"field": "lang", "in": []string{"de"}}}}}})
	require.Equal(t, []string{"a"}, matchKeys(ms))
	require.Contains(t, toolError(t, cs, "vectors_search", anyMap{"shared": shared, "collection": "docs", "vector": []float32{1, 0, 0},
		"filter": anyMap{"field": "lang", "like": "e%"}}), "like")
	require.Contains(t, toolError(t, cs, "vectors_search", anyMap{"shared": shared, "collection": "docs", "vector": []float32{1, 0}}), "dimension")
	// The run does not see the shared scope's collection.
	require.Contains(t, toolError(t, cs, "vectors_search", anyMap{"run": id, "collection": "docs", "vector": []float32{1, 0, 0}}), "not found")

	// Bad input: clear errors, never a crash.
	require.Contains(t, toolError(t, cs, "kv_get", anyMap{"key": "k"}), "run is required")
	require.Contains(t, toolError(t, cs, "kv_get", anyMap{"run": "not-an-id", "key": "k"}), "not a run ID")
	require.Contains(t, toolError(t, cs, "kv_get", anyMap{"run": id, "shared": anyMap{}, "key": "k"}), "not both")
	require.Contains(t, toolError(t, cs, "kv_get", anyMap{"run": inmem.RunID{1}.String(), "key": "k"}), "run not found")
	require.Contains(t, toolError(t, cs, "kv_put", anyMap{"run": id, "key": "k", "value_base64": "!!"}), "value_base64")
	require.NotEmpty(t, toolError(t, cs, "kv_put", anyMap{"run": id, "key": "k", "bogus": 1}), "unknown fields are refused")
	require.NotEmpty(t, toolError(t, cs, "kv_put", anyMap{"run": id}), "a missing required field is refused")

	// Show, end, list.
	shown := callTool[runsShowOut](t, cs, "runs_show", anyMap{"run": id})
	require.Len(t, shown.Events, 2)
	require.Len(t, shown.KV, 2)
	require.Len(t, shown.State, 1)
	require.Len(t, shown.Spans, 2)
	ended := callTool[runOut](t, cs, "runs_end", anyMap{"run": id, "status": "failed", "reason": "gave up"})
	require.Equal(t, "failed", ended.Status)
	require.Equal(t, "gave up", ended.Error)
	require.Contains(t, toolError(t, cs, "kv_put", anyMap{"run": id, "key": "k", "value": "v"}), "ended")
	runs := callTool[runsListOut](t, cs, "runs_list", anyMap{"status": "failed"})
	require.Len(t, runs.Runs, 1)
	require.Equal(t, id, runs.Runs[0].ID)
	runs = callTool[runsListOut](t, cs, "runs_list", anyMap{"namespace": anyMap{"tenant": "globex"}})
	require.Empty(t, runs.Runs)
}

func matchKeys(ms vectorsSearchOut) []string {
	var keys []string
	for _, m := range ms.Matches {
		keys = append(keys, m.Key)
	}
	return keys
}

// TestMCPHistory: through the SDK's client, list a run's steps, read it
// as of a step, fork it there, take the fork another way, diff the two
// and replay both.
func TestMCPHistory(t *testing.T) {
	checkNoLeak(t)
	db := memDB(t)
	cs := mcpSession(t, db)
	id := callTool[runOut](t, cs, "runs_begin", anyMap{"name": "plan"}).ID
	callTool[okOut](t, cs, "kv_put", anyMap{"run": id, "key": "plan", "value": "search"})
	callTool[eventOut](t, cs, "events_append", anyMap{"run": id, "type": "decided", "payload": "search"})
	callTool[okOut](t, cs, "kv_put", anyMap{"run": id, "key": "plan", "value": "ask"})

	steps := callTool[historyStepsOut](t, cs, "history_steps", anyMap{"run": id})
	require.Equal(t, 3, steps.Total)
	require.Len(t, steps.Steps, 3)
	require.Equal(t, []string{"plan"}, steps.Steps[0].Writes.KV)
	require.Equal(t, []string{"0"}, steps.Steps[1].Writes.Events)
	steps = callTool[historyStepsOut](t, cs, "history_steps", anyMap{"run": id, "from": 2, "limit": 1})
	require.Equal(t, 2, steps.Steps[0].N)
	require.True(t, steps.More)

	at := callTool[historyAsOfOut](t, cs, "history_asof", anyMap{"run": id, "step": 2})
	require.Equal(t, 2, at.Step)
	require.NotEmpty(t, at.Time)
	require.Equal(t, "search", at.KV[0].Value, "as of step 2 the plan was still search")
	require.Len(t, at.Events, 1)
	require.Contains(t, toolError(t, cs, "history_asof", anyMap{"run": id, "step": 7}), "no such step")

	fork := callTool[runOut](t, cs, "history_fork", anyMap{"run": id, "step": 2, "name": "plan b"})
	require.Equal(t, id, fork.ForkOf)
	require.Equal(t, 2, fork.ForkStep)
	require.Equal(t, "active", fork.Status)
	require.Equal(t, "search", callTool[entryOut](t, cs, "kv_get", anyMap{"run": fork.ID, "key": "plan"}).Value)
	callTool[okOut](t, cs, "kv_put", anyMap{"run": fork.ID, "key": "plan", "value": "browse"})
	callTool[okOut](t, cs, "kv_put", anyMap{"run": fork.ID, "key": "note", "value": "forked"})
	require.Equal(t, "ask", callTool[entryOut](t, cs, "kv_get", anyMap{"run": id, "key": "plan"}).Value, "the parent is untouched")

	d := callTool[diffOut](t, cs, "history_diff", anyMap{"a": id, "b": fork.ID})
	require.False(t, d.Same)
	require.Equal(t, []string{"note"}, d.KV.Added)
	require.Empty(t, d.KV.Removed)
	require.Equal(t, []changeOut{{Key: "plan", Before: "ask", After: "browse"}}, d.KV.Changed)
	require.True(t, d.Events.Empty(), "the fork has the parent's event")
	require.True(t, callTool[diffOut](t, cs, "history_diff", anyMap{"a": id, "b": id}).Same)

	for _, r := range []string{id, fork.ID} {
		rep := callTool[replayOut](t, cs, "history_replay", anyMap{"run": r})
		require.True(t, rep.Match, rep.Reason)
	}
	require.Contains(t, toolError(t, cs, "history_fork", anyMap{"run": id, "step": -1}), "no such step")
	require.Contains(t, toolError(t, cs, "history_steps", anyMap{"run": inmem.RunID{9}.String()}), "run not found")
}
