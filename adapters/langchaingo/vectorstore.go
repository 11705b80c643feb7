package inmemlc

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/inmem-db/inmem"
	"github.com/tmc/langchaingo/embeddings"
	"github.com/tmc/langchaingo/schema"
	"github.com/tmc/langchaingo/vectorstores"
)

// ContentField is the metadata field a document's page content is kept
// under, beside its own metadata.
const ContentField = "_content"

// DefaultCollection is the collection of a store given no namespace.
const DefaultCollection = "documents"

// Store is a langchaingo vectorstores.VectorStore over in-mem vector
// collections of one scope.
type Store struct {
	scope    *inmem.Run
	embedder embeddings.Embedder
	coll     string
	metric   inmem.Metric
}

var _ vectorstores.VectorStore = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithEmbedder sets the embedder documents and queries are embedded with.
func WithEmbedder(e embeddings.Embedder) Option { return func(s *Store) { s.embedder = e } }

// WithCollection sets the collection used when a call names no
// namespace (default DefaultCollection).
func WithCollection(name string) Option { return func(s *Store) { s.coll = name } }

// WithMetric sets the metric of the collections the store creates
// (default inmem.Cosine).
func WithMetric(m inmem.Metric) Option { return func(s *Store) { s.metric = m } }

// New returns a Store over scope: a run, or db.Shared(ns) for memory that
// outlives runs.
func New(scope *inmem.Run, opts ...Option) (*Store, error) {
	if scope == nil {
		return nil, fmt.Errorf("langchaingo store: nil scope: %w", inmem.ErrInvalidArgument)
	}
	s := &Store{scope: scope, coll: DefaultCollection, metric: inmem.Cosine}
	for _, o := range opts {
		o(s)
	}
	if s.coll == "" {
		return nil, fmt.Errorf("langchaingo store: empty collection: %w", inmem.ErrInvalidArgument)
	}
	return s, nil
}

// options applies a call's options over the store's.
func (s *Store) options(opts []vectorstores.Option) (vectorstores.Options, string, error) {
	o := vectorstores.Options{Embedder: s.embedder}
	for _, f := range opts {
		f(&o)
	}
	coll := s.coll
	if o.NameSpace != "" {
		coll = o.NameSpace
	}
	if o.Embedder == nil {
		return o, "", fmt.Errorf("langchaingo store: no embedder: %w", inmem.ErrInvalidArgument)
	}
	return o, coll, nil
}

// AddDocuments embeds docs and upserts them into the collection (the
// namespace's, or the store's), creating it at the first call, all in one
// transaction; it returns the new documents' IDs. Documents the
// deduplicater rejects are skipped.
func (s *Store) AddDocuments(ctx context.Context, docs []schema.Document, opts ...vectorstores.Option) ([]string, error) {
	o, coll, err := s.options(opts)
	if err != nil {
		return nil, err
	}
	var keep []schema.Document
	for _, d := range docs {
		if o.Deduplicater != nil && o.Deduplicater(ctx, d) {
			continue
		}
		keep = append(keep, d)
	}
	if len(keep) == 0 {
		return nil, nil
	}
	texts := make([]string, len(keep))
	for i, d := range keep {
		texts[i] = d.PageContent
	}
	vecs, err := o.Embedder.EmbedDocuments(ctx, texts)
	if err != nil {
		return nil, fmt.Errorf("langchaingo store: embed: %w", err)
	}
	if len(vecs) != len(keep) {
		return nil, fmt.Errorf("langchaingo store: %d embeddings for %d documents: %w", len(vecs), len(keep), inmem.ErrInvalidArgument)
	}
	err = s.scope.Vectors().CreateCollection(coll, inmem.VectorConfig{Dim: len(vecs[0]), Metric: s.metric})
	if err != nil && !errors.Is(err, inmem.ErrExists) {
		return nil, fmt.Errorf("langchaingo store: %w", err)
	}
	ids := make([]string, len(keep))
	err = s.scope.Update(func(tx *inmem.Tx) error {
		vs := tx.Vectors()
		for i, d := range keep {
			ids[i] = uuid.NewString()
			meta := make(map[string]any, len(d.Metadata)+1)
			for k, v := range d.Metadata {
				meta[k] = v
			}
			meta[ContentField] = d.PageContent
			if err := vs.Upsert(coll, ids[i], vecs[i], meta); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("langchaingo store: %w", err)
	}
	return ids, nil
}

// SimilaritySearch returns up to n documents nearest to query, best
// first, each with its Score. A collection nothing was added to yet holds
// no documents.
func (s *Store) SimilaritySearch(ctx context.Context, query string, n int, opts ...vectorstores.Option) ([]schema.Document, error) {
	o, coll, err := s.options(opts)
	if err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, fmt.Errorf("langchaingo store: %d documents asked for: %w", n, inmem.ErrInvalidArgument)
	}
	var sopts []inmem.SearchOption
	if o.Filters != nil {
		f, err := filterOf(o.Filters)
		if err != nil {
			return nil, err
		}
		sopts = append(sopts, inmem.Where(f))
	}
	vec, err := o.Embedder.EmbedQuery(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("langchaingo store: embed: %w", err)
	}
	ms, err := s.scope.Vectors().Search(coll, vec, n, sopts...)
	if errors.Is(err, inmem.ErrNotFound) {
		if _, gerr := s.collection(coll); errors.Is(gerr, inmem.ErrNotFound) {
			return nil, nil // no collection: nothing added yet
		}
	}
	if err != nil {
		return nil, fmt.Errorf("langchaingo store: %w", err)
	}
	docs := make([]schema.Document, 0, len(ms))
	for _, m := range ms {
		if o.ScoreThreshold != 0 && m.Score < o.ScoreThreshold {
			continue
		}
		d := schema.Document{Metadata: map[string]any{}, Score: m.Score}
		for k, v := range m.Meta {
			if k == ContentField {
				d.PageContent, _ = v.(string)
				continue
			}
			d.Metadata[k] = v
		}
		docs = append(docs, d)
	}
	return docs, nil
}

// collection returns the collection's info, ErrNotFound if there is none.
func (s *Store) collection(name string) (inmem.CollectionInfo, error) {
	cs, err := s.scope.Vectors().Collections()
	if err != nil {
		return inmem.CollectionInfo{}, err
	}
	for _, c := range cs {
		if c.Name == name {
			return c, nil
		}
	}
	return inmem.CollectionInfo{}, inmem.ErrNotFound
}

// filterOf reads vectorstores.WithFilters' value: an inmem.Filter, or a
// map of fields that must all equal their values.
func filterOf(v any) (inmem.Filter, error) {
	switch f := v.(type) {
	case inmem.Filter:
		return f, nil
	case *inmem.Filter:
		if f != nil {
			return *f, nil
		}
	case map[string]any:
		var all []inmem.Filter
		for k, x := range f {
			all = append(all, inmem.Eq(k, x))
		}
		return inmem.And(all...), nil
	}
	return inmem.Filter{}, fmt.Errorf("langchaingo store: filters of type %T (want inmem.Filter or map[string]any): %w", v, inmem.ErrInvalidArgument)
}
