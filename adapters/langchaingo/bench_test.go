package inmemlc_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/inmem-db/inmem"
	inmemlc "github.com/inmem-db/inmem/adapters/langchaingo"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/memory"
	"github.com/tmc/langchaingo/schema"
)

// randEmbedder embeds a text as a fixed random unit vector of dim 128
// (the text's first 8 bytes pick it): the embedding is not what is timed.
type randEmbedder struct{ vecs map[string][]float32 }

func (e *randEmbedder) vec(t string) []float32 {
	if v, ok := e.vecs[t]; ok {
		return v
	}
	r := rand.New(rand.NewPCG(uint64(len(e.vecs)), 7))
	v := make([]float32, 128)
	var n float64
	for i := range v {
		v[i] = float32(r.NormFloat64())
		n += float64(v[i] * v[i])
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(n))
	}
	e.vecs[t] = v
	return v
}

func (e *randEmbedder) EmbedDocuments(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = e.vec(t)
	}
	return out, nil
}

func (e *randEmbedder) EmbedQuery(_ context.Context, t string) ([]float32, error) {
	return e.vec(t), nil
}

// scanStore is the store a few lines give (langchaingo v0.1.14 ships no
// in-memory vector store): every vector in a slice, a query scores them
// all and sorts.
type scanStore struct {
	e    *randEmbedder
	docs []schema.Document
	vecs [][]float32
}

func (s *scanStore) SimilaritySearch(ctx context.Context, q string, k int) []schema.Document {
	qv, _ := s.e.EmbedQuery(ctx, q)
	type hit struct {
		i int
		s float32
	}
	hits := make([]hit, len(s.vecs))
	for i, v := range s.vecs {
		var d float32
		for j := range v {
			d += v[j] * qv[j]
		}
		hits[i] = hit{i, d}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		switch {
		case a.s > b.s:
			return -1
		case a.s < b.s:
			return 1
		}
		return 0
	})
	out := make([]schema.Document, 0, k)
	for _, h := range hits[:min(k, len(hits))] {
		d := s.docs[h.i]
		d.Score = h.s
		out = append(out, d)
	}
	return out
}

// BenchmarkSimilaritySearch: a top-4 search among 20,000 documents of
// 128 dimensions, in-mem's store against the scan.
//
//	cd adapters/langchaingo && go test -run xxx -bench SimilaritySearch -count 5
func BenchmarkSimilaritySearch(b *testing.B) {
	const n = 20000
	e := &randEmbedder{vecs: map[string][]float32{}}
	docs := make([]schema.Document, n)
	for i := range docs {
		docs[i] = schema.Document{PageContent: fmt.Sprintf("document %d", i), Metadata: map[string]any{"i": i}}
	}
	queries := make([]string, 256)
	for i := range queries {
		queries[i] = fmt.Sprintf("query %d", i)
	}
	ctx := context.Background()
	b.Run("inmem", func(b *testing.B) {
		db, err := inmem.OpenInMemory()
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		store, err := inmemlc.New(db.Shared(inmem.Namespace{App: "bench"}), inmemlc.WithEmbedder(e))
		if err != nil {
			b.Fatal(err)
		}
		for lo := 0; lo < n; lo += 1000 {
			if _, err := store.AddDocuments(ctx, docs[lo:lo+1000]); err != nil {
				b.Fatal(err)
			}
		}
		// The first search builds the collection's graph: not timed.
		if _, err := store.SimilaritySearch(ctx, queries[0], 4); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := store.SimilaritySearch(ctx, queries[i%len(queries)], 4); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("scan", func(b *testing.B) {
		s := &scanStore{e: e, docs: docs}
		for _, d := range docs {
			s.vecs = append(s.vecs, e.vec(d.PageContent))
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			s.SimilaritySearch(ctx, queries[i%len(queries)], 4)
		}
	})
}

// BenchmarkChatHistory: adding a message, and reading a conversation of
// 50 messages, against langchaingo's in-memory history
// (memory.ChatMessageHistory).
//
//	cd adapters/langchaingo && go test -run xxx -bench ChatHistory -count 5
func BenchmarkChatHistory(b *testing.B) {
	ctx := context.Background()
	type history interface {
		AddMessage(context.Context, llms.ChatMessage) error
		Messages(context.Context) ([]llms.ChatMessage, error)
	}
	open := map[string]func(b *testing.B) history{
		"inmem": func(b *testing.B) history {
			db, err := inmem.OpenInMemory()
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			run, err := db.BeginRun()
			if err != nil {
				b.Fatal(err)
			}
			return inmemlc.NewChatHistory(run)
		},
		"langchaingo-memory": func(*testing.B) history { return memory.NewChatMessageHistory() },
	}
	msg := llms.HumanChatMessage{Content: "What did the last tool call return, and should we retry it?"}
	for _, name := range []string{"inmem", "langchaingo-memory"} {
		b.Run("Add/"+name, func(b *testing.B) {
			h := open[name](b)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := h.AddMessage(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Messages50/"+name, func(b *testing.B) {
			h := open[name](b)
			for range 50 {
				if err := h.AddMessage(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if ms, err := h.Messages(ctx); err != nil || len(ms) != 50 {
					b.Fatal(len(ms), err)
				}
			}
		})
	}
}
