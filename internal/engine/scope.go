package engine

import (
	"sync/atomic"
	"time"
)

// Scope is what the commit path keeps for one run or shared scope: its
// steps, the bytes it wrote, the time of its last write and the fingers
// into the skiplist where its last commits linked. The fields are laid out
// by how they are written: the step count and log by every step, inside
// the commit critical section; the times beside them on lines of their
// own, so the run's writers on two cores mostly read shared lines.
type Scope struct {
	Steps   atomic.Int64 // written inside the commit critical section
	Log     StepLog      // runs only: step -> version and time, written beside steps
	Written atomic.Int64 // bytes committed (keys and values): what reclaim may one day free
	_       [32]byte
	Updated atomic.Int64 // unix nanos of the last write, see touch
	Stamp   atomic.Int64 // the clock as the latest data commit read it, see stampNow
	_       [48]byte
	// LastStep is the time of the step applied last; guarded by the
	// oracle's critical section, as log is.
	LastStep int64
	Shared   bool // a shared scope: no step log, no step times
	// Proposed is the step a clustered store's commit guard admitted and
	// did not apply (its replica applies it with the record): the record
	// takes its time from here. Guarded by the critical section.
	Proposed StepRec

	fingers runFingers // where the last commits linked their writes
}

// ApplyStep records step v of the scope at time t (unix nanos), for a
// commit inside its critical section or for recovery: one writer at a
// time. It is the engine's part of the apply path (apply.go).
func (sc *Scope) ApplyStep(v uint64, t int64) {
	sc.Steps.Add(1)
	if sc.Shared {
		return
	}
	sc.LastStep = t
	sc.Log.Add(v, t)
	sc.Touch(t)
}

// Touch records a write at now (unix nanos). It stores only when the value
// moves by a millisecond or more, so concurrent writers of one run mostly
// read a shared cache line instead of bouncing it between cores.
func (sc *Scope) Touch(now int64) {
	if now-sc.Updated.Load() >= int64(time.Millisecond) {
		sc.Updated.Store(now)
	}
}

// reserveSteps lets the step log reserve its next block (see
// StepLog.Reserve), on every reserveEvery-th commit through the finger
// cache fc and on every commit without one: reading the log's step count
// on every commit cost the run's writers a cache miss each.
func (sc *Scope) reserveSteps(fc *fingerCache) {
	if !sc.Shared && fc.due() {
		sc.Log.Reserve()
	}
}
