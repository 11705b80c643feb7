package inmemgenkit_test

import (
	"context"
	"errors"
	"hash/fnv"
	"strings"
	"testing"

	"github.com/firebase/genkit/go/ai"
	"github.com/firebase/genkit/go/genkit"
	"github.com/inmem-db/inmem"
	inmemgenkit "github.com/inmem-db/inmem/adapters/genkit"
	"github.com/stretchr/testify/require"
)

// wordEmbed embeds each document's text as the counts of its words, each
// hashed to one of 16 dimensions: texts sharing words are near under
// Cosine.
func wordEmbed(_ context.Context, req *ai.EmbedRequest) (*ai.EmbedResponse, error) {
	res := &ai.EmbedResponse{}
	for _, d := range req.Input {
		v := make([]float32, 16)
		for _, p := range d.Content {
			for _, w := range strings.Fields(strings.ToLower(p.Text)) {
				h := fnv.New32a()
				h.Write([]byte(strings.Trim(w, "?.,")))
				v[h.Sum32()%16]++
			}
		}
		res.Embeddings = append(res.Embeddings, &ai.Embedding{Embedding: v})
	}
	return res, nil
}

func texts(docs []*ai.Document) []string {
	var out []string
	for _, d := range docs {
		out = append(out, d.Content[0].Text)
	}
	return out
}

// TestFlowRetrievesThroughThePlugin: a Genkit flow retrieves, through
// Genkit's own Retrieve and the registered retriever, documents indexed
// into in-mem; the documents survive closing and reopening the database.
func TestFlowRetrievesThroughThePlugin(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	g := genkit.Init(ctx)
	emb := genkit.DefineEmbedder(g, "test/words", &ai.EmbedderOptions{Dimensions: 16}, wordEmbed)
	cfg := inmemgenkit.Config{Scope: db.Shared(inmem.Namespace{App: "pets"}), Collection: "docs", Embedder: emb}
	ds, _, err := inmemgenkit.DefineRetriever(g, "pets", cfg, nil)
	require.NoError(t, err)
	require.NoError(t, inmemgenkit.Index(ctx, []*ai.Document{
		ai.DocumentFromText("cats purr and sleep", map[string]any{"kind": "cat"}),
		ai.DocumentFromText("dogs bark at the mail", map[string]any{"kind": "dog"}),
		ai.DocumentFromText("cats chase dogs", map[string]any{"kind": "cat"}),
		ai.DocumentFromText("fish swim in water", map[string]any{"kind": "fish"}),
	}, ds))
	require.NoError(t, db.Close())

	db, err = inmem.Open(dir)
	require.NoError(t, err)
	defer db.Close()
	g = genkit.Init(ctx)
	emb = genkit.DefineEmbedder(g, "test/words", &ai.EmbedderOptions{Dimensions: 16}, wordEmbed)
	cfg.Scope, cfg.Embedder = db.Shared(inmem.Namespace{App: "pets"}), emb
	_, r, err := inmemgenkit.DefineRetriever(g, "pets", cfg, nil)
	require.NoError(t, err)

	ask := genkit.DefineFlow(g, "ask", func(ctx context.Context, q string) ([]string, error) {
		res, err := genkit.Retrieve(ctx, g, ai.WithRetriever(r), ai.WithTextDocs(q), ai.WithConfig(&inmemgenkit.RetrieverOptions{K: 2}))
		if err != nil {
			return nil, err
		}
		return texts(res.Documents), nil
	})
	got, err := ask.Run(ctx, "what do cats do?")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"cats purr and sleep", "cats chase dogs"}, got)

	// Options as Genkit hands them over the wire (a map), with a filter
	// and a threshold.
	res, err := genkit.Retrieve(ctx, g, ai.WithRetriever(r), ai.WithTextDocs("cats"),
		ai.WithConfig(map[string]any{"k": 4, "where": map[string]any{"kind": "dog"}}))
	require.NoError(t, err)
	require.Equal(t, []string{"dogs bark at the mail"}, texts(res.Documents))
	require.Equal(t, "dog", res.Documents[0].Metadata["kind"])
	require.Contains(t, res.Documents[0].Metadata, inmemgenkit.ScoreField)
	res, err = genkit.Retrieve(ctx, g, ai.WithRetriever(r), ai.WithTextDocs("zebra"),
		ai.WithConfig(&inmemgenkit.RetrieverOptions{ScoreThreshold: 0.5}))
	require.NoError(t, err)
	require.Empty(t, res.Documents)
}

// TestIndexIsIdempotent: a document indexed again replaces itself (its ID
// is its content's hash), and a batch is one transaction.
func TestIndexIsIdempotent(t *testing.T) {
	ctx := context.Background()
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	g := genkit.Init(ctx)
	emb := genkit.DefineEmbedder(g, "test/words", &ai.EmbedderOptions{Dimensions: 16}, wordEmbed)
	run, err := db.BeginRun()
	require.NoError(t, err)
	ds, r, err := inmemgenkit.DefineRetriever(g, "notes", inmemgenkit.Config{Scope: run, Collection: "notes", Embedder: emb}, nil)
	require.NoError(t, err)

	res, err := genkit.Retrieve(ctx, g, ai.WithRetriever(r), ai.WithTextDocs("cats"))
	require.NoError(t, err)
	require.Empty(t, res.Documents, "nothing indexed yet")

	doc := ai.DocumentFromText("cats purr", nil)
	require.NoError(t, inmemgenkit.Index(ctx, []*ai.Document{doc, ai.DocumentFromText("dogs bark", nil)}, ds))
	require.NoError(t, inmemgenkit.Index(ctx, []*ai.Document{doc}, ds))
	recs, err := run.Vectors().List("notes")
	require.NoError(t, err)
	require.Len(t, recs, 2)
	steps, err := run.Steps()
	require.NoError(t, err)
	require.Len(t, steps, 3, "the collection, then a step per Index")
}

func TestRetrieverErrors(t *testing.T) {
	ctx := context.Background()
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	g := genkit.Init(ctx)
	mem := db.Shared(inmem.Namespace{App: "pets"})
	_, _, err = inmemgenkit.DefineRetriever(g, "bad", inmemgenkit.Config{Scope: mem, Collection: "docs"}, nil)
	require.ErrorIs(t, err, inmem.ErrInvalidArgument, "no embedder")

	failing := genkit.DefineEmbedder(g, "test/failing", nil, func(context.Context, *ai.EmbedRequest) (*ai.EmbedResponse, error) {
		return nil, errors.New("model unavailable")
	})
	ds, r, err := inmemgenkit.DefineRetriever(g, "failing", inmemgenkit.Config{Scope: mem, Collection: "docs", Embedder: failing}, nil)
	require.NoError(t, err)
	require.ErrorContains(t, inmemgenkit.Index(ctx, []*ai.Document{ai.DocumentFromText("x", nil)}, ds), "model unavailable")
	require.ErrorIs(t, inmemgenkit.Index(ctx, []*ai.Document{nil}, ds), inmem.ErrInvalidArgument)
	_, err = genkit.Retrieve(ctx, g, ai.WithRetriever(r), ai.WithTextDocs("x"))
	require.ErrorContains(t, err, "model unavailable")

	emb := genkit.DefineEmbedder(g, "test/words", nil, wordEmbed)
	_, r, err = inmemgenkit.DefineRetriever(g, "words", inmemgenkit.Config{Scope: mem, Collection: "docs", Embedder: emb}, nil)
	require.NoError(t, err)
	_, err = genkit.Retrieve(ctx, g, ai.WithRetriever(r), ai.WithTextDocs("x"), ai.WithConfig(&inmemgenkit.RetrieverOptions{K: -1}))
	require.Error(t, err)
}
