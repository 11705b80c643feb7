// Command table summarises `go test -bench` output from one or more runs
// (several -count runs, or several processes' output concatenated) as
// Markdown: for every workload, each implementation's median ns/op, its
// spread over the runs, B/op, allocs/op and p99 where reported, and its
// ratio to inmem; then a matrix of those ratios, workloads by peer.
//
//	cd bench && go test -run '^$' -bench . -benchmem -count 5 | go run ./cmd/table
//
// A sub-benchmark's last name element is the implementation and the rest
// is the workload (BenchmarkPut/badger-disk is badger-disk doing Put).
// A peer is compared with the inmem of its own durability: badger-disk,
// bbolt-nosync and sqlite (no fsync per commit) with inmem-batched;
// badger-sync, bbolt, bbolt-batch and sqlite-full (an fsync per commit)
// with inmem-strict; everything else with inmem. When the workload has no
// such inmem it falls back to the first of inmem, inmem-batched and
// inmem-strict that it has. A ratio above 1 means the peer took longer.
//
// The command exits non-zero when its input has a failed test or no
// benchmark line, so `make bench` fails with the benchmarks.
package main
