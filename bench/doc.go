// Package bench compares inmem with its peers. It is a module of its own
// (github.com/inmem-db/inmem/bench) so that the peers it measures against —
// badger, google/btree, SQLite — never become dependencies of inmem itself.
//
// The package has no non-test code; everything lives in _test.go files
// (and the command bench/ann, which measures vector search on the shared
// data set through the public API):
//
//   - skiplist_test.go: the in-memory ordered index alone, inmem's skiplist
//     against badger's skl (insert, seek).
//   - db_test.go: the whole database through its public API.
//     BenchmarkPut is one fresh key per op, each its own transaction
//     (inmem run.KV().Put against badger db.Update+txn.Set, in-memory mode).
//     BenchmarkGet is a random point read of one of 1M existing keys (inmem
//     run.KV().Get against badger db.View+txn.Get+item.ValueCopy and a
//     google/btree of degree 32 under a sync.RWMutex); every peer returns a
//     copy of the value. BenchmarkPutParallel is BenchmarkPut from exactly
//     G goroutines writing disjoint keys; its ns/op is total wall time over
//     b.N, so ns/op(goroutines=1)/ns/op(goroutines=2) is the throughput
//     gained by the second goroutine.
//   - durability_test.go: fsync, Strict group commit against badger with
//     SyncWrites, Batched Put, recovery and checkpoint speed.
//   - primitives_test.go: the agent primitives, each op its own
//     transaction, with sub-benchmarks mem (OpenInMemory) and batched
//     (Open, default Batched 100ms): BenchmarkEventAppend (100-byte
//     payload), BenchmarkStateCAS (one cell, each CAS on the version the
//     last one returned), BenchmarkSpanRecord (an LLMCall span with GenAI
//     model and token attrs and 200-byte input and output). And
//     BenchmarkAgentStep, one agent step as one transaction (an event, a KV
//     put, a counter CAS and a span) in inmem/mem, inmem/batched and sqlite
//     (modernc.org/sqlite, WAL, synchronous=NORMAL, prepared statements,
//     the same SHA-256 event chain). All report p50-ns and p99-ns per op.
//
// Keys in db_test.go are "key%016d", written in sequence; values are 64
// bytes. The write benchmarks reopen both databases (outside the timer)
// every 1M ops so memory stays bounded for any b.N. The harness keeps its
// keys in one pointer-free blob (no 1M-pointer slice for the GC to scan)
// and builds each Get probe key in a reused buffer (no harness cache miss),
// so what is timed is the database, not the harness.
//
// Run the suite, with several counts, and summarise with benchstat
// (go install golang.org/x/perf/cmd/benchstat@latest):
//
//	cd bench && go test -run xxx -bench . -benchmem -count 5 | tee out.txt
//	benchstat out.txt
//
// To compare two revisions, run the suite on each and give benchstat both
// files: benchstat old.txt new.txt. A CPU profile of one peer:
//
//	go test -run xxx -bench 'Put/inmem' -cpuprofile put.prof
//	go tool pprof -top -nodecount 30 put.prof
package bench
