// Package bench compares inmem with its peers. It is a module of its own
// (github.com/inmem-db/inmem/bench) so that the peers it measures against
// (badger, bbolt, google/btree, SQLite) never become dependencies of inmem
// itself.
//
// The package has no non-test code; everything lives in _test.go files,
// plus three commands: bench/ann measures vector search through the public
// API on a data set in the fvecs/ivecs layout of the shared annbench
// generator (its rank-16 set, full-rank ones, off-distribution queries),
// bench/cmd/anngen writes a set whose queries do not come from the base's
// distribution, and bench/cmd/table turns `go test -bench` output into the
// table `make bench` prints.
//
//   - peers_test.go: the peers behind one small store interface (put, get,
//     scan, bulk load), so that every workload runs the same loop over
//     each: inmem (OpenInMemory), inmem-batched (Open, default Batched
//     durability), inmem-strict, badger-mem (InMemory), badger-disk
//     (SyncWrites off), badger-sync, bbolt (fsync per commit),
//     bbolt-nosync, bbolt-batch (db.Batch), btree (google/btree under a
//     sync.RWMutex), sqlite (modernc.org/sqlite, WAL, synchronous=NORMAL)
//     and sqlite-full (synchronous=FULL). The 1M-key read datasets are
//     built once per process and shared by every benchmark that reads.
//   - db_test.go: BenchmarkPut (one fresh key per transaction, every
//     durability of every peer), BenchmarkPutParallel (1 and 2 writers),
//     BenchmarkGet (a random point read of 1M keys), BenchmarkMix90 (90%
//     reads, 10% overwrites, GOMAXPROCS goroutines), BenchmarkScan100
//     (every key and value under a prefix of 100 keys).
//   - primitives_test.go and agentkv_test.go: the event log, state cells
//     and traces one op at a time, and BenchmarkAgentStep, one agent step
//     (event + KV put + CAS + span) as one transaction in inmem, SQLite and
//     the key-value peers, with p50-ns and p99-ns.
//   - durability_test.go: fsync, BenchmarkStrictCommit (1, 8 and 64
//     committers, each commit fsynced before it returns, against badger
//     SyncWrites, bbolt, bbolt Batch and SQLite FULL), recovery and
//     checkpoint speed.
//   - vectors_test.go: BenchmarkVectorSearch, top-10 of 100k x 128 with
//     ef=64 against an exact SIMD scan, with recall@10.
//   - skiplist_test.go: the ordered index alone, against badger's skl.
//
// The last element of every sub-benchmark name is the implementation;
// cmd/table groups by the rest. Keys are "key%016d" written in sequence,
// values 64 bytes. The harness keeps its keys in one pointer-free blob and
// builds each probe key in a reused buffer, so what is timed is the
// database, not the harness.
//
// From the repository root, make bench runs the comparison five times,
// each run in a fresh process, and prints medians and ratios; the raw
// output stays in bench/bench.out for benchstat
// (golang.org/x/perf/cmd/benchstat):
//
//	make bench                       # or BENCH=. for every benchmark
//	benchstat bench/bench.out        # medians and confidence intervals
//	benchstat old.out new.out        # two revisions
//
// A CPU profile of one peer:
//
//	cd bench && go test -run '^$' -bench 'AgentStep/inmem-batched$' -cpuprofile step.prof
//	go tool pprof -top -nodecount 30 step.prof
package bench
