package engine

import (
	"sync/atomic"
)

// StepRec is one step of a run as the commit path records it: the commit
// version and the database clock's time when it was admitted (unix nanos).
type StepRec struct {
	Version uint64
	Time    int64
}

// StepBlockSize is how many steps a block of the log holds.
const StepBlockSize = 512

type stepBlock [StepBlockSize]StepRec

// StepLog is a run's step -> version list. Appends happen only inside the
// commit critical section (or during recovery, before the handle is
// shared), so there is one writer at a time; readers never lock. Blocks
// are fixed-size and never move, so an append never copies steps, and the
// block table grows geometrically.
type StepLog struct {
	// The pointers are written once a block, n by every step, and so is
	// what the log sits beside in runState. Every commit of the run reads
	// the pointers outside the critical section (see reserve): on a line
	// of their own, that read seldom misses.
	_      [64]byte
	blocks atomic.Pointer[[]*stepBlock] // table of blocks, replaced when it grows
	spare  atomic.Pointer[stepBlock]    // the next block, allocated ahead by reserve
	next   atomic.Pointer[[]*stepBlock] // the table with the next block's slot, ditto
	_      [64]byte
	n      atomic.Int64 // steps recorded; entries below n are complete
	// sealed holds every step, exactly sized, once the log will not grow
	// (Seal); blocks is then nil.
	sealed atomic.Pointer[[]StepRec]
}

// Seal trades the log's blocks (a block holds 512 steps, 8 KiB) for one
// exactly sized copy: for a run whose steps are over (it ended and moved
// to the cold tier), so that what it keeps in memory is what it holds. A
// later Add unseals. Single writer, as Add.
func (l *StepLog) Seal() {
	if l.sealed.Load() != nil || l.blocks.Load() == nil {
		return
	}
	all := l.All()
	l.sealed.Store(&all)
	// Readers load blocks first and fall back to sealed, which is stored
	// before blocks goes: either is complete.
	l.blocks.Store(nil)
	l.spare.Store(nil)
	l.next.Store(nil)
}

func (l *StepLog) unseal() {
	s := l.sealed.Load()
	if s == nil {
		return
	}
	var tab []*stepBlock
	for i, st := range *s {
		if i%StepBlockSize == 0 {
			tab = append(tab, new(stepBlock))
		}
		tab[i/StepBlockSize][i%StepBlockSize] = st
	}
	if tab != nil {
		l.blocks.Store(&tab)
	}
	l.sealed.Store(nil)
}

// reserveAhead is how many steps before a block boundary reserve allocates
// the next block: wide enough that the commits that call it (see
// runState.reserveSteps) come within it, even with writers committing in
// between.
const reserveAhead = 64

// Reserve allocates the block the next steps need, and the longer table
// that holds it, when a block boundary is near, so that add does not
// allocate. add runs in the oracle's critical section, where an allocation
// that grows the Go heap maps memory, and a mapping waits for the kernel's
// lock on the address space: milliseconds while another thread populates
// a chunk, with every commit of the database queued behind it. Commits
// call it after their critical section now and then, and before a run's
// first step. Any number of goroutines may call it, outside the critical
// section.
func (l *StepLog) Reserve() {
	if l.spare.Load() != nil {
		return
	}
	n := l.n.Load()
	if r := n % StepBlockSize; r != 0 && r < StepBlockSize-reserveAhead {
		return
	}
	l.spare.CompareAndSwap(nil, new(stepBlock))
	b := int((n + StepBlockSize - 1) / StepBlockSize) // the block the boundary adds
	if w := l.next.Load(); w != nil && len(*w) == b+1 {
		return
	}
	var tab []*stepBlock
	if p := l.blocks.Load(); p != nil {
		tab = *p
	}
	if len(tab) != b {
		return // the boundary passed meanwhile
	}
	next := extended(tab)
	l.next.Store(&next)
}

// extended returns a table one block longer than tab: tab itself, when it
// has room, or a new one with room to grow (add copies tab's blocks in).
func extended(tab []*stepBlock) []*stepBlock {
	if len(tab) < cap(tab) {
		return tab[:len(tab)+1]
	}
	return make([]*stepBlock, len(tab)+1, 2*len(tab)+1)
}

// Started reports whether the log has its first block.
func (l *StepLog) Started() bool { return l.blocks.Load() != nil || l.sealed.Load() != nil }

// Add records the next step. Single writer.
func (l *StepLog) Add(version uint64, t int64) {
	l.unseal()
	i := l.n.Load()
	b := int(i / StepBlockSize)
	var tab []*stepBlock
	if p := l.blocks.Load(); p != nil {
		tab = *p
	}
	if b == len(tab) {
		// The table grows geometrically; within its capacity the slot
		// past every published length is free to fill before the longer
		// table is published.
		grown := l.next.Swap(nil)
		if grown == nil || len(*grown) != b+1 {
			g := extended(tab)
			grown = &g
		}
		if len(tab) > 0 && &(*grown)[0] != &tab[0] {
			copy(*grown, tab) // not when it extends tab in place: readers read those slots
		}
		blk := l.spare.Swap(nil)
		if blk == nil {
			blk = new(stepBlock)
		}
		(*grown)[b] = blk
		l.blocks.Store(grown)
		tab = *grown
	}
	tab[b][i%StepBlockSize] = StepRec{Version: version, Time: t}
	l.n.Store(i + 1)
}

// Len returns the number of steps recorded.
func (l *StepLog) Len() int { return int(l.n.Load()) }

// At returns step i (0-based); i must be below a len read earlier.
func (l *StepLog) At(i int) StepRec {
	if p := l.blocks.Load(); p != nil {
		return (*p)[i/StepBlockSize][i%StepBlockSize]
	}
	return (*l.sealed.Load())[i]
}

// Last returns the newest step, if any.
func (l *StepLog) Last() (StepRec, bool) {
	n := l.Len()
	if n == 0 {
		return StepRec{}, false
	}
	return l.At(n - 1), true
}

// Visible returns how many steps have a version at or below snapshot:
// steps are in version order, so they are a prefix.
func (l *StepLog) Visible(snapshot uint64) int {
	n := l.Len()
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if l.At(m).Version <= snapshot {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// All returns a copy of every recorded step.
func (l *StepLog) All() []StepRec {
	n := l.Len()
	out := make([]StepRec, n)
	for i := range out {
		out[i] = l.At(i)
	}
	return out
}
