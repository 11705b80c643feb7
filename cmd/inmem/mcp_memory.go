package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/inmem-db/inmem"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The nine tools of the MCP reference memory server
// (@modelcontextprotocol/server-memory), over inmem.KnowledgeGraph: the
// same names, argument shapes, annotations, text and structured results,
// and error texts, so that an agent prompted for that server works
// against this one unchanged. Unlike the primitive tools they take no run
// or namespace: the graph is the one of the namespace serve was given
// (--memory-namespace), and every change is a step of its run.

// Shapes of the reference server's arguments and results; field names
// and descriptions are its own.
type (
	kgEntity struct {
		Name         string   `json:"name" jsonschema:"The name of the entity"`
		EntityType   string   `json:"entityType" jsonschema:"The type of the entity"`
		Observations []string `json:"observations" jsonschema:"An array of observation contents associated with the entity"`
	}
	kgRelation struct {
		From         string `json:"from" jsonschema:"The name of the entity where the relation starts"`
		To           string `json:"to" jsonschema:"The name of the entity where the relation ends"`
		RelationType string `json:"relationType" jsonschema:"The type of the relation"`
	}
	kgGraph struct {
		Entities  []kgEntity   `json:"entities"`
		Relations []kgRelation `json:"relations"`
	}
	kgEntitiesIn struct {
		Entities []kgEntity `json:"entities"`
	}
	kgRelationsIn struct {
		Relations []kgRelation `json:"relations"`
	}
	kgDeleteRelationsIn struct {
		Relations []kgRelation `json:"relations" jsonschema:"An array of relations to delete"`
	}
	kgAddObservationsIn struct {
		Observations []struct {
			EntityName string   `json:"entityName" jsonschema:"The name of the entity to add the observations to"`
			Contents   []string `json:"contents" jsonschema:"An array of observation contents to add"`
		} `json:"observations"`
	}
	kgAdded struct {
		EntityName        string   `json:"entityName"`
		AddedObservations []string `json:"addedObservations"`
	}
	kgAddObservationsOut struct {
		Results []kgAdded `json:"results"`
	}
	kgDeleteEntitiesIn struct {
		EntityNames []string `json:"entityNames" jsonschema:"An array of entity names to delete"`
	}
	kgDeleteObservationsIn struct {
		Deletions []struct {
			EntityName   string   `json:"entityName" jsonschema:"The name of the entity containing the observations"`
			Observations []string `json:"observations" jsonschema:"An array of observations to delete"`
		} `json:"deletions"`
	}
	kgDeleted struct {
		Success bool   `json:"success"`
		Message string `json:"message"`
	}
	kgEmptyIn  struct{}
	kgSearchIn struct {
		Query string `json:"query" jsonschema:"The search query to match against entity names, types, and observation content"`
	}
	kgOpenIn struct {
		Names []string `json:"names" jsonschema:"An array of entity names to retrieve"`
	}
)

// memoryTool describes one of the nine tools: the reference server's
// title, description and annotations.
type memoryTool struct {
	name, title, desc              string
	readOnly, destructive, idempot bool
}

// addMemoryTool registers a typed handler that returns its result's text
// (the reference server's, JSON indented by two spaces or a sentence)
// besides its structured result.
func addMemoryTool[In, Out any](srv *mcp.Server, t memoryTool, h func(In) (text any, out Out, err error)) {
	f := false
	ann := &mcp.ToolAnnotations{ReadOnlyHint: t.readOnly, DestructiveHint: &t.destructive,
		IdempotentHint: t.idempot, OpenWorldHint: &f}
	mcp.AddTool(srv, &mcp.Tool{Name: t.name, Title: t.title, Description: t.desc, Annotations: ann,
		InputSchema: inputSchema[In](openObjects), OutputSchema: inputSchema[Out](nil)},
		func(_ context.Context, _ *mcp.CallToolRequest, in In) (_ *mcp.CallToolResult, out Out, err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("internal error in %s: %v", t.name, r)
				}
			}()
			text, out, err := h(in)
			if err != nil {
				return nil, out, err
			}
			s, ok := text.(string)
			if !ok {
				if s, err = indentJSON(text); err != nil {
					return nil, out, err
				}
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}, out, nil
		})
}

func (s *mcpServer) addMemoryTools(srv *mcp.Server) {
	addMemoryTool(srv, memoryTool{name: "create_entities", title: "Create Entities",
		desc: "Create multiple new entities in the knowledge graph"},
		func(in kgEntitiesIn) (any, kgEntitiesIn, error) {
			added, err := s.graph.CreateEntities(mapSlice(in.Entities, kgEntity.entity))
			out := mapSlice(added, entityOf)
			return out, kgEntitiesIn{Entities: out}, err
		})
	addMemoryTool(srv, memoryTool{name: "create_relations", title: "Create Relations",
		desc: "Create multiple new relations between entities in the knowledge graph. Relations should be in active voice"},
		func(in kgRelationsIn) (any, kgRelationsIn, error) {
			added, err := s.graph.CreateRelations(mapSlice(in.Relations, kgRelation.relation))
			out := mapSlice(added, relationOf)
			return out, kgRelationsIn{Relations: out}, err
		})
	addMemoryTool(srv, memoryTool{name: "add_observations", title: "Add Observations",
		desc: "Add new observations to existing entities in the knowledge graph"},
		func(in kgAddObservationsIn) (any, kgAddObservationsOut, error) {
			obs := make([]inmem.EntityObservations, len(in.Observations))
			for i, o := range in.Observations {
				obs[i] = inmem.EntityObservations{EntityName: o.EntityName, Observations: o.Contents}
			}
			added, err := s.graph.AddObservations(obs)
			if err != nil {
				return nil, kgAddObservationsOut{}, s.missingEntity(err, obs)
			}
			out := mapSlice(added, func(a inmem.EntityObservations) kgAdded { return kgAdded{a.EntityName, a.Observations} })
			return out, kgAddObservationsOut{Results: out}, nil
		})
	addMemoryTool(srv, memoryTool{name: "delete_entities", title: "Delete Entities", destructive: true, idempot: true,
		desc: "Delete multiple entities and their associated relations from the knowledge graph"},
		func(in kgDeleteEntitiesIn) (any, kgDeleted, error) {
			return deleted("Entities", s.graph.DeleteEntities(in.EntityNames))
		})
	addMemoryTool(srv, memoryTool{name: "delete_observations", title: "Delete Observations", destructive: true, idempot: true,
		desc: "Delete specific observations from entities in the knowledge graph"},
		func(in kgDeleteObservationsIn) (any, kgDeleted, error) {
			obs := make([]inmem.EntityObservations, len(in.Deletions))
			for i, d := range in.Deletions {
				obs[i] = inmem.EntityObservations{EntityName: d.EntityName, Observations: d.Observations}
			}
			return deleted("Observations", s.graph.DeleteObservations(obs))
		})
	addMemoryTool(srv, memoryTool{name: "delete_relations", title: "Delete Relations", destructive: true, idempot: true,
		desc: "Delete multiple relations from the knowledge graph"},
		func(in kgDeleteRelationsIn) (any, kgDeleted, error) {
			return deleted("Relations", s.graph.DeleteRelations(mapSlice(in.Relations, kgRelation.relation)))
		})
	addMemoryTool(srv, memoryTool{name: "read_graph", title: "Read Graph", readOnly: true, idempot: true,
		desc: "Read the entire knowledge graph"},
		func(kgEmptyIn) (any, kgGraph, error) { return graphOf(s.graph.Read()) })
	addMemoryTool(srv, memoryTool{name: "search_nodes", title: "Search Nodes", readOnly: true, idempot: true,
		desc: "Search for nodes in the knowledge graph based on a query"},
		func(in kgSearchIn) (any, kgGraph, error) { return graphOf(s.graph.Search(in.Query)) })
	addMemoryTool(srv, memoryTool{name: "open_nodes", title: "Open Nodes", readOnly: true, idempot: true,
		desc: "Open specific nodes in the knowledge graph by their names"},
		func(in kgOpenIn) (any, kgGraph, error) { return graphOf(s.graph.Open(in.Names)) })
}

func (e kgEntity) entity() inmem.Entity {
	return inmem.Entity{Name: e.Name, EntityType: e.EntityType, Observations: e.Observations}
}

func entityOf(e inmem.Entity) kgEntity {
	return kgEntity{Name: e.Name, EntityType: e.EntityType, Observations: e.Observations}
}

func (r kgRelation) relation() inmem.Relation {
	return inmem.Relation{From: r.From, To: r.To, RelationType: r.RelationType}
}

func relationOf(r inmem.Relation) kgRelation {
	return kgRelation{From: r.From, To: r.To, RelationType: r.RelationType}
}

func graphOf(g inmem.Graph, err error) (any, kgGraph, error) {
	out := kgGraph{Entities: mapSlice(g.Entities, entityOf), Relations: mapSlice(g.Relations, relationOf)}
	return out, out, err
}

// deleted is a delete tool's result: the reference server's sentence.
func deleted(what string, err error) (any, kgDeleted, error) {
	if err != nil {
		return nil, kgDeleted{}, err
	}
	msg := what + " deleted successfully"
	return msg, kgDeleted{Success: true, Message: msg}, nil
}

// textError is an error whose text a tool returns as it is.
type textError string

func (e textError) Error() string { return string(e) }

// missingEntity turns add_observations' not-found error into the
// reference server's text, which names the first entity of the call that
// does not exist.
func (s *mcpServer) missingEntity(err error, obs []inmem.EntityObservations) error {
	if !errors.Is(err, inmem.ErrNotFound) {
		return err
	}
	names := mapSlice(obs, func(o inmem.EntityObservations) string { return o.EntityName })
	g, gerr := s.graph.Open(names)
	if gerr != nil {
		return err
	}
	for _, n := range names {
		if !slices.ContainsFunc(g.Entities, func(e inmem.Entity) bool { return e.Name == n }) {
			return textError("Entity with name " + n + " not found")
		}
	}
	return err // created since: the library's own text
}

// indentJSON is JSON.stringify(v, null, 2): two-space indents, and no
// escaping of <, > and & (which JavaScript leaves as they are).
func indentJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), nil
}

// openObjects lets every object of a schema carry properties it does not
// name, as the reference server's schemas do (it drops them): a client
// that sends an extra field is not refused.
func openObjects(s *jsonschema.Schema) {
	if s == nil {
		return
	}
	s.AdditionalProperties = nil
	if s.Type == "object" && s.Properties == nil {
		s.Properties = map[string]*jsonschema.Schema{} // "properties": {}, as the reference lists
	}
	for _, c := range s.Properties {
		openObjects(c)
	}
	openObjects(s.Items)
}
