// Package inmemgenkit plugs in-mem into Genkit Go
// (github.com/firebase/genkit/go), in a module of its own so that the
// library's go.mod never pulls in a framework.
//
// What maps to what (the shape of Genkit's own localvec plugin, which
// keeps its documents in a JSON file "for development"):
//   - DefineRetriever registers a Genkit retriever over an in-mem vector
//     collection of a run or of a namespace's shared scope, and returns the
//     DocStore Index writes to. A retrieval embeds the query with the
//     store's embedder and searches the collection; RetrieverOptions (K,
//     ScoreThreshold, Where: fields that must all be equal), passed with
//     ai.WithConfig, tune it. Each document comes back with its score in
//     its metadata under ScoreField.
//   - Index embeds documents and upserts them in one transaction, each
//     under the ID localvec gives it (the MD5 of its JSON), so indexing a
//     document again replaces it. The document itself (its parts and
//     metadata) is kept beside its vector, its metadata also as fields
//     Where filters on.
//
// Genkit Go 1.4 defines no indexer action and no session store, so Index
// is a function, as localvec's is.
//
// Invariants: everything durable is in-mem's; this package holds no state
// of its own.
package inmemgenkit
