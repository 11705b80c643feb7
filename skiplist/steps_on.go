//go:build invariants

package skiplist

import "sync/atomic"

// steps counts, in builds with the invariants tag, every node a search
// steps to or compares on its way (findSplice, seeks, Get's walk over
// versions), so tests can bound how far a search walks: the hints,
// fingers and floors that keep walks short change no result, only their
// length.
var steps atomic.Int64

func step() { steps.Add(1) }
