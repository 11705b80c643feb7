package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/inmem-db/inmem"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Inputs and outputs of the vector tools.
type (
	vectorsUpsertIn struct {
		scopeArg
		Collection string         `json:"collection" jsonschema:"the collection; created on first upsert with the vector's dimension"`
		Key        string         `json:"key" jsonschema:"the vector's key; an upsert of an existing key replaces it"`
		Vector     []float32      `json:"vector"`
		Meta       map[string]any `json:"meta,omitempty" jsonschema:"metadata that vectors_search filters can test"`
		Metric     string         `json:"metric,omitempty" jsonschema:"cosine (the default), euclidean or dot; used only when this upsert creates the collection"`
	}
	vectorsUpsertOut struct {
		Created bool `json:"created,omitempty" jsonschema:"true when this upsert created the collection"`
	}
	vectorsSearchIn struct {
		scopeArg
		Collection string    `json:"collection"`
		Vector     []float32 `json:"vector" jsonschema:"the query vector"`
		K          int       `json:"k,omitempty" jsonschema:"how many matches (default 10, at most 1000)"`
		Filter     any       `json:"filter,omitempty"`
		Ef         int       `json:"ef,omitempty" jsonschema:"search breadth; larger is slower and more accurate"`
	}
	matchOut struct {
		Key   string         `json:"key"`
		Score float32        `json:"score" jsonschema:"higher is more similar, for every metric"`
		Meta  map[string]any `json:"meta,omitempty"`
	}
	vectorsSearchOut struct {
		Matches []matchOut `json:"matches"`
	}
)

func (s *mcpServer) addVectorTools(srv *mcp.Server) {
	addTool(srv, tool{name: "vectors_upsert", title: "Store a vector",
		desc: "Store a vector with metadata under a key in a collection of a run (or of a shared scope, for long-term memory). The first upsert creates the collection."},
		func(_ context.Context, in vectorsUpsertIn) (vectorsUpsertOut, error) {
			run, err := s.scope(in.scopeArg)
			if err != nil {
				return vectorsUpsertOut{}, err
			}
			metric, err := parseMetric(in.Metric)
			if err != nil {
				return vectorsUpsertOut{}, err
			}
			if len(in.Vector) == 0 {
				return vectorsUpsertOut{}, fmt.Errorf("vector is empty: %w", inmem.ErrInvalidArgument)
			}
			vs := run.Vectors()
			err = vs.Upsert(in.Collection, in.Key, in.Vector, in.Meta)
			if !isNotFound(err) {
				return vectorsUpsertOut{}, err
			}
			// Only a missing collection makes Upsert report not found.
			var out vectorsUpsertOut
			cerr := vs.CreateCollection(in.Collection, inmem.VectorConfig{Dim: len(in.Vector), Metric: metric})
			switch {
			case cerr == nil:
				out.Created = true
			case !errors.Is(cerr, inmem.ErrExists): // else another call created it first
				return out, cerr
			}
			return out, vs.Upsert(in.Collection, in.Key, in.Vector, in.Meta)
		})

	addTool(srv, tool{name: "vectors_search", title: "Search vectors", readOnly: true, inputSchema: vectorsSearchSchema(),
		desc: `Find the k vectors of a collection nearest to a query vector, best first, optionally only those whose metadata match a filter. Filter examples: {"field": "lang", "eq": "en"}; {"field": "year", "gte": 2020, "lt": 2024}; {"and": [{"field": "lang", "in": ["en", "de"]}, {"not": {"field": "draft", "eq": true}}]}.`},
		func(_ context.Context, in vectorsSearchIn) (vectorsSearchOut, error) {
			run, err := s.scope(in.scopeArg)
			if err != nil {
				return vectorsSearchOut{}, err
			}
			k, err := limitOr(in.K, 10, maxList)
			if err != nil {
				return vectorsSearchOut{}, fmt.Errorf("k: %w", err)
			}
			var opts []inmem.SearchOption
			if in.Filter != nil {
				f, err := parseFilter(in.Filter)
				if err != nil {
					return vectorsSearchOut{}, err
				}
				opts = append(opts, inmem.Where(f))
			}
			if in.Ef < 0 {
				return vectorsSearchOut{}, fmt.Errorf("ef %d: must be positive: %w", in.Ef, inmem.ErrInvalidArgument)
			}
			if in.Ef > 0 {
				opts = append(opts, inmem.Ef(in.Ef))
			}
			ms, err := run.Vectors().Search(in.Collection, in.Vector, k, opts...)
			if err != nil {
				return vectorsSearchOut{}, err
			}
			return vectorsSearchOut{Matches: mapSlice(ms, func(m inmem.Match) matchOut {
				return matchOut{Key: m.Key, Score: m.Score, Meta: m.Meta}
			})}, nil
		})
}

// vectorsSearchSchema is the inferred input schema with the recursive
// filter language put in place of the untyped filter field.
func vectorsSearchSchema() *jsonschema.Schema {
	s, err := jsonschema.For[vectorsSearchIn](nil)
	if err != nil {
		panic(err) // a static type: fails at startup in every test, never later
	}
	s.Properties["filter"] = filterSchema(s)
	return s
}
