package main

import (
	"context"
	"os/exec"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

// TestMCPMemoryTools drives the nine memory-server tools through the SDK's
// client: their annotations, the reference server's result texts and
// structured results, its error for a missing entity, and the graph kept
// as the steps of a run. compat/mcp-memory compares them, call by call,
// with the reference server itself.
func TestMCPMemoryTools(t *testing.T) {
	checkNoLeak(t)
	db := memDB(t)
	cs := mcpSession(t, db)
	ctx := context.Background()

	tools, err := cs.ListTools(ctx, nil)
	require.NoError(t, err)
	ann := map[string]*mcp.ToolAnnotations{}
	for _, tl := range tools.Tools {
		ann[tl.Name] = tl.Annotations
	}
	for name, want := range map[string][3]bool{ // read-only, destructive, idempotent
		"create_entities": {}, "create_relations": {}, "add_observations": {},
		"delete_entities": {false, true, true}, "delete_observations": {false, true, true}, "delete_relations": {false, true, true},
		"read_graph": {true, false, true}, "search_nodes": {true, false, true}, "open_nodes": {true, false, true},
	} {
		a := ann[name]
		require.NotNil(t, a, "tool %s listed", name)
		require.Equal(t, want, [3]bool{a.ReadOnlyHint, *a.DestructiveHint, a.IdempotentHint}, name)
		require.False(t, *a.OpenWorldHint, name)
	}

	res := call(t, cs, "create_entities", anyMap{"entities": []anyMap{
		{"name": "Ada", "entityType": "person", "observations": []string{"<wrote> & ran"}},
		{"name": "Engine", "entityType": "machine", "observations": []string{}, "extra": "dropped"},
	}})
	require.Equal(t, `[
  {
    "name": "Ada",
    "entityType": "person",
    "observations": [
      "<wrote> & ran"
    ]
  },
  {
    "name": "Engine",
    "entityType": "machine",
    "observations": []
  }
]`, resultText(res), "JSON.stringify(result, null, 2), nothing escaped that JavaScript leaves")
	require.Equal(t, anyMap{"entities": []any{
		anyMap{"name": "Ada", "entityType": "person", "observations": []any{"<wrote> & ran"}},
		anyMap{"name": "Engine", "entityType": "machine", "observations": []any{}},
	}}, res.StructuredContent)

	callTool[anyMap](t, cs, "create_relations", anyMap{"relations": []anyMap{{"from": "Ada", "to": "Engine", "relationType": "programs"}}})
	added := callTool[kgAddObservationsOut](t, cs, "add_observations", anyMap{"observations": []anyMap{{"entityName": "Engine", "contents": []string{"steam", "steam"}}}})
	require.Equal(t, []kgAdded{{EntityName: "Engine", AddedObservations: []string{"steam"}}}, added.Results)
	require.Equal(t, "Entity with name Ghost not found",
		toolError(t, cs, "add_observations", anyMap{"observations": []anyMap{{"entityName": "Engine", "contents": []string{"x"}}, {"entityName": "Ghost", "contents": []string{"boo"}}}}),
		"the reference server's text; nothing of the call is written")

	g := callTool[kgGraph](t, cs, "search_nodes", anyMap{"query": "STEAM"})
	require.Equal(t, kgGraph{Entities: []kgEntity{{"Engine", "machine", []string{"steam"}}},
		Relations: []kgRelation{{"Ada", "Engine", "programs"}}}, g)
	g = callTool[kgGraph](t, cs, "open_nodes", anyMap{"names": []string{"Ada"}})
	require.Equal(t, []kgEntity{{"Ada", "person", []string{"<wrote> & ran"}}}, g.Entities)

	res = call(t, cs, "delete_entities", anyMap{"entityNames": []string{"Ada"}})
	require.Equal(t, "Entities deleted successfully", resultText(res))
	require.Equal(t, anyMap{"success": true, "message": "Entities deleted successfully"}, res.StructuredContent)
	callTool[kgDeleted](t, cs, "delete_observations", anyMap{"deletions": []anyMap{{"entityName": "Engine", "observations": []string{"steam"}}}})
	callTool[kgDeleted](t, cs, "delete_relations", anyMap{"relations": []anyMap{{"from": "a", "to": "b", "relationType": "c"}}})
	g = callTool[kgGraph](t, cs, "read_graph", anyMap{})
	require.Equal(t, kgGraph{Entities: []kgEntity{{"Engine", "machine", []string{}}}, Relations: []kgRelation{}}, g)

	require.Contains(t, toolError(t, cs, "create_entities", anyMap{"entities": []anyMap{{"name": "no type", "observations": []string{}}}}), "entityType")

	// Every change was a step of the graph's run, in the default namespace.
	run, err := db.KnowledgeGraph(inmem.Namespace{}).Run()
	require.NoError(t, err)
	steps, err := run.Steps()
	require.NoError(t, err)
	require.Len(t, steps, 5, "create, relate, observe, delete entity, delete observation; deleting an absent relation writes nothing")
	first, err := db.KnowledgeGraph(inmem.Namespace{}).ReadAt(1)
	require.NoError(t, err)
	require.Len(t, first.Entities, 2)
}

// TestServeMemoryNamespace: serve keeps the graph of the namespace
// --memory-namespace names, across restarts, and the CLI reads its history.
func TestServeMemoryNamespace(t *testing.T) {
	dir := t.TempDir()
	connect := func() *mcp.ClientSession {
		cmd := exec.Command(builtBinary(t), "serve", dir, "--mcp", "--memory-namespace", "acme/-/triage")
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(context.Background(), &mcp.CommandTransport{Command: cmd}, nil)
		require.NoError(t, err)
		return cs
	}
	cs := connect()
	callTool[anyMap](t, cs, "create_entities", anyMap{"entities": []anyMap{{"name": "user", "entityType": "person", "observations": []string{"prefers email"}}}})
	require.NoError(t, cs.Close())

	cs = connect()
	g := callTool[kgGraph](t, cs, "read_graph", anyMap{})
	require.NoError(t, cs.Close())
	require.Equal(t, []kgEntity{{"user", "person", []string{"prefers email"}}}, g.Entities)

	db, err := inmem.Open(dir)
	require.NoError(t, err)
	got, err := db.KnowledgeGraph(inmem.Namespace{Tenant: "acme", Agent: "triage"}).Read()
	require.NoError(t, err)
	require.Len(t, got.Entities, 1)
	other, err := db.KnowledgeGraph(inmem.Namespace{}).Read()
	require.NoError(t, err)
	require.Empty(t, other.Entities)
	require.NoError(t, db.Close())

	out, code := run(t, "asof", dir, inmem.KnowledgeGraphTag, "1")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "entity/user")
}

func TestParseNamespace(t *testing.T) {
	for in, want := range map[string]inmem.Namespace{
		"":                {},
		"acme":            {Tenant: "acme"},
		"acme/app":        {Tenant: "acme", App: "app"},
		"-/-/agent":       {Agent: "agent"},
		"acme/app/agent":  {Tenant: "acme", App: "app", Agent: "agent"},
		"acme//agent":     {Tenant: "acme", Agent: "agent"},
		"-/research/-":    {App: "research"},
		"tenant/app/agnt": {Tenant: "tenant", App: "app", Agent: "agnt"},
	} {
		got, err := parseNamespace(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"a/b/c/d", string([]byte{0xff}), string(make([]byte, inmem.MaxNameSize+1))} {
		_, err := parseNamespace(bad)
		require.Error(t, err, bad)
	}
	out, code := run(t, "serve", t.TempDir(), "--mcp", "--memory-namespace", "a/b/c/d")
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "at most three parts")
}

// call calls a tool that must succeed and returns its whole result.
func call(t *testing.T, cs *mcp.ClientSession, name string, args any) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	require.NoError(t, err)
	require.False(t, res.IsError, "%s: %s", name, resultText(res))
	return res
}
