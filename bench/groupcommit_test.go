package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
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
