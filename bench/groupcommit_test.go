package bench

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkGroupCommitIdeal is the yardstick for BenchmarkStrictCommit: a
// group commit that does nothing but what one must do, on the same disk
// under the same load, so the gap between the two is what in-mem's commit
// path adds. A committer copies a record (idealRecord bytes, about what a
// one-key Strict commit logs) into a shared buffer under a mutex, kicks the
// syncer, and waits for its group's channel to close. One syncer goroutine
// takes the buffer, writes it, fsyncs the file (os.File.Sync), and closes
// the group's channel: whatever queued during one fsync goes out with the
// next. No framing, checksums, versions, ordering of visibility or index:
// nothing but the buffer, the write and the fsync. Reported as
// BenchmarkStrictCommit is: ns/op = wall / b.N, p50/p99 per commit, and
// commits per fsync.
func BenchmarkGroupCommitIdeal(b *testing.B) {
	for _, g := range committerCounts {
		b.Run(fmt.Sprintf("committers=%d", g), func(b *testing.B) {
			b.ReportAllocs()
			l, err := openIdealLog(filepath.Join(b.TempDir(), "ideal.log"))
			if err != nil {
				b.Fatal(err)
			}
			keys := commitKeys(b.N, g)
			commitParallel(b, keys, func(k string) error {
				busy(idealWork)
				var rec [idealRecord]byte
				copy(rec[:], k)
				return l.commit(rec[:])
			})
			fsyncs, err := l.close()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/float64(fsyncs), "commits/fsync")
		})
	}
}

// idealWork is CPU time BenchmarkGroupCommitIdeal spends in each commit
// before it queues its record, set with -ideal-work: the ideal with the
// CPU cost of a real commit path (in-mem's cpu-ns/op less the ideal's),
// which tells what of in-mem's latency is that cost on this machine's
// cores rather than the way its commits wait for the disk.
var idealWork = flag.Duration("ideal-work", 0, "CPU time BenchmarkGroupCommitIdeal spends in each commit before queueing it")

// busy spends about d of CPU in a loop, or returns at once for d <= 0.
// The loop's length is calibrated once, so a preempted loop resumes where
// it stopped: the cost is CPU, as a commit path's is, not wall time.
func busy(d *time.Duration) {
	if *d <= 0 {
		return
	}
	spin(int(float64(*d) * spinsPerNs()))
}

// spinSink keeps spin's loop from being optimised away.
var spinSink atomic.Uint64

func spin(n int) {
	x := uint64(n)
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	spinSink.Store(x)
}

// spinsPerNs is spin's iterations per nanosecond, the fastest of a few
// timings (the others were slowed by the machine).
var spinsPerNs = sync.OnceValue(func() float64 {
	const n = 1 << 22
	best := time.Duration(1 << 62)
	for range 5 {
		t0 := time.Now()
		spin(n)
		best = min(best, time.Since(t0))
	}
	return n / float64(best.Nanoseconds())
})

// idealRecord is the size of a record in BenchmarkGroupCommitIdeal: about
// what in-mem's WAL holds for one of BenchmarkStrictCommit's commits (125
// bytes: frame, version and time, the key under its run's scope, the
// 64-byte value), so both write the same bytes per fsync.
const idealRecord = 128

// idealGroup is the set of records one fsync makes durable.
type idealGroup struct {
	done chan struct{} // closed once the group's write and fsync returned
	err  error
}

// idealLog is the minimal group commit of BenchmarkGroupCommitIdeal.
type idealLog struct {
	f       *os.File
	mu      sync.Mutex
	buf     []byte      // records queued since the syncer last took them
	grp     *idealGroup // the group queued records join
	closed  bool
	kick    chan struct{} // one pending wake-up is enough: the syncer takes all
	stopped chan struct{}
	fsyncs  int // written by the syncer, read after it stopped
}

func openIdealLog(path string) (*idealLog, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	l := &idealLog{
		f:       f,
		grp:     &idealGroup{done: make(chan struct{})},
		kick:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
	go l.syncer()
	return l, nil
}

// commit queues rec and returns once a write and fsync carrying it returned.
func (l *idealLog) commit(rec []byte) error {
	l.mu.Lock()
	l.buf = append(l.buf, rec...)
	g := l.grp
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	<-g.done
	return g.err
}

// syncer writes and fsyncs everything queued while the last fsync ran, then
// releases that group with one channel close.
func (l *idealLog) syncer() {
	defer close(l.stopped)
	var spare []byte
	for range l.kick {
		l.mu.Lock()
		buf, g, closed := l.buf, l.grp, l.closed
		l.buf, l.grp = spare[:0], &idealGroup{done: make(chan struct{})}
		l.mu.Unlock()
		if len(buf) > 0 {
			_, err := l.f.Write(buf)
			if err == nil {
				err = l.f.Sync()
				l.fsyncs++
			}
			g.err = err
		}
		close(g.done)
		spare = buf
		if closed {
			return
		}
	}
}

// close stops the syncer and closes the file; it returns the fsyncs done.
func (l *idealLog) close() (int, error) {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.kick <- struct{}{}
	<-l.stopped
	return l.fsyncs, l.f.Close()
}
