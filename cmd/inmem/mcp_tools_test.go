package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// TestMCPVectorsUpsertAtomic: an upsert that creates a collection and
// then fails leaves no collection behind, so the next upsert picks the
// dimension; collections can be listed, a vector deleted and a
// collection dropped and made again with another dimension.
func TestMCPVectorsUpsertAtomic(t *testing.T) {
	checkNoLeak(t)
	db := memDB(t)
	cs := mcpSession(t, db)
	for _, scope := range []anyMap{{"shared": anyMap{}}, {"run": callTool[runOut](t, cs, "runs_begin", anyMap{}).ID}} {
		args := func(kv ...any) anyMap {
			m := anyMap{}
			for k, v := range scope {
				m[k] = v
			}
			for i := 0; i < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		}
		require.Contains(t, toolError(t, cs, "vectors_upsert", args("collection", "z", "key", "a", "vector", []float32{0, 0, 0})), "zero vector")
		require.Empty(t, callTool[vectorsCollectionsOut](t, cs, "vectors_list_collections", args()).Collections, "the failed upsert created nothing")
		up := callTool[vectorsUpsertOut](t, cs, "vectors_upsert", args("collection", "z", "key", "a", "vector", []float32{1, 0, 0, 0, 0}))
		require.True(t, up.Created)
		callTool[vectorsUpsertOut](t, cs, "vectors_upsert", args("collection", "z", "key", "b", "vector", []float32{0, 1, 0, 0, 0}))
		require.Equal(t, []collectionOut{{Name: "z", Dim: 5, Metric: "cosine"}},
			callTool[vectorsCollectionsOut](t, cs, "vectors_list_collections", args()).Collections)

		require.True(t, callTool[okOut](t, cs, "vectors_delete", args("collection", "z", "key", "a")).OK)
		callTool[okOut](t, cs, "vectors_delete", args("collection", "z", "key", "a")) // absent: no error
		ms := callTool[vectorsSearchOut](t, cs, "vectors_search", args("collection", "z", "vector", []float32{1, 0, 0, 0, 0}))
		require.Equal(t, []string{"b"}, matchKeys(ms))

		require.True(t, callTool[okOut](t, cs, "vectors_drop_collection", args("collection", "z")).OK)
		require.Contains(t, toolError(t, cs, "vectors_drop_collection", args("collection", "z")), "not found")
		require.Contains(t, toolError(t, cs, "vectors_search", args("collection", "z", "vector", []float32{1, 0, 0, 0, 0})), "not found")
		up = callTool[vectorsUpsertOut](t, cs, "vectors_upsert", args("collection", "z", "key", "c", "vector", []float32{1, 2}, "metric", "euclidean"))
		require.True(t, up.Created)
		ms = callTool[vectorsSearchOut](t, cs, "vectors_search", args("collection", "z", "vector", []float32{1, 2}))
		require.Equal(t, []string{"c"}, matchKeys(ms))
		require.Equal(t, float32(0), ms.Matches[0].Score)
	}
}

// toolSchemas lists every tool's input and output schema as decoded JSON.
func toolSchemas(t *testing.T, db *inmem.DB) map[string][2]map[string]any {
	t.Helper()
	cs := mcpSession(t, db)
	tools, err := cs.ListTools(context.Background(), nil)
	require.NoError(t, err)
	out := map[string][2]map[string]any{}
	for _, tl := range tools.Tools {
		var io [2]map[string]any
		for i, s := range []any{tl.InputSchema, tl.OutputSchema} {
			b, err := json.Marshal(s)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &io[i]))
		}
		out[tl.Name] = io
	}
	return out
}

// nullTypes returns the paths of the schema nodes typed as a list that
// includes null.
func nullTypes(path string, v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		if ts, ok := v["type"].([]any); ok {
			for _, x := range ts {
				if x == "null" {
					out = append(out, path)
				}
			}
		}
		for k, c := range v {
			out = append(out, nullTypes(path+"/"+k, c)...)
		}
	case []any:
		for i, c := range v {
			out = append(out, nullTypes(fmt.Sprintf("%s/%d", path, i), c)...)
		}
	}
	return out
}

// TestMCPSchemas: every input field has one plain type (no "null" a
// client might send for a list), the filter and attrs fields say what
// they accept, and the descriptions name what the tools accept.
func TestMCPSchemas(t *testing.T) {
	checkNoLeak(t)
	schemas := toolSchemas(t, memDB(t))
	for _, n := range []string{"kv_delete", "state_define", "vectors_delete", "vectors_drop_collection", "vectors_list_collections"} {
		require.Contains(t, schemas, n)
	}
	for name, io := range schemas {
		require.Empty(t, nullTypes(name, io[0]), "input fields typed null")
	}
	props := func(tool string) map[string]any { return schemas[tool][0]["properties"].(map[string]any) }
	require.Equal(t, "array", props("vectors_upsert")["vector"].(map[string]any)["type"])
	require.Equal(t, "array", props("traces_record")["tags"].(map[string]any)["type"])
	require.Equal(t, "object", props("traces_record")["shared"].(map[string]any)["type"])

	filter := props("vectors_search")["filter"].(map[string]any)
	require.Equal(t, "object", filter["type"], "the filter is typed in place, not only by reference")
	fp := filter["properties"].(map[string]any)
	for _, op := range []string{"and", "or", "not", "field", "eq", "gt", "gte", "lt", "lte", "in"} {
		require.Contains(t, fp, op)
	}
	require.Equal(t, "#/$defs/filter", fp["not"].(map[string]any)["$ref"])

	attrs := props("traces_record")["attrs"].(map[string]any)
	require.Equal(t, "object", attrs["type"])
	require.Equal(t, []any{"string", "number", "boolean"}, attrs["additionalProperties"].(map[string]any)["type"])

	require.Contains(t, schemas["kv_get"][1]["properties"], "version")
}

// TestMCPFrictions: what a model trips over: a status list naming what
// is refused, a value-less kv_put storing "", attribute numbers refused,
// a version kv_get promised but never sent, and no way to delete a key
// or declare a state machine.
func TestMCPFrictions(t *testing.T) {
	checkNoLeak(t)
	db := memDB(t)
	cs := mcpSession(t, db)
	id := callTool[runOut](t, cs, "runs_begin", anyMap{}).ID

	msg := toolError(t, cs, "runs_end", anyMap{"run": id, "status": "done"})
	require.Contains(t, msg, "completed, failed or cancelled")
	require.NotContains(t, msg, "archived", "only the statuses a run can end in")
	tools, err := cs.ListTools(context.Background(), nil)
	require.NoError(t, err)
	for _, tl := range tools.Tools {
		if tl.Name == "runs_list" {
			require.Contains(t, tl.Description, "archived")
		}
	}

	require.Contains(t, toolError(t, cs, "kv_put", anyMap{"run": id, "key": "k"}), "value is required")
	callTool[okOut](t, cs, "kv_put", anyMap{"run": id, "key": "k", "value": ""})
	e := callTool[entryOut](t, cs, "kv_get", anyMap{"run": id, "key": "k"})
	require.Equal(t, "", e.Value)
	require.NotZero(t, e.Version)
	callTool[okOut](t, cs, "kv_put", anyMap{"run": id, "key": "k", "value": "v"})
	callTool[okOut](t, cs, "kv_put", anyMap{"run": id, "key": "k2", "value": "w"})
	e2 := callTool[entryOut](t, cs, "kv_get", anyMap{"run": id, "key": "k"})
	require.Equal(t, "v", e2.Value)
	require.Greater(t, e2.Version, e.Version)
	require.True(t, callTool[okOut](t, cs, "kv_delete", anyMap{"run": id, "key": "k"}).OK)
	callTool[okOut](t, cs, "kv_delete", anyMap{"run": id, "key": "k"}) // absent: no error
	require.Contains(t, toolError(t, cs, "kv_get", anyMap{"run": id, "key": "k"}), "not found")
	require.Equal(t, "w", callTool[entryOut](t, cs, "kv_get", anyMap{"run": id, "key": "k2"}).Value)

	c := callTool[cellOut](t, cs, "state_define", anyMap{"run": id, "name": "phase", "initial": "plan",
		"allow": anyMap{"plan": []string{"act"}, "act": []string{"plan", "done"}}})
	require.Equal(t, "plan", c.Value)
	require.Equal(t, uint64(1), c.Version)
	require.Contains(t, toolError(t, cs, "state_cas", anyMap{"run": id, "name": "phase", "version": 1, "value": "done"}), "invalid transition")
	c = callTool[cellOut](t, cs, "state_cas", anyMap{"run": id, "name": "phase", "version": 1, "value": "act"})
	require.Equal(t, "act", c.Value)
	require.Contains(t, toolError(t, cs, "state_define", anyMap{"run": id, "name": "phase", "initial": "plan", "allow": anyMap{}}), "exists")

	sp := callTool[tracesRecordOut](t, cs, "traces_record", anyMap{"run": id, "kind": "llm_call", "name": "chat",
		"attrs": anyMap{"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 12, "temperature": 0.5, "stream": true}})
	spans := callTool[tracesQueryOut](t, cs, "traces_query", anyMap{"run": id})
	require.Len(t, spans.Spans, 1)
	require.Equal(t, sp.ID, spans.Spans[0].ID)
	require.Equal(t, map[string]string{"gen_ai.request.model": "m"}, spans.Spans[0].Attrs)
	require.Equal(t, map[string]any{"gen_ai.usage.input_tokens": float64(12), "temperature": 0.5, "stream": true}, spans.Spans[0].Values)
	span, err := db.Run(inmem.RunID(mustRun(t, id)))
	require.NoError(t, err)
	got, err := span.Traces().Get(inmem.SpanID(sp.ID))
	require.NoError(t, err)
	require.Equal(t, inmem.IntValue(12), got.Values["gen_ai.usage.input_tokens"], "a whole number is an integer")
	require.Equal(t, inmem.Float64Value(0.5), got.Values["temperature"])
	require.Equal(t, inmem.BoolValue(true), got.Values["stream"])
	require.NotEmpty(t, toolError(t, cs, "traces_record", anyMap{"run": id, "kind": "llm_call", "name": "x", "attrs": anyMap{"a": anyMap{}}}))
}

func mustRun(t *testing.T, s string) inmem.RunID {
	t.Helper()
	id, err := inmem.ParseRunID(s)
	require.NoError(t, err)
	return id
}

// repeated returns a phrase that appears twice among the parts of an
// error message separated by ": " or "; ", or "".
func repeated(msg string) string {
	seen := map[string]bool{}
	for _, p := range strings.Split(strings.ReplaceAll(msg, "; ", ": "), ": ") {
		if seen[p] {
			return p
		}
		seen[p] = true
	}
	return ""
}

// TestMCPErrorMessages: each error a tool returns names the values it was
// given, and no phrase twice (as a wrapped error that already named the
// key would).
func TestMCPErrorMessages(t *testing.T) {
	checkNoLeak(t)
	db := memDB(t)
	cs := mcpSession(t, db)
	id := callTool[runOut](t, cs, "runs_begin", anyMap{}).ID
	callTool[eventOut](t, cs, "events_append", anyMap{"run": id, "type": "t"})
	callTool[eventOut](t, cs, "events_append", anyMap{"run": id, "type": "t"})
	callTool[cellOut](t, cs, "state_cas", anyMap{"run": id, "name": "c", "version": 0, "value": "x"})
	callTool[vectorsUpsertOut](t, cs, "vectors_upsert", anyMap{"run": id, "collection": "v", "key": "a", "vector": []float32{1, 0}})
	unknown := inmem.RunID{7}.String()
	for _, c := range []struct {
		tool string
		args anyMap
		want string
	}{
		{"events_range", anyMap{"run": id, "from": 5, "to": 3}, "from 5 is past to 3"}, // the log has 2: to as given
		{"events_range", anyMap{"run": id, "from": 5}, "from 5 is past the end of the log (2 events)"},
		{"events_range", anyMap{"run": id, "limit": -1}, "limit -1"},
		{"kv_get", anyMap{"run": id, "key": "nope"}, `key "nope"`},
		{"kv_get", anyMap{"run": unknown, "key": "k"}, "run not found"},
		{"kv_get", anyMap{"run": id, "key": ""}, "key is empty"},
		{"kv_put", anyMap{"run": id, "key": "k", "value": "a", "value_base64": "YQ=="}, "not both"},
		{"kv_put", anyMap{"run": id, "key": "k", "value": "a", "ttl_seconds": -1}, "ttl_seconds -1"},
		{"kv_list", anyMap{"run": id, "limit": -2}, "limit -2"},
		{"state_get", anyMap{"run": id, "name": "nope"}, `"nope"`},
		{"state_cas", anyMap{"run": id, "name": "c", "version": 7, "value": "y"}, "version mismatch"},
		{"state_cas", anyMap{"run": id, "name": "c", "version": 0, "value": "y"}, "exists"},
		{"state_define", anyMap{"run": id, "name": "c", "initial": "a", "allow": anyMap{}}, "exists"},
		{"traces_record", anyMap{"run": id, "kind": "llm_call", "name": "x", "start": "yesterday"}, `start "yesterday"`},
		{"traces_record", anyMap{"run": id, "kind": "llm_call", "name": "x", "status": "fine"}, `status "fine"`},
		{"traces_record", anyMap{"run": id, "name": "x", "kind": ""}, "kind is required"},
		{"traces_query", anyMap{"run": id, "kind": "nap"}, `kind "nap"`},
		{"vectors_search", anyMap{"run": id, "collection": "nope", "vector": []float32{1, 0}}, `"nope"`},
		{"vectors_search", anyMap{"run": id, "collection": "v", "vector": []float32{1, 0, 0}}, "dimension 3"},
		{"vectors_search", anyMap{"run": id, "collection": "v", "vector": []float32{1, 0}, "k": -1}, "k"},
		{"vectors_search", anyMap{"run": id, "collection": "v", "vector": []float32{1, 0}, "ef": -3}, "ef -3"},
		{"vectors_upsert", anyMap{"run": id, "collection": "v", "key": "b", "vector": []float32{1}}, "dimension 1"},
		{"vectors_upsert", anyMap{"run": id, "collection": "w", "key": "b", "vector": []float32{1}, "metric": "manhattan"}, `metric "manhattan"`},
		{"vectors_drop_collection", anyMap{"run": id, "collection": "nope"}, `"nope"`},
		{"runs_end", anyMap{"run": id, "status": "paused"}, `status "paused"`},
		{"runs_list", anyMap{"status": "sleeping"}, `status "sleeping"`},
		{"runs_show", anyMap{"run": unknown}, "run not found"},
		{"history_asof", anyMap{"run": id, "step": 99}, "step 99"},
		{"history_steps", anyMap{"run": id, "limit": -1}, "limit -1"},
		{"history_fork", anyMap{"run": id, "step": 99}, "99"},
		{"history_diff", anyMap{"a": id, "b": "x"}, `b is not a run ID: run id "x"`},
		{"history_replay", anyMap{"run": unknown}, "run not found"},
	} {
		msg := toolError(t, cs, c.tool, c.args)
		require.Contains(t, msg, c.want, "%s %v", c.tool, c.args)
		require.Empty(t, repeated(msg), "%s %v: %s", c.tool, c.args, msg)
	}
	require.Equal(t, "a", repeated(`key "a": a: x: a`), "the check finds a repeat")
	require.Equal(t, "run r has 4 steps", repeated(`run r has 4 steps; step 9: as of step 9: run r has 4 steps: no such step`))
}
