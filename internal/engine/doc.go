// Package engine is the storage core under the public API: versioned
// entries in a skiplist over an arena (a Generation), the commit oracle,
// and the one commit path that puts a transaction's writes there and in
// the write-ahead log.
//
// What it holds, by file:
//
//	store.go       Store: the current Generation, the oracle, the WAL; reads at a snapshot
//	commit.go      Store.Commit: the one commit path (prepare, locate, version and WAL append, link, publish)
//	walguard.go    the WAL append inside the commit's critical section; Publish in commit order
//	replica.go     a clustered store's commit: propose the record, link it once the cluster commits it (ApplyAt)
//	scope.go       Scope: what the commit path keeps per run or shared scope, and ApplyStep
//	steplog.go     StepLog: a run's step -> (version, time) list, lock-free for readers
//	fingers.go     where a run's last commits linked, so the next ones locate in a step or two
//	fingertable.go the places of a run's writers past its two finger caches, sorted by key
//	writeorder.go  Write and SortWrites: a commit's writes in key order
//	value.go       the stored value's header: tombstones and expiry times
//	records.go     every WAL and snapshot record type; batch.go the commit record's layout
//	loader.go      Loader: recovery's linking of entries with known versions, on two cores
//	rebuild.go     the copy half of a reclaim: a new Generation with what is kept, swapped in
//
// Invariants:
//   - An entry is (key, version, value) and never changes once linked;
//     deletes and expiries are versions whose value header says so. A
//     reader holding a Generation reads it without locks for as long as it
//     holds it.
//   - Versions are assigned, appended to the WAL and admitted by the
//     caller's guard in one critical section (the oracle's), so the log
//     holds commits in version order and a crash leaves a prefix of them.
//     Versions become visible in order, after their entries are linked
//     (and, in Strict mode, after their WAL group is durable).
//   - A WAL batch record holds each value exactly as stored (header
//     included) and the step time the guard gave it, so applying the log
//     (recovery, a replica) rebuilds the same entries at the same versions
//     and the same step log, with no clock of its own.
//   - A Scope's step log is appended by one writer at a time (inside the
//     critical section, or recovery before the database is shared).
//   - The package never imports the public API, primitives or hnsw: what
//     runs, namespaces and the primitives mean is the root package's.
package engine
