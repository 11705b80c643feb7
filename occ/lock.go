package occ

import "runtime"

// pollTries bounds how long a committer that finds the critical section
// taken polls it before queueing on the mutex. The section lasts a few
// hundred nanoseconds. Queueing parks the goroutine, and the unlock that
// wakes it is a futex call, microseconds in a virtual machine, which the
// section's holder pays and the section then sits idle through.
//
// The poller does not yield its processor between tries: a yield puts it
// on the global run queue, which a processor serves only once its own
// queue is empty (or every 61st turn), and when a Strict group's
// committers are woken together by its fsync that queue holds all of
// them, each doing a whole commit first. At 64 Strict committers on 2
// cores a poller yielded ~600 times before it got the lock (1.5 yields per
// commit), and the 99th percentile of the time from a commit's start to
// its version was 250 us; queueing after the polls, 90 us.
const pollTries = 64

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
	return false
}

// canSpin reports whether polling a lock can pay: with one processor the
// holder cannot run while the poller does.
func canSpin() bool { return runtime.GOMAXPROCS(0) > 1 }
