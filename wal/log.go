package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inmem-db/inmem/internal/vfs"
)

// Mode says when the syncer fsyncs.
type Mode uint8

// Sync modes.
const (
	// Strict fsyncs every group; committers wait for it.
	Strict Mode = iota + 1
	// Batched fsyncs once Interval has passed or MaxPending records are
	// unsynced, whichever comes first.
	Batched
	// Async fsyncs every Interval.
	Async
)

// Options configure a Log.
type Options struct {
	FS          vfs.FS
	Dir         string
	Mode        Mode
	Interval    time.Duration // Batched, Async
	MaxPending  int           // Batched
	SegmentSize int64         // a segment is rolled over past this size; default 64 MiB

	// yield gives up the processor while a Strict syncer gathers the
	// committers the last fsync released (see gather); runtime.Gosched
	// unless a test drives it.
	yield func()
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("wal: closed")

// Group is a set of records made durable by one fsync.
type Group struct {
	done chan struct{}
	err  error
}

func newGroup() *Group { return &Group{done: make(chan struct{})} }

// Wait blocks until the group's records are durable, or the write or fsync
// carrying them failed.
func (g *Group) Wait() error {
	<-g.done
	return g.err
}

// Log appends records to segment files with group commit.
type Log struct {
	opts Options

	mu      sync.Mutex // ordering lock: guards the fields below, never held across I/O
	buf     blockBuf   // framed records not yet handed to the syncer
	free    [][]byte   // written blocks kept for reuse (see blockBuf)
	cuts    []*Cut     // offsets in buf where a new segment starts
	grp     *Group     // the group records appended now will join
	pending int        // records in buf
	force   bool       // fsync at the next round even if the mode would not
	err     error      // poison: the first write or fsync failure
	closed  bool
	// appended counts framed bytes accepted by Append, written out or not:
	// what a checkpoint trigger should count, since in Batched and Async
	// modes writing out lags the commits. Beside mu, whose line Append
	// already owns.
	appended atomic.Int64

	kick    chan struct{}
	stopped chan struct{}
	// idle is set while the syncer waits for a kick rather than polling:
	// only then does an append wake it (Batched and Async).
	idle atomic.Bool

	// Owned by the syncer goroutine.
	f     vfs.File
	seg   uint64
	size  int64
	alloc int64 // space reserved for f (see makeSegment)
	dirty bool  // f was written since its last successful fsync
	// reserve: a resumed segment gets its space reserved at its first write.
	reserve bool
	// next is segment seg+1, being made ready by its own goroutine so that
	// a roll only has to switch to it; nil until the first segment is
	// written to, and after a roll that failed.
	next      *nextSegment
	unsynced  []*Group
	nUnsynced int
	lastSync  time.Time

	bytes  atomic.Int64
	fsyncs atomic.Uint64
	segNo  atomic.Uint64
}

// Create starts a log whose first segment is number seg. A file of that
// number, if there is one, must hold no record (Recover's Next names such a
// one): it is replaced. The segment's header is durable when Create
// returns. Segment seg+1 is prepared in the background once records are
// written, so a log that is closed without any makes no second segment.
func Create(opts Options, seg uint64) (*Log, error) {
	l, err := newLog(opts)
	if err != nil {
		return nil, err
	}
	f, alloc, err := l.makeSegment(seg)
	if err != nil {
		return nil, err
	}
	l.start(f, seg, headerBytes, alloc)
	return l, nil
}

// Resume starts a log that appends to segment seg, the last one Recover
// kept (RecoverResult.Last), after the records it holds: a database opened
// and closed without a commit then leaves its log as it found it. Recover
// must have run first (it cuts a torn tail off, so the segment ends on a
// whole record) and the segment must be durable (the caller fsynced what
// it replayed). A segment already at SegmentSize is not resumed
// (ErrSegmentFull): the caller creates Next instead. Segment seg+1, if a
// crash left one unfinished (Recover found it holds no record), is removed
// as Close removes a prepared one.
func Resume(opts Options, seg uint64) (*Log, error) {
	l, err := newLog(opts)
	if err != nil {
		return nil, err
	}
	path := segmentPath(opts.Dir, seg)
	f, err := opts.FS.OpenAppend(path)
	if err != nil {
		return nil, fmt.Errorf("wal: open %s: %w", path, err)
	}
	size, err := f.Size()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("wal: size of %s: %w", path, err)
	}
	if size < headerBytes {
		f.Close()
		return nil, fmt.Errorf("wal: %s holds no header (%d bytes): %w", path, size, ErrCorruption)
	}
	if size >= l.opts.SegmentSize {
		f.Close()
		return nil, ErrSegmentFull
	}
	if err := opts.FS.Remove(segmentPath(opts.Dir, seg+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		f.Close()
		return nil, fmt.Errorf("wal: remove unused %s: %w", SegmentName(seg+1), err)
	}
	// Space is reserved ahead, as for a new segment, at the first write:
	// a log closed without one leaves the file untouched, times included.
	l.reserve = true
	l.start(f, seg, size, size)
	return l, nil
}

// ErrSegmentFull is returned by Resume for a segment that has reached the
// segment size: the log goes on in a new one.
var ErrSegmentFull = errors.New("wal: segment full")

// newLog checks opts and makes a log with no segment yet.
func newLog(opts Options) (*Log, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = 64 << 20
	}
	if opts.yield == nil {
		opts.yield = runtime.Gosched
	}
	switch opts.Mode {
	case Strict:
	case Batched:
		if opts.Interval <= 0 || opts.MaxPending <= 0 {
			return nil, fmt.Errorf("wal: batched mode needs Interval and MaxPending")
		}
	case Async:
		if opts.Interval <= 0 {
			return nil, fmt.Errorf("wal: async mode needs Interval")
		}
	default:
		return nil, fmt.Errorf("wal: unknown mode %d", opts.Mode)
	}
	return &Log{
		opts:     opts,
		grp:      newGroup(),
		kick:     make(chan struct{}, 1),
		stopped:  make(chan struct{}),
		lastSync: time.Now(),
	}, nil
}

// start makes f, segment seg of size bytes with alloc reserved, the one
// being written, and starts the syncer.
func (l *Log) start(f vfs.File, seg uint64, size, alloc int64) {
	l.f, l.seg, l.size, l.alloc = f, seg, size, alloc
	l.segNo.Store(seg)
	go l.syncer()
}

// headerBytes is the size of a segment's header record.
var headerBytes = int64(len(segmentHeader(0)))

// maxPreallocate bounds the space reserved for a segment ahead of its
// writes: past it, space is allocated as written. A larger reservation
// would only hold disk space (and cost time where the filesystem zeroes
// it, as tmpfs does) for a segment that a checkpoint may cut short.
const maxPreallocate = 64 << 20

// makeSegment creates segment n, writes its header, reserves its space and
// makes all of it durable, name included. Creating over an existing file
// replaces it: recovery hands on the number of a segment a crash left
// unfinished. It returns the file and the space reserved.
func (l *Log) makeSegment(n uint64) (vfs.File, int64, error) {
	path := segmentPath(l.opts.Dir, n)
	f, err := l.opts.FS.Create(path)
	if err != nil {
		return nil, 0, fmt.Errorf("wal: create %s: %w", path, err)
	}
	fail := func(op string, err error) (vfs.File, int64, error) {
		f.Close()
		return nil, 0, fmt.Errorf("wal: %s %s: %w", op, path, err)
	}
	if _, err := f.Write(segmentHeader(n)); err != nil {
		return fail("write", err)
	}
	alloc := min(l.opts.SegmentSize, maxPreallocate)
	if err := f.Preallocate(alloc); err != nil {
		return fail("preallocate", err)
	}
	if err := f.Sync(); err != nil {
		return fail("sync", err)
	}
	if err := l.opts.FS.SyncDir(l.opts.Dir); err != nil {
		return fail("sync dir of", err)
	}
	l.fsyncs.Add(2)
	return f, alloc, nil
}

// errNotPrepared stands for a preparation never started (the segment was
// not written to) or already taken by a failed roll.
var errNotPrepared = errors.New("wal: next segment not prepared")

// nextSegment is a segment being made ready ahead of the roll that will
// switch to it.
type nextSegment struct {
	n     uint64
	done  chan struct{} // closed once f, alloc and err are set
	f     vfs.File
	alloc int64
	err   error
}

// prepare starts a goroutine that makes segment n (see makeSegment) and
// then gives back what the finished segment old reserved past trimTo, its
// end (trimTo < 0: nothing to give back), and closes it.
//
// A goroutine of its own rather than the syncer's idle time: under load
// the syncer is never idle, and preparing is three metadata writes and two
// fsyncs that every commit queued behind the syncer would wait for. One
// goroutine per segment, ending when the segment is ready, so nothing
// lingers: Close waits for the last one.
func (l *Log) prepare(n uint64, old vfs.File, trimTo int64) *nextSegment {
	p := &nextSegment{n: n, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.f, p.alloc, p.err = l.makeSegment(n)
		if old != nil {
			// The old segment was fsynced before the switch: trimming
			// gives back unused space and closing loses nothing, so
			// their errors change nothing either.
			if trimTo >= 0 {
				_ = old.Truncate(trimTo)
			}
			_ = old.Close()
		}
	}()
	return p
}

// Append adds a record and returns the group that will make it durable. It
// does no I/O. Records reach the log in Append order.
func (l *Log) Append(typ byte, payload []byte) (*Group, error) {
	g, wake, err := l.AppendNoWake(typ, payload)
	if wake {
		l.Wake()
	}
	return g, err
}

// AppendNoWake is Append for a caller holding a lock other goroutines wait
// for: it does not wake the syncer but reports whether it should be, and
// the caller calls Wake once it has let go. Waking a goroutine can hand it
// this one's processor, and then everyone waiting on the lock waits for
// that goroutine's turn too.
func (l *Log) AppendNoWake(typ byte, payload []byte) (*Group, bool, error) {
	if typ < TypeUser || typ >= TypeUser+maxTypes {
		return nil, false, fmt.Errorf("wal: record type %d out of range", typ)
	}
	if len(payload) > MaxRecord {
		return nil, false, fmt.Errorf("wal: record of %d bytes over %d", len(payload), MaxRecord)
	}
	l.mu.Lock()
	if err := l.usableLocked(); err != nil {
		l.mu.Unlock()
		return nil, false, err
	}
	l.buf.appendRecord(&l.free, typ, payload)
	l.appended.Add(int64(HeaderSize + len(payload)))
	l.pending++
	g := l.grp
	// Strict wakes the syncer for every record. In Batched and Async the
	// syncer polls (see syncer), so appends wake it only after a second
	// with nothing to write (or when enough piled up for an fsync or a big
	// write): waking it on every round cost the committer its processor
	// often enough (the woken syncer ran first) to dominate the commit's
	// tail latency. Acknowledged commits reach the OS within 10 ms at most
	// (1 ms under load) and survive a process crash.
	wake := l.opts.Mode == Strict || l.buf.n >= wakeBytes ||
		(l.opts.Mode == Batched && l.pending >= l.opts.MaxPending) ||
		(l.pending == 1 && l.idle.Load())
	l.mu.Unlock()
	return g, wake, nil
}

func (l *Log) usableLocked() error {
	if l.err != nil {
		return l.err
	}
	if l.closed {
		return ErrClosed
	}
	return nil
}

// wakeBytes is the buffered size at which Batched and Async write out
// before their interval.
const wakeBytes = 1 << 20

// Wake tells the syncer records are waiting (see AppendNoWake).
func (l *Log) Wake() { l.wake() }

func (l *Log) wake() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// Cut is a point in the log where a new segment starts.
type Cut struct {
	off  int
	done chan struct{}
	seg  uint64
	err  error
}

// Wait returns the number of the segment that starts at the cut, once it
// exists and everything before the cut is durable.
func (c *Cut) Wait() (uint64, error) {
	<-c.done
	return c.seg, c.err
}

// Rotate makes every record appended after it go to a new segment. It does
// no I/O; call it where appends are ordered (the commit critical section)
// to cut the log at a known point, then Wait on the cut outside.
func (l *Log) Rotate() (*Cut, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return nil, err
	}
	c := &Cut{off: l.buf.n, done: make(chan struct{})}
	l.cuts = append(l.cuts, c)
	l.force = true
	l.wake()
	return c, nil
}

// Sync returns once everything appended before it is durable.
func (l *Log) Sync() error {
	l.mu.Lock()
	if err := l.usableLocked(); err != nil {
		l.mu.Unlock()
		return err
	}
	g := l.grp
	l.force = true
	l.mu.Unlock()
	l.wake()
	return g.Wait()
}

// Err returns the error that poisoned the log, if any.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Close makes everything appended durable, stops the syncer and closes the
// segment. Appends after Close return ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closed = true
	l.force = true
	err := l.err
	l.mu.Unlock()
	l.wake()
	<-l.stopped
	if err == nil {
		l.mu.Lock()
		err = l.err
		l.mu.Unlock()
	}
	var cerr error
	if err == nil && l.alloc > l.size {
		// Give back what the segment reserved and did not use: it would
		// stay allocated past the file's end for as long as the file lives.
		if terr := l.f.Truncate(l.size); terr != nil {
			cerr = fmt.Errorf("wal: trim %s: %w", SegmentName(l.seg), terr)
		}
	}
	if ferr := l.f.Close(); cerr == nil {
		cerr = ferr
	}
	if derr := l.discardNext(); cerr == nil {
		cerr = derr
	}
	if err != nil {
		return err
	}
	return cerr
}

// discardNext waits for the segment prepared ahead and removes it, made or
// half made: it holds no record. Left behind (by a crash) it is harmless,
// recovery keeps a segment holding its header only and replaces one left
// unfinished, so the removal is not fsynced.
func (l *Log) discardNext() error {
	p := l.next
	if p == nil {
		return nil
	}
	l.next = nil
	<-p.done
	if p.f != nil {
		p.f.Close()
	}
	if err := l.opts.FS.Remove(segmentPath(l.opts.Dir, p.n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("wal: remove unused %s: %w", SegmentName(p.n), err)
	}
	return nil
}

// Stats are the log's counters.
type Stats struct {
	Bytes    int64  // bytes written to segments
	Appended int64  // record bytes appended, including those not yet written
	Fsyncs   uint64 // file and directory fsyncs
	Segment  uint64 // segment being written
}

// Stats returns the log's counters.
func (l *Log) Stats() Stats {
	return Stats{Bytes: l.bytes.Load(), Appended: l.appended.Load(), Fsyncs: l.fsyncs.Load(), Segment: l.segNo.Load()}
}

// syncer is the one goroutine that writes and fsyncs.
func (l *Log) syncer() {
	defer close(l.stopped)
	var tick <-chan time.Time
	if l.opts.Mode != Strict {
		t := time.NewTicker(l.opts.Interval)
		defer t.Stop()
		tick = t.C
	}
	var poll *time.Timer
	if l.opts.Mode != Strict {
		poll = time.NewTimer(pollInterval)
		defer poll.Stop()
	}
	// Batched and Async poll: every pollInterval while records flow,
	// backing off to maxPoll when they stop, and after idleAfter with
	// nothing to write they wait to be woken (idle).
	released, busy, wait, quiet := 0, false, pollInterval, time.Duration(0)
	for {
		if busy {
			poll.Reset(wait)
			select {
			case <-l.kick:
			case <-tick:
			case <-poll.C:
			}
		} else {
			// Idle: wait to be woken, unless an append came between the
			// last round and the flag (it saw the flag clear).
			l.idle.Store(true)
			l.mu.Lock()
			waiting := l.pending == 0 && !l.closed && !l.force && len(l.cuts) == 0
			l.mu.Unlock()
			if waiting {
				select {
				case <-l.kick:
				case <-tick:
				}
			}
			l.idle.Store(false)
		}
		if l.opts.Mode == Strict && released > 1 {
			l.gather(released)
		}
		var done, wrote bool
		if released, wrote, done = l.round(); done {
			return
		}
		switch {
		case poll == nil:
		case wrote:
			busy, wait, quiet = true, pollInterval, 0
		case busy:
			quiet += wait
			wait = min(2*wait, maxPoll)
			busy = quiet < idleAfter
		}
	}
}

// pollInterval is how often a busy Batched or Async syncer looks for new
// records without being woken; maxPoll is where it backs off to while none
// come, and after idleAfter of none it waits to be woken instead.
const (
	pollInterval = time.Millisecond
	maxPoll      = 10 * time.Millisecond
	idleAfter    = time.Second
)

// gather gives committers released by the last fsync the chance to append
// their next records before the next fsync starts, so they share it instead
// of waiting a whole fsync for the one after. It yields while appends keep
// arriving, until as many records are pending as were released (or
// gatherYields yields): no timer, so a lone committer pays one yield.
func (l *Log) gather(released int) {
	last := -1
	for i := 0; i < gatherYields; i++ {
		l.mu.Lock()
		n, stop := l.pending, l.closed || l.err != nil
		l.mu.Unlock()
		if stop || n >= released || n == last {
			return
		}
		last = n
		l.opts.yield()
	}
}

// gatherYields bounds the yields of one gather.
const gatherYields = 64

// round takes what was appended, writes it, and fsyncs if due. It reports
// how many records an fsync released, whether it wrote anything, and
// whether the log is closed and drained.
func (l *Log) round() (int, bool, bool) {
	l.mu.Lock()
	buf, cuts, g, n, force, closed, poisoned := l.buf, l.cuts, l.grp, l.pending, l.force, l.closed, l.err
	l.buf, l.cuts, l.pending, l.force = blockBuf{}, nil, 0, false
	if buf.n > 0 || force {
		l.grp = newGroup()
	} else {
		g = nil
	}
	l.mu.Unlock()

	if poisoned != nil {
		l.release(g, poisoned)
		l.releaseUnsynced(poisoned)
		failCuts(cuts, poisoned)
		return 0, buf.n > 0, closed
	}
	if g != nil {
		l.unsynced = append(l.unsynced, g)
		l.nUnsynced += n
	}
	err := l.write(&buf, cuts)
	if len(buf.blocks) > 0 {
		l.topUp(buf.blocks)
	}
	due := force || closed
	switch l.opts.Mode {
	case Strict:
		due = due || buf.n > 0
	case Batched:
		due = due || l.nUnsynced >= l.opts.MaxPending || (l.nUnsynced > 0 && time.Since(l.lastSync) >= l.opts.Interval)
	case Async:
		due = due || (l.nUnsynced > 0 && time.Since(l.lastSync) >= l.opts.Interval)
	}
	if err == nil && due && len(l.unsynced) > 0 && l.dirty {
		// Not dirty: the last fsync (a roll's, say) already covered every
		// write, and an fsync of a clean file still costs a device flush.
		err = l.sync()
	}
	if err != nil {
		l.mu.Lock()
		if l.err == nil {
			l.err = err
		}
		l.mu.Unlock()
		l.releaseUnsynced(err)
		return 0, buf.n > 0, closed
	}
	released := 0
	if due {
		released = l.nUnsynced
		l.releaseUnsynced(nil)
	}
	return released, buf.n > 0, closed
}

func (l *Log) release(g *Group, err error) {
	if g != nil {
		g.err = err
		close(g.done)
	}
}

func (l *Log) releaseUnsynced(err error) {
	for _, g := range l.unsynced {
		l.release(g, err)
	}
	l.unsynced, l.nUnsynced = l.unsynced[:0], 0
}

func failCuts(cuts []*Cut, err error) {
	for _, c := range cuts {
		c.err = err
		close(c.done)
	}
}

// write writes buf to the segment, starting a new segment at each cut and
// when the segment is full. A segment is fsynced before anything is
// written to the next, so a segment followed by one holding records is
// complete.
func (l *Log) write(buf *blockBuf, cuts []*Cut) error {
	start := 0
	for i, c := range cuts {
		err := l.writeRange(buf, start, c.off)
		if err == nil {
			err = l.roll()
		}
		if err != nil {
			failCuts(cuts[i:], err)
			return err
		}
		c.seg = l.seg
		close(c.done)
		start = c.off
	}
	if err := l.writeRange(buf, start, buf.n); err != nil {
		return err
	}
	if l.size >= l.opts.SegmentSize {
		return l.roll()
	}
	return nil
}

// topUp gives a written round's blocks back for reuse and makes new ones,
// outside the lock, until the free list could take a backlog twice the
// round's size: appenders then fill blocks instead of allocating them
// while they hold the lock (a large allocation can be made to help the
// garbage collector first).
func (l *Log) topUp(written [][]byte) {
	l.mu.Lock()
	giveBlocks(&l.free, written)
	missing := topUpTarget(len(written)) - len(l.free)
	l.mu.Unlock()
	if missing <= 0 {
		return
	}
	fresh := make([][]byte, missing)
	for i := range fresh {
		blk := make([]byte, blockSize)
		for p := 0; p < len(blk); p += 4096 {
			blk[p] = 0 // fault the pages in here, not in an appender
		}
		fresh[i] = blk[:0]
	}
	l.mu.Lock()
	// Under the blocks already there: appenders take from the top, and
	// blocks written recently are more likely still in cache.
	fresh = append(fresh, l.free...)
	l.free = l.free[:0]
	giveBlocks(&l.free, fresh)
	l.mu.Unlock()
}

// writeRange writes bytes [from, to) of buf, a block at a time.
func (l *Log) writeRange(buf *blockBuf, from, to int) error {
	off := 0
	for _, blk := range buf.blocks {
		lo, hi := max(from-off, 0), min(to-off, len(blk))
		if lo < hi {
			if err := l.writeOut(blk[lo:hi]); err != nil {
				return err
			}
		}
		off += len(blk)
		if off >= to {
			break
		}
	}
	return nil
}

func (l *Log) writeOut(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if l.reserve {
		l.reserve = false
		// Without the reservation space is allocated as written: slower
		// fsyncs, nothing lost, so a failure here fails nothing.
		if alloc := min(l.opts.SegmentSize, maxPreallocate); alloc > l.size && l.f.Preallocate(alloc) == nil {
			l.alloc = alloc
		}
	}
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("wal: write %s: %w", SegmentName(l.seg), err)
	}
	l.size += int64(len(b))
	l.dirty = true
	if l.next == nil {
		// The first segment got its first records (later ones have their
		// successor prepared as they are rolled to).
		l.next = l.prepare(l.seg+1, nil, -1)
	}
	l.bytes.Add(int64(len(b)))
	return nil
}

// sync fsyncs the segment.
func (l *Log) sync() error {
	err := l.f.Sync()
	l.fsyncs.Add(1)
	l.lastSync = time.Now()
	if err != nil {
		return fmt.Errorf("wal: sync %s: %w", SegmentName(l.seg), err)
	}
	l.dirty = false
	return nil
}

// roll fsyncs the current segment and switches to the next, prepared
// ahead; only if preparing it failed is it made here, and an error then
// poisons the log as any write error does. The old segment is closed, and
// the one after the next prepared, off the syncer.
func (l *Log) roll() error {
	if l.dirty {
		if err := l.sync(); err != nil {
			return err
		}
	}
	// Groups are not released here: the round's group may also hold records
	// after the cut, which are not written yet. The round releases them
	// after its own fsync of the new segment (if it wrote to it).
	var f vfs.File
	var alloc int64
	err := errNotPrepared
	if p := l.next; p != nil {
		<-p.done
		f, alloc, err = p.f, p.alloc, p.err
		l.next = nil
	}
	if err != nil {
		// Not prepared (the segment was never written to), or preparing
		// failed, perhaps on a disk that is well again: make it here.
		// Only this error fails the log.
		if f, alloc, err = l.makeSegment(l.seg + 1); err != nil {
			return err
		}
	}
	old, trimTo := l.f, int64(-1)
	if l.alloc > l.size {
		trimTo = l.size
	}
	l.f, l.seg, l.size, l.alloc = f, l.seg+1, headerBytes, alloc
	l.segNo.Store(l.seg)
	l.next = l.prepare(l.seg+1, old, trimTo)
	return nil
}
