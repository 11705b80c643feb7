package occ

import "runtime"

// pollTries and yieldTries bound how long a committer that finds the
// critical section taken waits for it before queueing on the mutex: first
// polling, then polling between yields of its processor, which let a
// holder preempted on this processor run. The section lasts a few hundred
// nanoseconds. Queueing parks the goroutine, and the unlock that wakes it
// is a futex call, microseconds in a virtual machine, which the section's
// holder pays and the section then sits idle through.
//
// The poller yields only while no committer is queued on the mutex. A
// yield puts it on the global run queue, which a processor serves only
// once its own queue is empty (or every 61st turn); when a Strict group's
// committers are woken together by its fsync, that queue holds all of
// them, each doing a whole commit first. At 64 Strict committers on 2
// cores a poller that always yielded did so ~600 times before it got the
// lock (1.5 yields per commit), and the 99th percentile of the time from a
// commit's start to its version was 250 us; queueing after the polls, 90
// us. But two writers on two cores that queue after the polls park each
// other, and a poller that always yields waits behind everything runnable:
// one database's two writers gained 1.10x with the always-yielding poller
// and 1.27x with this one (BenchmarkPutScaling, medians of 5 alternating
// runs). Committers are queued exactly when many contend, so the poller
// yields for two and queues for many.
const (
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
	o.queued.Add(1)
	o.mu.Lock()
	o.queued.Add(-1)
}

// poll tries for o.mu for a while and reports whether it got it.
func (o *Oracle) poll() bool {
	for range pollTries {
		if o.mu.TryLock() {
			return true
		}
	}
	for range yieldTries {
		if o.queued.Load() > 0 {
			return false
		}
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
