// Command inmem is the command-line tool of the in-mem database.
//
//	inmem demo [-dir DIR]              walk through runs, transactions and the primitives
//	inmem runs DIR                     list the runs
//	inmem show DIR RUN                 a run's events, state, KV and span tree
//	inmem verify DIR                   checksums, snapshots against the WAL, event hash chains
//	inmem export DIR RUN [--format F]  a run as JSON lines, or its spans as OTLP JSON
//	inmem import DIR FILE              recreate exported runs as new runs
//	inmem asof DIR RUN STEP            a run as it was right after a step
//	inmem replay DIR RUN               rebuild a run from its history and check it
//	inmem diff DIR A B                 what differs between two runs
//	inmem checkpoint DIR               write a snapshot now
//	inmem serve DIR --mcp [--http A]   serve the database to MCP clients
//
// With no -dir the demo uses a temporary directory and removes it at the end.
// Commands that open a database draw a bar on stderr, when it is a
// terminal, while a large database recovers.
// The inspect commands print tables, or JSON with --json.
// Invariant: every subcommand exits 0 on success, 1 on a failure of the
// database, 2 on bad usage.
package main
