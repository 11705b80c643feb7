// Package inmem is an embedded database for AI agents.
//
// Every write belongs to a run (one agent execution, see BeginRun) or to a
// namespace's shared scope (see DB.Shared). A run is a first-class object:
// its data is one contiguous key range, its lifecycle is tracked, and once it
// ends it refuses writes with ErrRunEnded.
//
// Transactions are optimistic: a transaction reads the snapshot at its start
// plus its own writes, buffers its writes, and at commit validates every
// read (point reads, reads that found nothing, listed prefixes) against what
// committed since. Histories are serializable; a transaction that lost the
// race gets ErrConflict and Run.Update retries it. Every primitive method
// called outside a transaction is a one-operation transaction of its own.
//
// The engine is a lock-free skiplist over an arena (package skiplist) with a
// hash index for point reads, ordered by a commit oracle (package occ). Reads
// take no locks and allocate nothing but the copy of the value they return.
//
// Byte slices handed in are copied by the database; byte slices handed out
// are the caller's to keep. Every method is safe for concurrent use unless
// its doc says otherwise.
package inmem
