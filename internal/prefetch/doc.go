// Package prefetch asks the processor to start loading memory that a caller
// is about to read, so that loads a caller would otherwise issue one after
// another (a hash slot, then the node it names, then that node's value) or
// one per loop iteration (the vectors of a graph node's neighbours) wait for
// memory together instead of in turn.
//
// Invariants: a prefetch is only a hint. It never faults, even on an address
// that is not mapped, never changes memory, and never changes what a program
// computes; where no prefetch instruction is wired up (architectures other
// than amd64) the functions do nothing.
package prefetch
