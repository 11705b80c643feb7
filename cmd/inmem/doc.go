// Command inmem is the command-line tool of the in-mem database.
//
//	inmem demo [DIR]                   walk through runs, transactions and the primitives
//	inmem runs DIR                     list the runs
//	inmem show DIR RUN                 a run's events, state, KV, spans and vectors
//	inmem verify DIR                   checksums, snapshots against the WAL, event hash chains
//	inmem export DIR RUN [--format F]  a run as JSON lines, or its spans as OTLP JSON
//	inmem import DIR FILE              recreate exported runs as new runs
//	inmem import DIR FILE --memory     an MCP memory server's memory.jsonl into the knowledge graph
//	inmem asof DIR RUN STEP            a run as it was right after a step
//	inmem replay DIR RUN               rebuild a run from its history and check it
//	inmem diff DIR A B                 what differs between two runs
//	inmem checkpoint DIR               write a snapshot now
//	inmem serve DIR --mcp [--http A]   serve the database to MCP clients, with the MCP
//	                                   memory server's nine knowledge-graph tools;
//	                                   with --cluster, as a node of a replicated cluster
//	inmem cluster status DIR|HOST:PORT a cluster node's members, leader, term, applied version
//	inmem ui DIR [--http A]            a read-only run inspector in the browser
//
// Without DIR the demo uses a temporary directory and removes it at the
// end; with one it leaves its database there. RUN, A and B name a run by
// its ID, its name when no other run has it, or a prefix of its ID only it
// has. runs, show, export, asof, replay, diff, ui and cluster status open
// the database read-only: they write nothing and work beside the process
// that holds it (cluster status of a DIR needs the node stopped; a running
// one answers at its serve --http address).
// Every command but demo refuses a directory that holds no database, except
// import and serve, which create one. Commands that open a database draw a
// bar on stderr, when it is a terminal, while a large database recovers.
// With --json every command prints one JSON shape: snake_case keys, enums
// by name, IDs and hashes as strings.
//
// Invariant: every subcommand exits 0 on success, 1 on a failure of the
// database, 2 on bad usage; diff, as diff(1), exits 1 when the runs differ
// and 2 on trouble. A command that only reads never writes to DIR.
package main
