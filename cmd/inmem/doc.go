// Command inmem is the command-line tool of the in-mem database.
//
//	inmem demo [-dir DIR]   walk through runs, transactions and KV on a fresh database
//
// With no -dir the demo uses an in-memory database and leaves nothing behind.
// Invariant: every subcommand exits 0 on success, 1 on a failure of the
// database, 2 on bad usage.
package main
