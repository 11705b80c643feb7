// Package inmemlc plugs in-mem into langchaingo (github.com/tmc/langchaingo),
// in a module of its own so that the library's go.mod never pulls in a
// framework.
//
// What maps to what:
//   - vectorstores.VectorStore: Store, over in-mem vector collections of a
//     run or of a namespace's shared scope. AddDocuments embeds with the
//     store's embedder (or vectorstores.WithEmbedder) and upserts the
//     documents in one transaction, each under a new UUID, its metadata
//     beside its vector and its page content under ContentField;
//     vectorstores.WithDeduplicater skips documents as langchaingo says.
//     vectorstores.WithNameSpace names the collection (default
//     "documents"; created at the first AddDocuments, Cosine, the
//     embeddings' length). SimilaritySearch maps WithScoreThreshold
//     (in-mem's score: higher is closer, for every metric) and WithFilters,
//     which takes an inmem.Filter or a map[string]any of fields that must
//     all be equal. Each document comes back with its Score.
//   - schema.ChatMessageHistory: ChatHistory, over a run's hash-chained
//     event log: a message is an event of type EventMessage (its type and
//     the message as JSON). History is never rewritten: Clear appends an
//     EventClear marker, and SetMessages appends a marker and the new
//     messages in one transaction; Messages returns those after the last
//     marker. Every message ever added stays in the log (Events().Range,
//     run.AsOf) and in the chain Events().Verify checks.
//
// Invariants: everything durable is in-mem's; this package holds no state
// of its own.
package inmemlc
