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
// A cluster node's oracle also follows versions assigned elsewhere: a
// follower Adopts the version of each record it applies; a node whose
// proposals were never applied Rewinds to the last applied version before
// it assigns again; one that loaded a snapshot Restarts at its version.
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
//
// Past two cores. Every machine this was measured on has two, so three
// choices are tuned to two and are the first to measure again on more:
//   - One mutex assigns every version, blind writes' too (a blind write
//     must be in the recent-commit list before any later validation). On
//     two cores the section, a few hundred nanoseconds, is not the limit:
//     two writers of one database reached 1.08x the throughput of one
//     against 1.21x for two databases (BenchmarkPutScaling's gain against
//     PutScalingApart's, medians of 5 alternating runs; 0.89 of apart).
//     Measured in one run, slice by slice (BenchmarkPutScalingShared), on
//     a quiet machine: 1.33-1.43x against 1.60-1.68x, 0.81-0.86 of apart,
//     steadily. The writers wait for nothing (1.9 processors busy): the
//     difference is the lines the section and the publication move
//     between the cores (CommitBlind 0.40 s against 0.24 s per 4M puts).
//     With many writers on many cores it serialises their commits; sharding
//     the assignment would have to keep that list complete in version
//     order.
//   - lock.go's poller yields between tries while no committer is queued
//     and queues once one is: two writers on two cores are rarely queued,
//     a Strict group woken by its fsync always is. With more cores, a
//     holder is less often descheduled and polling without yields may pay.
//   - Versions become visible in order (advance), so a commit waits in
//     WaitVisible for every earlier one to be applied: with two writers a
//     wait at most one commit long, with many a descheduled committer holds
//     back all later ones.
package occ
