// Package harness runs go-ycsb's core workloads (A to F) against a ycsb.DB
// and measures them: the load of the records, then each workload's run,
// with throughput and latency percentiles per run.
//
// It drives the workloads with go-ycsb's own client (pkg/client) and core
// workload (pkg/workload), and measures outside them: go-ycsb's
// measurement package records microseconds under one process-wide mutex,
// too coarse for in-memory engines and a point of contention for the
// threads under test. Here each thread records nanoseconds into its own
// histograms, merged when the run ends.
package harness
