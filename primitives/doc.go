// Package primitives holds the agent primitives other than KV and vectors
// (the event log, state cells and traces): their key layouts, value codecs
// and logic, written against Txn, a transaction restricted to one
// primitive of one run or scope. The root package adapts its transactions
// to Txn; this package never imports it, so it is testable alone (see
// memtxn_test.go).
//
// Invariants:
//   - Every operation reads and writes through one Txn, so a caller's
//     transaction makes any mix of operations atomic, and an aborted one
//     leaves nothing behind (in particular no gap in event sequences).
//   - Keys are this package's own (the engine prefixes scope and tag):
//     events under 'h' (head), 'e' (event by seq), 't' (type index); cells
//     under 'c' (cell) and 'm' (machine); spans under 'n' (next id),
//     's' (span) and the indexes 'k', 'a', 'g', 'p', 'w'.
//   - Decoders never panic on damaged bytes; they return ErrCorruption.
//   - Slices returned to callers are copies.
package primitives
