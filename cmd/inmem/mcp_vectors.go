package main

import (
	"context"
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
	vectorsDeleteIn struct {
		scopeArg
		Collection string `json:"collection"`
		Key        string `json:"key" jsonschema:"the vector's key; an absent key is not an error"`
	}
	vectorsDropIn struct {
		scopeArg
		Collection string `json:"collection" jsonschema:"the collection to remove with every vector in it"`
	}
	vectorsCollectionsIn struct {
		scopeArg
	}
	collectionOut struct {
		Name   string `json:"name"`
		Dim    int    `json:"dim" jsonschema:"the dimension of its vectors"`
		Metric string `json:"metric" jsonschema:"cosine, euclidean or dot"`
	}
	vectorsCollectionsOut struct {
		Collections []collectionOut `json:"collections"`
	}
)

func (s *mcpServer) addVectorTools(srv *mcp.Server) {
	addTool(srv, tool{name: "vectors_upsert", title: "Store a vector",
		desc: "Store a vector with metadata under a key in a collection of a run (or of a shared scope, for long-term memory). The first upsert creates the collection, with the vector's dimension, in the same step: an upsert that fails creates nothing."},
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
			// One transaction, so that a collection is never left created
			// by an upsert that failed (say, of a zero vector under cosine).
			var out vectorsUpsertOut
			err = run.Update(func(tx *inmem.Tx) error {
				out = vectorsUpsertOut{}
				vs := tx.Vectors()
				err := vs.Upsert(in.Collection, in.Key, in.Vector, in.Meta)
				if !isNotFound(err) {
					return err
				}
				// Only a missing collection makes Upsert report not found.
				if err := vs.CreateCollection(in.Collection, inmem.VectorConfig{Dim: len(in.Vector), Metric: metric}); err != nil {
					return err
				}
				out.Created = true
				return vs.Upsert(in.Collection, in.Key, in.Vector, in.Meta)
			})
			if err != nil {
				return vectorsUpsertOut{}, err
			}
			return out, nil
		})

	addTool(srv, tool{name: "vectors_delete", title: "Delete a vector",
		desc: "Delete one vector of a collection by key; an absent key is not an error."},
		func(_ context.Context, in vectorsDeleteIn) (okOut, error) {
			run, err := s.scope(in.scopeArg)
			if err != nil {
				return okOut{}, err
			}
			err = run.Vectors().Delete(in.Collection, in.Key)
			return okOut{OK: err == nil}, err
		})

	addTool(srv, tool{name: "vectors_drop_collection", title: "Drop a collection",
		desc: "Remove a collection and every vector in it, in one step; its name is then free for a collection of another dimension or metric. A run's earlier steps still hold it (history_asof, history_fork)."},
		func(_ context.Context, in vectorsDropIn) (okOut, error) {
			run, err := s.scope(in.scopeArg)
			if err != nil {
				return okOut{}, err
			}
			err = run.Vectors().DropCollection(in.Collection)
			return okOut{OK: err == nil}, err
		})

	addTool(srv, tool{name: "vectors_list_collections", title: "List collections", readOnly: true,
		desc: "List the vector collections of a run or shared scope, by name, with their dimension and metric."},
		func(_ context.Context, in vectorsCollectionsIn) (vectorsCollectionsOut, error) {
			run, err := s.scope(in.scopeArg)
			if err != nil {
				return vectorsCollectionsOut{}, err
			}
			cs, err := run.Vectors().Collections()
			if err != nil {
				return vectorsCollectionsOut{}, err
			}
			return vectorsCollectionsOut{Collections: mapSlice(cs, func(c inmem.CollectionInfo) collectionOut {
				return collectionOut{Name: c.Name, Dim: c.Config.Dim, Metric: c.Config.Metric.String()}
			})}, nil
		})

	addTool(srv, tool{name: "vectors_search", title: "Search vectors", readOnly: true, schema: filterProperty,
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

// filterProperty gives the search's filter field the filter language's
// schema in place, not only as a reference, for clients that do not
// follow references; the nested filters refer to the same definition.
func filterProperty(s *jsonschema.Schema) {
	desc := filterSchema(s).Description
	f := s.Defs["filter"].CloneSchemas()
	f.Description = desc + "; " + f.Description
	s.Properties["filter"] = f
}
