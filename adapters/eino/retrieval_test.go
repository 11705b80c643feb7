package inmemeino_test

import (
	"context"
	"errors"
	"hash/fnv"
	"strings"
	"testing"

	"github.com/cloudwego/eino/components/embedding"
	"github.com/cloudwego/eino/components/indexer"
	"github.com/cloudwego/eino/components/retriever"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"
	"github.com/inmem-db/inmem"
	inmemeino "github.com/inmem-db/inmem/adapters/eino"
	"github.com/stretchr/testify/require"
)

// wordEmbedder embeds a text as the counts of its words, each hashed to
// one of 16 dimensions: texts sharing words are near under Cosine.
type wordEmbedder struct{ calls int }

func (e *wordEmbedder) EmbedStrings(_ context.Context, texts []string, _ ...embedding.Option) ([][]float64, error) {
	e.calls++
	out := make([][]float64, len(texts))
	for i, t := range texts {
		v := make([]float64, 16)
		for _, w := range strings.Fields(strings.ToLower(t)) {
			h := fnv.New32a()
			h.Write([]byte(w))
			v[h.Sum32()%16]++
		}
		out[i] = v
	}
	return out, nil
}

type failingEmbedder struct{}

func (failingEmbedder) EmbedStrings(context.Context, []string, ...embedding.Option) ([][]float64, error) {
	return nil, errors.New("model unavailable")
}

var pets = []*schema.Document{
	{ID: "1", Content: "cats purr and sleep", MetaData: map[string]any{"kind": "cat", "year": 2024}},
	{ID: "2", Content: "dogs bark at the mail", MetaData: map[string]any{"kind": "dog", "year": 2023}},
	{ID: "3", Content: "cats chase the dogs", MetaData: map[string]any{"kind": "cat", "year": 2022}},
	{ID: "4", Content: "fish swim in water", MetaData: map[string]any{"kind": "fish", "year": 2024}},
}

// TestRetrievalChain: an Eino chain indexes documents into an in-mem
// collection, and another retrieves them, with TopK, a score threshold
// and a metadata filter passed the way Eino passes a node's options.
func TestRetrievalChain(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	mem := db.Shared(inmem.Namespace{App: "pets"})
	emb := &wordEmbedder{}

	ix, err := inmemeino.NewIndexer(inmemeino.IndexerConfig{
		Scope: mem, Collection: "docs", Embedding: emb, Create: &inmem.VectorConfig{Metric: inmem.Cosine},
	})
	require.NoError(t, err)
	index, err := compose.NewChain[[]*schema.Document, []string]().AppendIndexer(ix).Compile(ctx)
	require.NoError(t, err)
	ids, err := index.Invoke(ctx, pets)
	require.NoError(t, err)
	require.Equal(t, []string{"1", "2", "3", "4"}, ids)

	r, err := inmemeino.NewRetriever(inmemeino.RetrieverConfig{Scope: mem, Collection: "docs", Embedding: emb})
	require.NoError(t, err)
	search, err := compose.NewChain[string, []*schema.Document]().AppendRetriever(r).Compile(ctx)
	require.NoError(t, err)

	docs, err := search.Invoke(ctx, "cats", compose.WithRetrieverOption(retriever.WithTopK(2)))
	require.NoError(t, err)
	require.Len(t, docs, 2)
	require.ElementsMatch(t, []string{"1", "3"}, []string{docs[0].ID, docs[1].ID}, "the two documents about cats")
	require.GreaterOrEqual(t, docs[0].Score(), docs[1].Score(), "best first")
	for _, d := range docs {
		require.Contains(t, d.Content, "cats")
		require.Equal(t, "cat", d.MetaData["kind"])
		require.NotContains(t, d.MetaData, inmemeino.ContentField)
	}

	// A threshold keeps only close documents: none shares a word with this.
	docs, err = search.Invoke(ctx, "zebra", compose.WithRetrieverOption(retriever.WithScoreThreshold(0.5)))
	require.NoError(t, err)
	require.Empty(t, docs)

	// A filter on the metadata, as the impl-specific option of the node.
	docs, err = search.Invoke(ctx, "cats", compose.WithRetrieverOption(
		retriever.WithTopK(4), inmemeino.WithFilter(inmem.Eq("kind", "dog"))))
	require.NoError(t, err)
	require.Len(t, docs, 1)
	require.Equal(t, "2", docs[0].ID)
	docs, err = search.Invoke(ctx, "cats", compose.WithRetrieverOption(inmemeino.WithFilter(inmem.Gte("year", 2024))))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"1", "4"}, idsOf(docs))

	// Re-indexing a document replaces it; one without an ID gets one.
	ids, err = ix.Store(ctx, []*schema.Document{{ID: "4", Content: "cats nap in the sun"}, {Content: "dogs dig"}})
	require.NoError(t, err)
	require.Equal(t, "4", ids[0])
	require.NotEmpty(t, ids[1])
	docs, err = r.Retrieve(ctx, "cats", retriever.WithTopK(10))
	require.NoError(t, err)
	require.Len(t, docs, 5)
	require.Contains(t, idsOf(docs)[:3], "4", "document 4 is about cats now")
}

func idsOf(docs []*schema.Document) []string {
	var out []string
	for _, d := range docs {
		out = append(out, d.ID)
	}
	return out
}

// TestRetrievalInARun: documents indexed in a run are part of its history
// (the step that stored them) and gone from a view before it.
func TestRetrievalInARun(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	run, err := db.BeginRun()
	require.NoError(t, err)
	emb := &wordEmbedder{}
	require.NoError(t, run.Vectors().CreateCollection("notes", inmem.VectorConfig{Dim: 16, Metric: inmem.Cosine}))
	ix, err := inmemeino.NewIndexer(inmemeino.IndexerConfig{Scope: run, Collection: "notes", Embedding: emb})
	require.NoError(t, err)
	_, err = ix.Store(ctx, pets[:2])
	require.NoError(t, err)
	_, err = ix.Store(ctx, pets[2:])
	require.NoError(t, err)
	steps, err := run.Steps()
	require.NoError(t, err)
	require.Len(t, steps, 3, "the collection, then one step per Store: its documents in one transaction")
	view, err := run.AsOf(steps[1].N)
	require.NoError(t, err)
	_, err = view.Vectors().Get("notes", "3")
	require.ErrorIs(t, err, inmem.ErrNotFound)
	_, err = view.Vectors().Get("notes", "2")
	require.NoError(t, err)
}

func TestRetrievalErrors(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	mem := db.Shared(inmem.Namespace{App: "pets"})

	_, err = inmemeino.NewIndexer(inmemeino.IndexerConfig{Collection: "docs"})
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	_, err = inmemeino.NewRetriever(inmemeino.RetrieverConfig{Scope: mem})
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	_, err = inmemeino.NewRetriever(inmemeino.RetrieverConfig{Scope: mem, Collection: "docs", TopK: -1})
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)

	noEmb, err := inmemeino.NewIndexer(inmemeino.IndexerConfig{Scope: mem, Collection: "docs"})
	require.NoError(t, err)
	_, err = noEmb.Store(ctx, pets)
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)

	// The collection must exist unless Create says how to make it.
	ix, err := inmemeino.NewIndexer(inmemeino.IndexerConfig{Scope: mem, Collection: "docs", Embedding: &wordEmbedder{}})
	require.NoError(t, err)
	_, err = ix.Store(ctx, pets)
	require.ErrorIs(t, err, inmem.ErrNotFound)

	// An embedder's failure, and a nil document, write nothing.
	require.NoError(t, mem.Vectors().CreateCollection("docs", inmem.VectorConfig{Dim: 16, Metric: inmem.Cosine}))
	_, err = ix.Store(ctx, pets, indexer.WithEmbedding(failingEmbedder{}))
	require.ErrorContains(t, err, "model unavailable")
	_, err = ix.Store(ctx, []*schema.Document{pets[0], nil})
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	recs, err := mem.Vectors().List("docs")
	require.NoError(t, err)
	require.Empty(t, recs)

	r, err := inmemeino.NewRetriever(inmemeino.RetrieverConfig{Scope: mem, Collection: "docs", Embedding: failingEmbedder{}})
	require.NoError(t, err)
	_, err = r.Retrieve(ctx, "cats")
	require.ErrorContains(t, err, "model unavailable")
	_, err = r.Retrieve(ctx, "cats", retriever.WithEmbedding(&wordEmbedder{}), retriever.WithTopK(0))
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	docs, err := r.Retrieve(ctx, "cats", retriever.WithEmbedding(&wordEmbedder{}))
	require.NoError(t, err)
	require.Empty(t, docs, "an empty collection")
}
