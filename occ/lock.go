package occ

import "runtime"

const (
	// pollTries and yieldTries bound how long a committer that finds the
	// critical section taken waits for it before queueing on the mutex:
	// first polling, then polling between yields of its processor (which
	// let a preempted holder run). The section lasts a few hundred
	// nanoseconds. Queueing parks the goroutine, and the unlock that wakes
	// it is a futex call, microseconds in a virtual machine, which the
	// section's holder pays and the section then sits idle through.
	pollTries  = 64
	yieldTries = 1024
)

// lock takes o.mu for a commit that read nothing, which no commit can
// conflict with however many overtake it. One contender at a time polls;
// the rest queue at once. Polling pays when a few committers collide now
// and then, as two writers on two cores do; when many wait together (the
// committers of one Strict group, woken by its fsync) they would only take
// the CPU from the holder and from each other.
func (o *Oracle) lock() {
	if o.mu.TryLock() {
		return
	}
	if o.spin && o.polling.CompareAndSwap(false, true) {
		got := o.poll()
		o.polling.Store(false)
		if got {
			return
		}
	}
	o.mu.Lock()
}

// poll tries for o.mu for a while and reports whether it got it.
func (o *Oracle) poll() bool {
	for range pollTries {
		if o.mu.TryLock() {
			return true
		}
	}
	for range yieldTries {
		runtime.Gosched()
		if o.mu.TryLock() {
			return true
		}
	}
	return false
}

// canSpin reports whether polling a lock can pay: with one processor the
// holder cannot run while the poller does.
func canSpin() bool { return runtime.GOMAXPROCS(0) > 1 }
