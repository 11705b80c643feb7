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
// Entries are never changed or unlinked in place; old versions are freed by
// a reclaim, which copies what is still readable into a new generation
// (skiplist and arena) and swaps it in. Whoever reads holds the generation
// it reads (a transaction for its life, a one-off read for its duration),
// and the garbage collector frees a generation nothing holds.
//
// History: every commit that writes a run's data is a step of the run. A
// run keeps every version it wrote until it is archived, deleted or
// compacted, so any step can be read back (Run.AsOf), replayed (DB.Replay),
// forked without a copy (DB.Fork reads through to the parent's versions) and
// diffed (DB.Diff). Step versions and times are in the WAL and snapshots.
//
// Byte slices handed in are copied by the database; byte slices handed out
// are the caller's to keep. Every method is safe for concurrent use unless
// its doc says otherwise.
package inmem
