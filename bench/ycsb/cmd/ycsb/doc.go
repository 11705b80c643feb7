// Command ycsb runs the YCSB core workloads against inmem and its peers
// and prints a markdown table of the results (and writes them as JSON).
//
// For each database and request distribution it loads -records records
// into a fresh directory, then runs the workloads in YCSB's order, A, B,
// C, F, D, E (D and E insert, so they come last), each with every thread
// count of -threads, -ops operations per run. Workload D reads the latest
// records whatever the distribution, as YCSB defines it; the table says so.
// Each cell is the throughput (operations per second) and the 99th
// percentile latency of one operation; the last columns are inmem's
// throughput over each peer's.
//
//	go run ./cmd/ycsb                            # the defaults: about 20 minutes on 2 cores
//	go run ./cmd/ycsb -records 40000 -ops 4000   # the same matrix, a 25th of the size: under a minute
//	go run ./cmd/ycsb -dbs inmem,pebble -workloads A,E -dists zipfian -threads 2
//
// The table goes to stdout; progress, and the core workload's notes on its
// key ranges, to stderr. The JSON (-out) holds every run's latencies per
// database call (mean, p50, p99, p99.9, max) and its counts of absent
// records and errors. A run whose operations fail (other than on an absent
// record, which YCSB's zipfian key range can pick) is an error in the table
// and makes the command exit 1 at the end.
//
// The database settings are described in package ycsbdb.
package main
