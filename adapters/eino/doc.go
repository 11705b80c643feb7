// Package inmemeino plugs in-mem into Eino (github.com/cloudwego/eino), in
// a module of its own so that the library's go.mod never pulls in a
// framework.
//
// What maps to what:
//   - compose.CheckPointStore: inmem.CheckPointStore, which the core
//     module offers with no import of Eino (its interface uses standard
//     types only); NewCheckPointStore returns it as Eino's interface. A
//     checkpoint ID is a run in the store's namespace and every Set is a
//     step of it, so each checkpoint a graph execution wrote stays in
//     history: CheckPointStore.Run(id) gives the run, whose Steps, AsOf
//     and Fork reach any of them. Delete removes the run; an optional TTL
//     (inmem.CheckPointTTL) lets the checkpoints of interrupts that are
//     never resumed read as absent.
//   - indexer.Indexer: Indexer, over a vector collection of a run or of a
//     namespace's shared scope. Store embeds the documents with the
//     embedder it is given and upserts them in one transaction, keyed by
//     ID, the document's metadata beside its vector and its content under
//     ContentField.
//   - retriever.Retriever: Retriever, a vector search of that collection.
//     TopK, ScoreThreshold (in-mem's score: higher is closer, for every
//     metric) and Embedding map to Eino's options; WithFilter passes an
//     inmem.Filter on the metadata. Each document comes back with its score
//     (doc.Score()).
//
// Invariants: everything durable is in-mem's; this package holds no state
// of its own.
//
// go.mod raises github.com/bytedance/sonic, which Eino uses for JSON, to
// v1.15.5: v1.14.1, the one Eino v0.7.36 names, does not build with Go
// 1.26 (its runtime stubs name a map iterator Go removed).
package inmemeino
