package inmemgenkit

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/firebase/genkit/go/ai"
	"github.com/firebase/genkit/go/core"
	"github.com/firebase/genkit/go/genkit"
	"github.com/inmem-db/inmem"
)

// Provider is the provider part of the retrievers' registry names.
const Provider = "inmem"

// DocField is the metadata field the whole document is kept under, as
// JSON; ScoreField is where a retrieved document's score is.
const (
	DocField   = "_doc"
	ScoreField = "_score"
)

// Config says where a DocStore keeps its documents and how it embeds.
type Config struct {
	// Scope holds the collection: a run, or db.Shared(ns) for memory that
	// outlives runs.
	Scope *inmem.Run
	// Collection is the vector collection; created at the first Index
	// (Metric, default Cosine; the embeddings' length) if it is missing.
	Collection string
	Metric     inmem.Metric
	// Embedder embeds documents and queries, with EmbedderOptions.
	Embedder        ai.Embedder
	EmbedderOptions any
}

// RetrieverOptions tune one retrieval (ai.WithConfig).
type RetrieverOptions struct {
	// K is how many documents to return (default 3, as localvec's).
	K int `json:"k,omitempty"`
	// ScoreThreshold drops documents scoring below it (in-mem's score:
	// higher is closer, for every metric).
	ScoreThreshold float64 `json:"scoreThreshold,omitempty"`
	// Where keeps documents whose metadata has every one of these values.
	Where map[string]any `json:"where,omitempty"`
}

// DocStore is where a retriever's documents are.
type DocStore struct{ cfg Config }

// DefineRetriever registers a retriever named Provider/name over cfg's
// collection and returns its DocStore and the retriever.
func DefineRetriever(g *genkit.Genkit, name string, cfg Config, opts *ai.RetrieverOptions) (*DocStore, ai.Retriever, error) {
	if cfg.Scope == nil || cfg.Collection == "" || cfg.Embedder == nil {
		return nil, nil, fmt.Errorf("genkit retriever %q: a scope, a collection and an embedder are needed: %w", name, inmem.ErrInvalidArgument)
	}
	if cfg.Metric == 0 {
		cfg.Metric = inmem.Cosine
	}
	if opts == nil {
		opts = &ai.RetrieverOptions{}
	}
	if opts.ConfigSchema == nil {
		opts.ConfigSchema = core.InferSchemaMap(RetrieverOptions{})
	}
	ds := &DocStore{cfg: cfg}
	return ds, genkit.DefineRetriever(g, Provider+"/"+name, opts, ds.retrieve), nil
}

// Index embeds docs and upserts them into ds's collection in one
// transaction.
func Index(ctx context.Context, docs []*ai.Document, ds *DocStore) error {
	if len(docs) == 0 {
		return nil
	}
	for i, d := range docs {
		if d == nil {
			return fmt.Errorf("genkit index: document %d is nil: %w", i, inmem.ErrInvalidArgument)
		}
	}
	res, err := ds.cfg.Embedder.Embed(ctx, &ai.EmbedRequest{Input: docs, Options: ds.cfg.EmbedderOptions})
	if err != nil {
		return fmt.Errorf("genkit index: embed: %w", err)
	}
	if len(res.Embeddings) != len(docs) {
		return fmt.Errorf("genkit index: %d embeddings for %d documents: %w", len(res.Embeddings), len(docs), inmem.ErrInvalidArgument)
	}
	vs := ds.cfg.Scope.Vectors()
	err = vs.CreateCollection(ds.cfg.Collection, inmem.VectorConfig{Dim: len(res.Embeddings[0].Embedding), Metric: ds.cfg.Metric})
	if err != nil && !errors.Is(err, inmem.ErrExists) {
		return fmt.Errorf("genkit index: %w", err)
	}
	err = ds.cfg.Scope.Update(func(tx *inmem.Tx) error {
		for i, d := range docs {
			b, err := json.Marshal(d)
			if err != nil {
				return fmt.Errorf("document %d: %v: %w", i, err, inmem.ErrInvalidArgument)
			}
			meta := make(map[string]any, len(d.Metadata)+1)
			for k, v := range d.Metadata {
				meta[k] = v
			}
			meta[DocField] = string(b)
			if err := tx.Vectors().Upsert(ds.cfg.Collection, fmt.Sprintf("%02x", md5.Sum(b)), res.Embeddings[i].Embedding, meta); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("genkit index: %w", err)
	}
	return nil
}

// retrieve is the retriever's function.
func (ds *DocStore) retrieve(ctx context.Context, req *ai.RetrieverRequest) (*ai.RetrieverResponse, error) {
	if req.Query == nil {
		return nil, fmt.Errorf("genkit retrieve: no query: %w", inmem.ErrInvalidArgument)
	}
	o, err := retrieverOptions(req.Options)
	if err != nil {
		return nil, err
	}
	res, err := ds.cfg.Embedder.Embed(ctx, &ai.EmbedRequest{Input: []*ai.Document{req.Query}, Options: ds.cfg.EmbedderOptions})
	if err != nil {
		return nil, fmt.Errorf("genkit retrieve: embed: %w", err)
	}
	if len(res.Embeddings) != 1 {
		return nil, fmt.Errorf("genkit retrieve: %d embeddings for one query: %w", len(res.Embeddings), inmem.ErrInvalidArgument)
	}
	var sopts []inmem.SearchOption
	if len(o.Where) > 0 {
		var all []inmem.Filter
		for k, v := range o.Where {
			all = append(all, inmem.Eq(k, v))
		}
		sopts = append(sopts, inmem.Where(inmem.And(all...)))
	}
	ms, err := ds.cfg.Scope.Vectors().Search(ds.cfg.Collection, res.Embeddings[0].Embedding, o.K, sopts...)
	if err != nil {
		if errors.Is(err, inmem.ErrNotFound) && !ds.hasCollection() {
			return &ai.RetrieverResponse{}, nil // nothing indexed yet
		}
		return nil, fmt.Errorf("genkit retrieve: %w", err)
	}
	out := &ai.RetrieverResponse{}
	for _, m := range ms {
		if o.ScoreThreshold != 0 && float64(m.Score) < o.ScoreThreshold {
			continue
		}
		s, _ := m.Meta[DocField].(string)
		var d ai.Document
		if err := json.Unmarshal([]byte(s), &d); err != nil {
			return nil, fmt.Errorf("genkit retrieve: document %q: %v: %w", m.Key, err, inmem.ErrCorruption)
		}
		if d.Metadata == nil {
			d.Metadata = map[string]any{}
		}
		d.Metadata[ScoreField] = float64(m.Score)
		out.Documents = append(out.Documents, &d)
	}
	return out, nil
}

// hasCollection reports whether ds's collection exists.
func (ds *DocStore) hasCollection() bool {
	cs, err := ds.cfg.Scope.Vectors().Collections()
	if err != nil {
		return true // let the search's error stand
	}
	for _, c := range cs {
		if c.Name == ds.cfg.Collection {
			return true
		}
	}
	return false
}

// retrieverOptions reads a request's options: RetrieverOptions, a pointer
// to one, or its JSON form as a map (what a call through the registry
// hands over).
func retrieverOptions(v any) (RetrieverOptions, error) {
	o := RetrieverOptions{}
	switch x := v.(type) {
	case nil:
	case RetrieverOptions:
		o = x
	case *RetrieverOptions:
		if x != nil {
			o = *x
		}
	case map[string]any:
		b, err := json.Marshal(x)
		if err == nil {
			err = json.Unmarshal(b, &o)
		}
		if err != nil {
			return o, fmt.Errorf("genkit retrieve: options: %v: %w", err, inmem.ErrInvalidArgument)
		}
	default:
		return o, fmt.Errorf("genkit retrieve: options of type %T: %w", v, inmem.ErrInvalidArgument)
	}
	if o.K < 0 {
		return o, fmt.Errorf("genkit retrieve: K %d: %w", o.K, inmem.ErrInvalidArgument)
	}
	if o.K == 0 {
		o.K = 3
	}
	return o, nil
}
