package inmemeino

import (
	"context"
	"errors"
	"fmt"

	"github.com/cloudwego/eino/components/embedding"
	"github.com/cloudwego/eino/components/indexer"
	"github.com/cloudwego/eino/components/retriever"
	"github.com/cloudwego/eino/schema"
	"github.com/google/uuid"
	"github.com/inmem-db/inmem"
)

// ContentField is the metadata field a document's content is kept under,
// beside its own metadata.
const ContentField = "_content"

// einoOnly are the metadata keys Eino sets on a document for one call
// (a retrieval's score, the vectors an embedder attached): not stored.
var einoOnly = []string{"_score", "_dense_vector", "_sparse_vector", "_dsl"}

// IndexerConfig configures an Indexer.
type IndexerConfig struct {
	// Scope holds the collection: a run, or db.Shared(ns) for memory that
	// outlives runs.
	Scope *inmem.Run
	// Collection is the vector collection documents go into.
	Collection string
	// Embedding embeds the documents' content; indexer.WithEmbedding
	// overrides it for one Store.
	Embedding embedding.Embedder
	// Create, when set, is the configuration the collection is created
	// with at the first Store if it does not exist; a zero Dim takes the
	// first embedding's length. Unset, the collection must exist.
	Create *inmem.VectorConfig
}

// Indexer is an Eino indexer.Indexer over an in-mem vector collection.
type Indexer struct{ cfg IndexerConfig }

var _ indexer.Indexer = (*Indexer)(nil)

// NewIndexer returns an Indexer for cfg.
func NewIndexer(cfg IndexerConfig) (*Indexer, error) {
	if cfg.Scope == nil || cfg.Collection == "" {
		return nil, fmt.Errorf("eino indexer: a scope and a collection are needed: %w", inmem.ErrInvalidArgument)
	}
	return &Indexer{cfg: cfg}, nil
}

// Store embeds docs and upserts them, all in one transaction, under their
// IDs (a new UUID for a document without one); it returns the IDs in the
// order of docs. A document's metadata is kept with its vector, and its
// content under ContentField.
func (ix *Indexer) Store(ctx context.Context, docs []*schema.Document, opts ...indexer.Option) ([]string, error) {
	o := indexer.GetCommonOptions(&indexer.Options{Embedding: ix.cfg.Embedding}, opts...)
	if o.Embedding == nil {
		return nil, fmt.Errorf("eino indexer: no embedder: %w", inmem.ErrInvalidArgument)
	}
	if len(docs) == 0 {
		return nil, nil
	}
	texts := make([]string, len(docs))
	for i, d := range docs {
		if d == nil {
			return nil, fmt.Errorf("eino indexer: document %d is nil: %w", i, inmem.ErrInvalidArgument)
		}
		texts[i] = d.Content
	}
	vecs, err := o.Embedding.EmbedStrings(ctx, texts)
	if err != nil {
		return nil, fmt.Errorf("eino indexer: embed: %w", err)
	}
	if len(vecs) != len(docs) {
		return nil, fmt.Errorf("eino indexer: %d embeddings for %d documents: %w", len(vecs), len(docs), inmem.ErrInvalidArgument)
	}
	if err := ix.ensureCollection(len(vecs[0])); err != nil {
		return nil, err
	}
	ids := make([]string, len(docs))
	err = ix.cfg.Scope.Update(func(tx *inmem.Tx) error {
		vs := tx.Vectors()
		for i, d := range docs {
			ids[i] = d.ID
			if ids[i] == "" {
				ids[i] = uuid.NewString()
			}
			meta := make(map[string]any, len(d.MetaData)+1)
			for k, v := range d.MetaData {
				meta[k] = v
			}
			for _, k := range einoOnly {
				delete(meta, k)
			}
			meta[ContentField] = d.Content
			if err := vs.Upsert(ix.cfg.Collection, ids[i], toFloat32(vecs[i]), meta); err != nil {
				return fmt.Errorf("document %q: %w", ids[i], err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eino indexer: %w", err)
	}
	return ids, nil
}

// ensureCollection creates the collection as cfg.Create says, if it is
// set and the collection does not exist.
func (ix *Indexer) ensureCollection(dim int) error {
	if ix.cfg.Create == nil {
		return nil
	}
	c := *ix.cfg.Create
	if c.Dim == 0 {
		c.Dim = dim
	}
	err := ix.cfg.Scope.Vectors().CreateCollection(ix.cfg.Collection, c)
	if err != nil && !errors.Is(err, inmem.ErrExists) {
		return fmt.Errorf("eino indexer: %w", err)
	}
	return nil
}

// RetrieverConfig configures a Retriever.
type RetrieverConfig struct {
	// Scope and Collection: where the documents are (see IndexerConfig).
	Scope      *inmem.Run
	Collection string
	// Embedding embeds the query; retriever.WithEmbedding overrides it.
	Embedding embedding.Embedder
	// TopK is how many documents a Retrieve returns at most (default 4);
	// retriever.WithTopK overrides it.
	TopK int
	// ScoreThreshold, when set, drops documents scoring below it (in-mem's
	// score: higher is closer, for every metric); retriever.
	// WithScoreThreshold overrides it.
	ScoreThreshold *float64
	// Filter, when set, keeps only documents whose metadata it matches;
	// WithFilter overrides it.
	Filter *inmem.Filter
}

// Retriever is an Eino retriever.Retriever over an in-mem vector
// collection.
type Retriever struct{ cfg RetrieverConfig }

var _ retriever.Retriever = (*Retriever)(nil)

// NewRetriever returns a Retriever for cfg.
func NewRetriever(cfg RetrieverConfig) (*Retriever, error) {
	if cfg.Scope == nil || cfg.Collection == "" {
		return nil, fmt.Errorf("eino retriever: a scope and a collection are needed: %w", inmem.ErrInvalidArgument)
	}
	if cfg.TopK < 0 {
		return nil, fmt.Errorf("eino retriever: TopK %d: %w", cfg.TopK, inmem.ErrInvalidArgument)
	}
	if cfg.TopK == 0 {
		cfg.TopK = 4
	}
	return &Retriever{cfg: cfg}, nil
}

type retrieveOptions struct{ filter *inmem.Filter }

// WithFilter keeps only documents whose metadata f matches, for one
// Retrieve (inmem.Eq, inmem.In, inmem.And, ...).
func WithFilter(f inmem.Filter) retriever.Option {
	return retriever.WrapImplSpecificOptFn(func(o *retrieveOptions) { o.filter = &f })
}

// Retrieve embeds query and returns the nearest documents, best first,
// each with its score (doc.Score()) and its metadata.
func (r *Retriever) Retrieve(ctx context.Context, query string, opts ...retriever.Option) ([]*schema.Document, error) {
	topK := r.cfg.TopK
	o := retriever.GetCommonOptions(&retriever.Options{TopK: &topK, ScoreThreshold: r.cfg.ScoreThreshold, Embedding: r.cfg.Embedding}, opts...)
	io := retriever.GetImplSpecificOptions(&retrieveOptions{filter: r.cfg.Filter}, opts...)
	if o.Embedding == nil {
		return nil, fmt.Errorf("eino retriever: no embedder: %w", inmem.ErrInvalidArgument)
	}
	if o.TopK == nil || *o.TopK <= 0 {
		return nil, fmt.Errorf("eino retriever: TopK must be positive: %w", inmem.ErrInvalidArgument)
	}
	vecs, err := o.Embedding.EmbedStrings(ctx, []string{query})
	if err != nil {
		return nil, fmt.Errorf("eino retriever: embed: %w", err)
	}
	if len(vecs) != 1 {
		return nil, fmt.Errorf("eino retriever: %d embeddings for one query: %w", len(vecs), inmem.ErrInvalidArgument)
	}
	var sopts []inmem.SearchOption
	if io.filter != nil {
		sopts = append(sopts, inmem.Where(*io.filter))
	}
	ms, err := r.cfg.Scope.Vectors().Search(r.cfg.Collection, toFloat32(vecs[0]), *o.TopK, sopts...)
	if err != nil {
		return nil, fmt.Errorf("eino retriever: %w", err)
	}
	docs := make([]*schema.Document, 0, len(ms))
	for _, m := range ms {
		score := float64(m.Score)
		if o.ScoreThreshold != nil && score < *o.ScoreThreshold {
			continue
		}
		d := &schema.Document{ID: m.Key, MetaData: map[string]any{}}
		for k, v := range m.Meta {
			if k == ContentField {
				d.Content, _ = v.(string)
				continue
			}
			d.MetaData[k] = v
		}
		docs = append(docs, d.WithScore(score))
	}
	return docs, nil
}

func toFloat32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}
