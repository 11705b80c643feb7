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
// The visible version shares one word (pub) with a done bit for each of the
// seven versions above it: a Done close above it sets its bit, and moves
// the visible version over the bits, with one compare-and-swap; one further
// up, or while a slow one is pending (slowFlag), is found in its slot.
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
// A blind write (one key, nothing read) whose guard is Serial, or that
// has none, need not enter the section: it takes the next version with a
// compare-and-swap on the last assigned one, runs its guard under the
// guard's own lock (a run's, so the run's steps are logged in version
// order) and leaves its write in its version's slot of the ring of
// versions in flight. The section's next holder first closes the gate
// (a bit of the same word, so blind writes stop), waits for every version
// taken before to be recorded, and moves into the recent-commit list those
// a registered transaction could still conflict with (absorb). A blind
// write the guard refuses has taken its version: it is published with no
// write. A run's WAL guard is not Serial, so with a WAL every commit takes
// its version in the section, in the order of the log.
//
// Invariants:
//   - Commit versions are assigned consecutively from 1: in the section,
//     or by a blind write's swap while the gate is open and the version's
//     slot is free (limit). A commit that read nothing polls the section's
//     mutex briefly before queueing (lock.go); a validated commit queues at
//     once, in turn.
//   - Inside the section (gate closed, absorbed up to the last assigned
//     version) the recent-commit list holds every commit a registered
//     transaction may conflict with, in version order, and every guard
//     admitted outside has returned: the section sees a clean cut.
//   - visible <= every version not yet Done or Applied, and <= every
//     Applied version above the highest Released; visible only grows.
//     Versions are at most MaxVersion (pub keeps visible in 56 bits).
//   - A done bit is set only for a version stored Done in its slot; a
//     version Done or Applied with no bit (slow) raised slowMax and set
//     slowFlag first, and the flag stays set while visible < slowMax, so
//     every Done in the meantime scans the slots and none is stranded.
//   - A committer returns once v is visible (WaitVisible) or once it is
//     Done and acknowledged (Ack); Visible and Begin return a version at
//     or above every acknowledged one, waiting for the versions in flight
//     below it. So a read that starts after a commit returned reads it.
//   - A commit record is kept while any registered transaction's snapshot is
//     older than it (the watermark), so validation never misses a commit.
//   - A Guard runs inside the critical section, or for a Serial guard under
//     its own lock with the gate open, so checks such as "the run has not
//     ended" are ordered exactly with the commits around them: a guard
//     changed inside the section (a run ended) is seen by every version
//     taken after it, and by none before.
//
// Past two cores. Every machine this was measured on has two, so three
// choices are tuned to two and are the first to measure again on more:
//   - Blind writes without a WAL take versions by a swap outside the
//     section; the rest (validated commits, and every commit with a WAL,
//     whose append order is the version order) take them in the section.
//     With the section for every commit, two writers of one database kept
//     0.81-0.86 of what two databases gain from the second core
//     (BenchmarkPutScalingShared), and the section's lines moving between
//     the cores were the largest difference (CommitBlind 0.40 s against
//     0.24 s per 4M puts). With the swap, BlindCommit takes 13 ns with one
//     committer (30 before) and 99 ns with two (148); two writers of one
//     database kept 0.87-0.88 of two databases' gain (0.83 before).
//     The rest was mostly the in-order publication: a writer waited in
//     WaitVisible for the other's commit, taken just before its own, to
//     be linked. With Ack (a commit with no WAL returns once published,
//     and readers wait for what was acknowledged) the medians of five
//     sets of alternating runs read 0.92-0.96, against 0.85-0.91 for the
//     code before in the same minutes (bench/README.md). What is left
//     is the publication. Builds for diagnosis only, 14 alternating runs
//     each: with blind writes taking versions from a counter of each
//     run's and publishing nothing, one database read 1.02 of two; with
//     one counter both writers add to and nothing published, 1.02 too;
//     adding Done read 0.98, and Ack 0.96, as the code does. So the list,
//     the point index and the arena cost the second core nothing
//     measurable, nor does one shared counter; Done's and Ack's lines
//     (visible, the next version's slot, acked) cost about 0.04 of it.
//     With pub (visible and the done bits in one word, so Done is one
//     compare-and-swap of one line and a done bit tells readers what
//     Ack said in acked), 24 alternating runs read 0.996 against 0.969
//     for the code before, and 10 runs of 16M puts 0.956 against 0.934.
//     With many
//     writers on many cores the swap is one contended line, which
//     sharding the assignment would have to keep in version order.
//   - lock.go's poller yields between tries while no committer is queued
//     and queues once one is: two writers on two cores are rarely queued,
//     a Strict group woken by its fsync always is. With more cores, a
//     holder is less often descheduled and polling without yields may pay.
//   - Versions become visible in order (advance). A commit with a WAL
//     waits in WaitVisible for every earlier one to be applied; one
//     without returns after Ack, and a reader that starts behind it waits
//     instead. With two writers a wait is at most one commit long; with
//     many, a descheduled committer holds back every later version, and
//     every reader that starts after a later one was acknowledged.
package occ
