package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/inmem-db/inmem"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// version is what the MCP server reports as its implementation version.
const version = "0.1.0"

// mcpServer exposes one open database as MCP tools.
type mcpServer struct {
	db    *inmem.DB
	graph *inmem.KnowledgeGraph // what the memory-server tools read and change
}

// mcpInstructions tell a client's model how the tools fit together.
const mcpInstructions = `An embedded database for agent runs. Begin a run with runs_begin and pass its id as "run" to the kv_, events_, state_, traces_ and vectors_ tools (or pass "shared" with a namespace for long-lived memory outside any run). End it with runs_end. Values are UTF-8 strings; binary values travel in the matching *_base64 field instead. The knowledge-graph tools (create_entities, create_relations, add_observations, read_graph, search_nodes, open_nodes and the delete_ ones) keep a long-lived memory of entities, their observations and relations, as the MCP memory server does.`

// newMCPServer builds the MCP server over db with every tool registered;
// the memory-server tools keep the knowledge graph of namespace memory.
func newMCPServer(db *inmem.DB, memory inmem.Namespace) *mcp.Server {
	s := &mcpServer{db: db, graph: db.KnowledgeGraph(memory)}
	srv := mcp.NewServer(&mcp.Implementation{Name: "inmem", Title: "in-mem agent database", Version: version},
		&mcp.ServerOptions{Instructions: mcpInstructions})
	s.addRunTools(srv)
	s.addPrimitiveTools(srv)
	s.addVectorTools(srv)
	s.addHistoryTools(srv)
	s.addMemoryTools(srv)
	return srv
}

// tool describes one tool for addTool.
type tool struct {
	name, title, desc string
	readOnly          bool
	additive          bool // only adds (appends, new runs); never overwrites
	// schema, if set, amends the input schema inferred from the input
	// type, for fields whose Go type says less than the tool accepts.
	schema func(*jsonschema.Schema)
}

// addTool registers a typed handler. A panic in a handler becomes the
// tool's error rather than taking the server (and every other client's
// session) down.
func addTool[In, Out any](srv *mcp.Server, t tool, h func(ctx context.Context, in In) (Out, error)) {
	f := false
	ann := &mcp.ToolAnnotations{Title: t.title, ReadOnlyHint: t.readOnly, OpenWorldHint: &f}
	if t.additive {
		ann.DestructiveHint = &f
	}
	mcp.AddTool(srv, &mcp.Tool{Name: t.name, Title: t.title, Description: t.desc, Annotations: ann, InputSchema: inputSchema[In](t.schema)},
		func(ctx context.Context, _ *mcp.CallToolRequest, in In) (_ *mcp.CallToolResult, out Out, err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("internal error in %s: %v", t.name, r)
				}
			}()
			out, err = h(ctx, in)
			return nil, out, err
		})
}

// limitOr returns n within [1, max], def for 0.
func limitOr(n, def, max int) (int, error) {
	switch {
	case n == 0:
		return def, nil
	case n < 0:
		return 0, fmt.Errorf("limit %d: must be positive: %w", n, inmem.ErrInvalidArgument)
	case n > max:
		return max, nil
	}
	return n, nil
}

// inputSchema is the schema inferred from In, amended by amend, with no
// field typed null: a nil slice or pointer is how Go says "not given", and
// clients should send such a field as an array or object, or leave it out.
// An output type whose slices are never nil has its schema from here too.
func inputSchema[In any](amend func(*jsonschema.Schema)) *jsonschema.Schema {
	s, err := jsonschema.For[In](nil)
	if err != nil {
		panic(err) // a static type: fails at startup in every test, never later
	}
	if amend != nil {
		amend(s)
	}
	dropNull(s)
	return s
}

// dropNull turns every type list of null and one other type into that type.
func dropNull(s *jsonschema.Schema) {
	if s == nil {
		return
	}
	if i := slices.Index(s.Types, "null"); i >= 0 && len(s.Types) == 2 {
		s.Type, s.Types = s.Types[1-i], nil
	}
	for _, c := range s.Properties {
		dropNull(c)
	}
	for _, c := range s.Defs {
		dropNull(c)
	}
	dropNull(s.Items)
	dropNull(s.AdditionalProperties)
}
