package inmemlc_test

import (
	"context"
	"errors"
	"hash/fnv"
	"strings"
	"testing"

	"github.com/inmem-db/inmem"
	inmemlc "github.com/inmem-db/inmem/adapters/langchaingo"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/memory"
	"github.com/tmc/langchaingo/schema"
	"github.com/tmc/langchaingo/vectorstores"
)

// wordEmbedder embeds a text as the counts of its words, each hashed to
// one of 16 dimensions: texts sharing words are near under Cosine.
type wordEmbedder struct{}

func (wordEmbedder) embed(t string) []float32 {
	v := make([]float32, 16)
	for _, w := range strings.Fields(strings.ToLower(strings.Trim(t, "?."))) {
		h := fnv.New32a()
		h.Write([]byte(strings.Trim(w, "?.,")))
		v[h.Sum32()%16]++
	}
	return v
}

func (e wordEmbedder) EmbedDocuments(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = e.embed(t)
	}
	return out, nil
}

func (e wordEmbedder) EmbedQuery(_ context.Context, text string) ([]float32, error) {
	return e.embed(text), nil
}

// promptModel is an llms.Model that keeps the prompts it is given and
// answers each with the next of its answers.
type promptModel struct {
	prompts []string
	answers []string
}

func (m *promptModel) GenerateContent(_ context.Context, msgs []llms.MessageContent, _ ...llms.CallOption) (*llms.ContentResponse, error) {
	var b strings.Builder
	for _, msg := range msgs {
		for _, p := range msg.Parts {
			if t, ok := p.(llms.TextContent); ok {
				b.WriteString(t.Text)
			}
		}
	}
	m.prompts = append(m.prompts, b.String())
	answer := "ok"
	if len(m.answers) > 0 {
		answer, m.answers = m.answers[0], m.answers[1:]
	}
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: answer}}}, nil
}

func (m *promptModel) Call(ctx context.Context, prompt string, opts ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, m, prompt, opts...)
}

var pets = []schema.Document{
	{PageContent: "cats purr and sleep all day", Metadata: map[string]any{"kind": "cat", "year": 2024}},
	{PageContent: "dogs bark at the mail", Metadata: map[string]any{"kind": "dog", "year": 2023}},
	{PageContent: "fish swim in water", Metadata: map[string]any{"kind": "fish", "year": 2024}},
	{PageContent: "cats chase dogs", Metadata: map[string]any{"kind": "cat", "year": 2022}},
}

// TestRetrievalQAChain: langchaingo's retrieval QA chain answers from
// documents it retrieves from in-mem through the vector store.
func TestRetrievalQAChain(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	store, err := inmemlc.New(db.Shared(inmem.Namespace{App: "pets"}), inmemlc.WithEmbedder(wordEmbedder{}))
	require.NoError(t, err)
	ids, err := store.AddDocuments(ctx, pets)
	require.NoError(t, err)
	require.Len(t, ids, 4)

	llm := &promptModel{answers: []string{"They purr."}}
	qa := chains.NewRetrievalQAFromLLM(llm, vectorstores.ToRetriever(store, 2))
	answer, err := chains.Run(ctx, qa, "what do cats do?")
	require.NoError(t, err)
	require.Equal(t, "They purr.", answer)
	require.Len(t, llm.prompts, 1)
	require.Contains(t, llm.prompts[0], "cats purr and sleep all day", "the retrieved documents are in the prompt")
	require.Contains(t, llm.prompts[0], "cats chase dogs")
	require.NotContains(t, llm.prompts[0], "fish swim")
}

// TestConversationMemory: langchaingo's conversation chain keeps its
// memory in a run's event log, which survives closing and reopening the
// database.
func TestConversationMemory(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	run, err := db.BeginRun(inmem.Name("chat"))
	require.NoError(t, err)
	llm := &promptModel{answers: []string{"Hello Ada."}}
	conv := chains.NewConversation(llm, memory.NewConversationBuffer(memory.WithChatHistory(inmemlc.NewChatHistory(run))))
	_, err = chains.Run(ctx, conv, "My name is Ada.")
	require.NoError(t, err)
	require.NoError(t, db.Close())

	db, err = inmem.Open(dir)
	require.NoError(t, err)
	defer db.Close()
	run, err = db.Run(run.ID())
	require.NoError(t, err)
	hist := inmemlc.NewChatHistory(run)
	llm = &promptModel{answers: []string{"Your name is Ada."}}
	conv = chains.NewConversation(llm, memory.NewConversationBuffer(memory.WithChatHistory(hist)))
	out, err := chains.Run(ctx, conv, "What is my name?")
	require.NoError(t, err)
	require.Equal(t, "Your name is Ada.", out)
	require.Contains(t, llm.prompts[0], "My name is Ada.", "the earlier exchange came back from the log")
	require.Contains(t, llm.prompts[0], "Hello Ada.")

	ms, err := hist.Messages(ctx)
	require.NoError(t, err)
	require.Equal(t, []llms.ChatMessage{
		llms.HumanChatMessage{Content: "My name is Ada."},
		llms.AIChatMessage{Content: "Hello Ada."},
		llms.HumanChatMessage{Content: "What is my name?"},
		llms.AIChatMessage{Content: "Your name is Ada."},
	}, ms)
}

// TestChatHistoryClearKeepsTheLog: Clear and SetMessages start the
// history anew without rewriting the log: the old messages stay in it, in
// the verified chain, and in the run's earlier steps.
func TestChatHistoryClearKeepsTheLog(t *testing.T) {
	db, run, h := newHistory(t)
	ctx := context.Background()
	require.NoError(t, h.AddUserMessage(ctx, "one"))
	require.NoError(t, h.AddAIMessage(ctx, "two"))
	_, err := run.Events().Append("tool.call", []byte(`{"name":"search"}`)) // the agent's own events stay apart
	require.NoError(t, err)

	require.NoError(t, h.Clear(ctx))
	ms, err := h.Messages(ctx)
	require.NoError(t, err)
	require.Empty(t, ms)

	require.NoError(t, h.SetMessages(ctx, []llms.ChatMessage{
		llms.SystemChatMessage{Content: "be brief"},
		llms.HumanChatMessage{Content: "three"},
	}))
	require.NoError(t, h.AddAIMessage(ctx, "four"))
	ms, err = h.Messages(ctx)
	require.NoError(t, err)
	require.Equal(t, []llms.ChatMessage{
		llms.SystemChatMessage{Content: "be brief"},
		llms.HumanChatMessage{Content: "three"},
		llms.AIChatMessage{Content: "four"},
	}, ms)

	n, err := run.Events().Len()
	require.NoError(t, err)
	require.Equal(t, uint64(8), n, "2 messages, the agent's event, a marker, a marker and 2 messages, a message")
	rep, err := run.Events().Verify()
	require.NoError(t, err)
	require.True(t, rep.OK)
	steps, err := run.Steps()
	require.NoError(t, err)
	// A fork at the second step holds the history as it was then.
	child, err := db.Fork(run.ID(), steps[1].N)
	require.NoError(t, err)
	old, err := inmemlc.NewChatHistory(child).Messages(ctx)
	require.NoError(t, err)
	require.Equal(t, []llms.ChatMessage{llms.HumanChatMessage{Content: "one"}, llms.AIChatMessage{Content: "two"}}, old)
}

// newHistory opens an in-memory database and returns the chat history of
// a new run in it.
func newHistory(t *testing.T) (*inmem.DB, *inmem.Run, *inmemlc.ChatHistory) {
	t.Helper()
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	run, err := db.BeginRun()
	require.NoError(t, err)
	return db, run, inmemlc.NewChatHistory(run)
}

// customMessage is a message type langchaingo does not define.
type customMessage struct{}

func (customMessage) GetType() llms.ChatMessageType { return "critic" }
func (customMessage) GetContent() string            { return "needs work" }

func TestChatHistoryMessageKinds(t *testing.T) {
	_, run, h := newHistory(t)
	ctx := context.Background()
	in := []llms.ChatMessage{
		llms.AIChatMessage{Content: "calling", ToolCalls: []llms.ToolCall{{ID: "t1", Type: "function",
			FunctionCall: &llms.FunctionCall{Name: "search", Arguments: `{"q":"cats"}`}}}},
		llms.ToolChatMessage{ID: "t1", Content: "cats purr"},
		llms.FunctionChatMessage{Name: "search", Content: "result"},
		llms.GenericChatMessage{Role: "critic", Name: "bob", Content: "ok"},
	}
	for _, m := range in {
		require.NoError(t, h.AddMessage(ctx, m))
	}
	require.NoError(t, h.AddMessage(ctx, customMessage{}))
	ms, err := h.Messages(ctx)
	require.NoError(t, err)
	require.Equal(t, append(in, llms.GenericChatMessage{Role: "critic", Content: "needs work"}), ms)

	require.ErrorIs(t, h.AddMessage(ctx, nil), inmem.ErrInvalidArgument)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, h.AddUserMessage(cancelled, "x"), context.Canceled)

	// A damaged message is reported, not skipped.
	_, err = run.Events().Append(inmemlc.EventMessage, []byte(`{"type":"human","message":"not an object"}`))
	require.NoError(t, err)
	_, err = h.Messages(ctx)
	require.ErrorIs(t, err, inmem.ErrCorruption)

	// An ended run takes no more messages.
	require.NoError(t, run.End(inmem.Completed, ""))
	require.ErrorIs(t, h.AddUserMessage(ctx, "late"), inmem.ErrRunEnded)
}

func TestVectorStoreOptions(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	mem := db.Shared(inmem.Namespace{App: "pets"})
	store, err := inmemlc.New(mem, inmemlc.WithEmbedder(wordEmbedder{}))
	require.NoError(t, err)

	docs, err := store.SimilaritySearch(ctx, "cats", 3)
	require.NoError(t, err)
	require.Empty(t, docs, "nothing added yet")

	_, err = store.AddDocuments(ctx, pets)
	require.NoError(t, err)
	docs, err = store.SimilaritySearch(ctx, "cats", 2)
	require.NoError(t, err)
	require.Len(t, docs, 2)
	require.GreaterOrEqual(t, docs[0].Score, docs[1].Score)
	for _, d := range docs {
		require.Contains(t, d.PageContent, "cats")
		require.Equal(t, "cat", d.Metadata["kind"])
		require.NotContains(t, d.Metadata, inmemlc.ContentField)
	}

	// Score threshold, and filters as a map or an inmem.Filter.
	docs, err = store.SimilaritySearch(ctx, "zebra", 4, vectorstores.WithScoreThreshold(0.5))
	require.NoError(t, err)
	require.Empty(t, docs)
	docs, err = store.SimilaritySearch(ctx, "cats", 4, vectorstores.WithFilters(map[string]any{"kind": "dog"}))
	require.NoError(t, err)
	require.Len(t, docs, 1)
	require.Equal(t, "dogs bark at the mail", docs[0].PageContent)
	docs, err = store.SimilaritySearch(ctx, "cats", 4, vectorstores.WithFilters(inmem.Gte("year", 2024)))
	require.NoError(t, err)
	require.Len(t, docs, 2)
	_, err = store.SimilaritySearch(ctx, "cats", 4, vectorstores.WithFilters("kind = cat"))
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)

	// A namespace is a collection of its own.
	_, err = store.AddDocuments(ctx, pets[:1], vectorstores.WithNameSpace("other"))
	require.NoError(t, err)
	docs, err = store.SimilaritySearch(ctx, "dogs", 4, vectorstores.WithNameSpace("other"))
	require.NoError(t, err)
	require.Len(t, docs, 1)

	// The deduplicater skips documents.
	ids, err := store.AddDocuments(ctx, pets, vectorstores.WithDeduplicater(func(_ context.Context, d schema.Document) bool {
		return d.Metadata["kind"] != "fish"
	}), vectorstores.WithNameSpace("fish"))
	require.NoError(t, err)
	require.Len(t, ids, 1)

	// Errors.
	_, err = inmemlc.New(nil)
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	bare, err := inmemlc.New(mem)
	require.NoError(t, err)
	_, err = bare.AddDocuments(ctx, pets)
	require.ErrorIs(t, err, inmem.ErrInvalidArgument, "no embedder")
	_, err = store.SimilaritySearch(ctx, "cats", 0)
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	_, err = store.AddDocuments(ctx, pets, vectorstores.WithEmbedder(failing{}))
	require.ErrorContains(t, err, "model unavailable")
}

type failing struct{}

func (failing) EmbedDocuments(context.Context, []string) ([][]float32, error) {
	return nil, errors.New("model unavailable")
}
func (failing) EmbedQuery(context.Context, string) ([]float32, error) {
	return nil, errors.New("model unavailable")
}
