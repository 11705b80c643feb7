// Package occ is the commit oracle of optimistic concurrency control.
//
// A read-write transaction reads at a snapshot (the visible version when it
// began), records what it read as key fingerprints (xxh3 of the encoded key)
// and key prefixes, and buffers its writes. Commit validates the reads
// against the writes of every transaction that committed after the snapshot;
// if none intersects, the transaction gets the next commit version. That
// validate-and-assign step is the only critical section: it does no I/O, and
// it allocates nothing beyond amortised growth of the recent-commit list
// and of the ring that holds those commits' writes.
//
// After a commit's writes are applied, Done marks its version finished and
// the visible version advances through every finished version in order, so
// a reader at the visible version never sees a partial transaction or a hole.
// A commit that must stay unseen until something outside the oracle happens
// (a Strict commit's fsync) is marked Applied before it waits and Released
// after; a release vouches for every version up to it, so one committer of
// a group released together makes the whole group visible.
//
// Invariants:
//   - Commit versions are assigned consecutively from 1 under one mutex. A
//     commit that read nothing polls it briefly before queueing (lock.go);
//     a validated commit queues at once, in turn.
//   - visible <= every version not yet Done or Applied, and <= every
//     Applied version above the highest Released; visible only grows.
//   - A commit record is kept while any registered transaction's snapshot is
//     older than it (the watermark), so validation never misses a commit.
//   - A Guard runs inside the critical section, so checks such as "the run
//     has not ended" are ordered exactly with the commits around them.
package occ
