package wal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/stretchr/testify/require"
)

const memDir = "/wal"

// waitPrepared waits until the segment prepared ahead is ready, or failed.
// Call it where no roll can be running.
func waitPrepared(l *Log) {
	if p := l.next; p != nil {
		<-p.done
	}
}

func memOpts(fs vfs.FS, segSize int64) Options {
	return Options{FS: fs, Dir: memDir, Mode: Strict, SegmentSize: segSize}
}

func memFile(t *testing.T, m *vfs.MemFS, n uint64) []byte {
	t.Helper()
	f, err := m.Open(segmentPath(memDir, n))
	require.NoError(t, err)
	defer f.Close()
	b, err := io.ReadAll(f)
	require.NoError(t, err)
	return b
}

func commit(t *testing.T, l *Log, i int) {
	t.Helper()
	g, err := l.Append(TypeUser, payload(i))
	require.NoError(t, err)
	require.NoError(t, g.Wait())
}

func memReplay(t *testing.T, m vfs.FS) ([][]byte, RecoverResult, error) {
	t.Helper()
	var got [][]byte
	res, err := Recover(m, memDir, 1, nil, func(_ byte, p []byte) error {
		got = append(got, bytes.Clone(p))
		return nil
	})
	return got, res, err
}

// gateFS holds every Create while closed is set, until it is cleared.
type gateFS struct {
	vfs.FS
	mu     sync.Mutex
	cond   *sync.Cond
	closed bool
	waits  int // Creates that found the gate closed
}

func newGateFS(fs vfs.FS) *gateFS {
	g := &gateFS{FS: fs}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *gateFS) set(closed bool) {
	g.mu.Lock()
	g.closed = closed
	g.mu.Unlock()
	g.cond.Broadcast()
}

func (g *gateFS) Create(name string) (vfs.File, error) {
	g.mu.Lock()
	if g.closed {
		g.waits++
	}
	for g.closed {
		g.cond.Wait()
	}
	g.mu.Unlock()
	return g.FS.Create(name)
}

// TestPrepareAhead: Create makes the first segment with its space
// reserved; its first records start the next one in the background,
// header only, its size the header's. A roll switches to it without
// creating a file (commits that roll go through while creating is held
// up), gives back the old segment's unused reservation, and prepares the
// one after; Close removes the unused one.
func TestPrepareAhead(t *testing.T) {
	m := vfs.NewMemFS(1)
	gate := newGateFS(m)
	const segSize = 400
	l, err := Create(memOpts(gate, segSize), 1)
	require.NoError(t, err)
	waitPrepared(l)
	segs, err := Segments(m, memDir)
	require.NoError(t, err)
	require.Equal(t, []uint64{1}, segs, "nothing written, nothing prepared")
	commit(t, l, 0)
	waitPrepared(l)
	require.Equal(t, segmentHeader(2), memFile(t, m, 2), "prepared: the header only")
	for _, n := range []uint64{1, 2} {
		a, err := m.Allocated(segmentPath(memDir, n))
		require.NoError(t, err)
		require.Equal(t, int64(segSize), a, "segment %d has its space reserved", n)
	}

	gate.set(true) // from here no file can be created
	i := 1
	for l.Stats().Segment == 1 {
		commit(t, l, i)
		i++
	}
	require.Equal(t, uint64(2), l.Stats().Segment, "rolled to the prepared segment while creating was held up")
	gate.mu.Lock()
	waiting := gate.waits
	gate.mu.Unlock()
	require.LessOrEqual(t, waiting, 1, "only the preparation of segment 3 may wait")
	gate.set(false)
	waitPrepared(l)
	require.Equal(t, segmentHeader(3), memFile(t, m, 3))

	// A cut leaves segment 2 part full: its unused space is given back.
	commit(t, l, i)
	i++
	c, err := l.Rotate()
	require.NoError(t, err)
	seg, err := c.Wait()
	require.NoError(t, err)
	require.Equal(t, uint64(3), seg)
	waitPrepared(l)
	a, err := m.Allocated(segmentPath(memDir, 2))
	require.NoError(t, err)
	require.Equal(t, int64(len(memFile(t, m, 2))), a, "the rolled segment keeps no reservation past its end")
	commit(t, l, i)
	i++
	require.NoError(t, l.Close())

	segs, err = Segments(m, memDir)
	require.NoError(t, err)
	require.Equal(t, []uint64{1, 2, 3}, segs, "the unused segment 4 is removed")
	a, err = m.Allocated(segmentPath(memDir, 3))
	require.NoError(t, err)
	require.Equal(t, int64(len(memFile(t, m, 3))), a, "Close gives back the reservation")
	got, res, err := memReplay(t, m)
	require.NoError(t, err)
	require.Len(t, got, i)
	require.Equal(t, RecoverResult{Segments: 3, Records: i, Bytes: res.Bytes, Last: 3, LastWithRecords: 3, Next: 4}, res)
}

// TestCloseLeavesNoGoroutine: each prepared segment's goroutine ends with
// it, and Close waits for the last one.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	for round := 0; round < 3; round++ {
		m := vfs.NewMemFS(int64(round))
		l, err := Create(memOpts(m, 200), 1)
		require.NoError(t, err)
		for i := 0; i < 40; i++ {
			commit(t, l, i)
		}
		require.Greater(t, l.Stats().Segment, uint64(3))
		require.NoError(t, l.Close())
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), before)
}

// faultFS fails the at-th operation on the file named target (counting
// its Create, Write, Preallocate and Sync, and SyncDir calls while it is
// open), and every later one, while armed.
type faultFS struct {
	vfs.FS
	target string
	mu     sync.Mutex
	at, n  int // armed while at > 0; n counts the target's operations
	open   bool
}

func (f *faultFS) arm(at int) {
	f.mu.Lock()
	f.at, f.n = at, 0
	f.mu.Unlock()
}

func (f *faultFS) step(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name != f.target || f.at == 0 {
		return nil
	}
	if f.n++; f.n >= f.at {
		return vfs.ErrInjected
	}
	return nil
}

func (f *faultFS) Create(name string) (vfs.File, error) {
	if err := f.step(name); err != nil {
		return nil, err
	}
	file, err := f.FS.Create(name)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.open = name == f.target || f.open
	f.mu.Unlock()
	return &faultFile{File: file, fs: f, name: name}, nil
}

func (f *faultFS) SyncDir(dir string) error {
	f.mu.Lock()
	open := f.open
	f.mu.Unlock()
	if open {
		if err := f.step(f.target); err != nil {
			return err
		}
	}
	return f.FS.SyncDir(dir)
}

type faultFile struct {
	vfs.File
	fs   *faultFS
	name string
}

func (f *faultFile) Write(p []byte) (int, error) {
	if err := f.fs.step(f.name); err != nil {
		return 0, err
	}
	return f.File.Write(p)
}

func (f *faultFile) Preallocate(n int64) error {
	if err := f.fs.step(f.name); err != nil {
		return err
	}
	return f.File.Preallocate(n)
}

func (f *faultFile) Sync() error {
	if err := f.fs.step(f.name); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) Close() error {
	f.fs.mu.Lock()
	if f.name == f.fs.target {
		f.fs.open = false
	}
	f.fs.mu.Unlock()
	return f.File.Close()
}

// createOps is how many operations making a segment takes: create, header
// write, preallocate, fsync, directory fsync.
const createOps = 5

// TestPrepareFailure fails the preparation of segment 2 at each of its
// operations in turn. That alone fails nothing: commits go on, and Close
// removes what was half made. When the roll needs the segment it makes it
// itself: with the disk well again that works, and with it failing the
// roll's error poisons the log, as a roll without preparation would.
func TestPrepareFailure(t *testing.T) {
	for at := 1; at <= createOps; at++ {
		for _, rollFails := range []bool{false, true} {
			t.Run(fmt.Sprintf("op%d/rollFails=%v", at, rollFails), func(t *testing.T) {
				m := vfs.NewMemFS(int64(at))
				ffs := &faultFS{FS: m, target: segmentPath(memDir, 2)}
				ffs.arm(at)
				l, err := Create(memOpts(ffs, 200), 1)
				require.NoError(t, err)
				commit(t, l, 0) // starts preparing segment 2
				waitPrepared(l)
				require.ErrorIs(t, l.next.err, vfs.ErrInjected)
				require.NoError(t, l.Err(), "a failed preparation poisons nothing by itself")
				commit(t, l, 1)

				if !rollFails {
					ffs.arm(0)
					i := 2
					for l.Stats().Segment == 1 {
						commit(t, l, i)
						i++
					}
					require.NoError(t, l.Err())
					commit(t, l, i)
					require.NoError(t, l.Close())
					got, res, err := memReplay(t, m)
					require.NoError(t, err)
					require.Len(t, got, i+1)
					require.Equal(t, uint64(2), res.LastWithRecords)
					return
				}
				// The record that fills the segment rolls it, and the
				// roll's own attempt at segment 2 fails.
				ffs.arm(1)
				g, err := l.Append(TypeUser, bytes.Repeat([]byte("x"), 200))
				require.NoError(t, err)
				require.ErrorIs(t, g.Wait(), vfs.ErrInjected)
				require.ErrorIs(t, l.Err(), vfs.ErrInjected)
				_, err = l.Append(TypeUser, nil)
				require.ErrorIs(t, err, vfs.ErrInjected, "poisoned")
				require.ErrorIs(t, l.Close(), vfs.ErrInjected)
				got, _, err := memReplay(t, m)
				require.NoError(t, err, "what the failed roll left is no corruption")
				require.Len(t, got, 3, "the record the roll failed for was written before it")
			})
		}
	}

	// A preparation that failed and was never needed: Close removes what
	// it left.
	m := vfs.NewMemFS(1)
	ffs := &faultFS{FS: m, target: segmentPath(memDir, 2)}
	ffs.arm(2) // the header write
	l, err := Create(memOpts(ffs, 1<<20), 1)
	require.NoError(t, err)
	commit(t, l, 0)
	waitPrepared(l)
	require.Empty(t, memFile(t, m, 2), "created, no header")
	require.NoError(t, l.Close())
	segs, err := Segments(m, memDir)
	require.NoError(t, err)
	require.Equal(t, []uint64{1}, segs)
}

// TestRecoverTrailingEmptySegments: what a crash can leave after the last
// segment holding records, segments prepared ahead in any state short of
// a record, is no corruption. Recover delivers everything; segments holding
// their header are kept (as one a session without commits leaves); Next
// names the first one left unfinished, for the new log to replace, and the
// ones after it go. A torn tail before them is cut. Records after damage
// make it corruption.
func TestRecoverTrailingEmptySegments(t *testing.T) {
	full := func(n uint64) []byte { return segmentHeader(n) }
	torn := func(n uint64) []byte { return segmentHeader(n)[:7] }
	garbage := func(n uint64) []byte { return append(segmentHeader(n), 0x17, 0x00, 0xff) }
	empty := func(uint64) []byte { return nil }
	record := func(n uint64) []byte { return AppendRecord(segmentHeader(n), TypeUser, []byte("late")) }
	unfinished := map[string]func(uint64) []byte{"torn header": torn, "garbage after header": garbage, "empty": empty}

	// base writes segment 1 with 5 records, through the log, and returns
	// the disk after a clean close.
	base := func(t *testing.T) *vfs.MemFS {
		m := vfs.NewMemFS(1)
		l, err := Create(memOpts(m, 1<<20), 1)
		require.NoError(t, err)
		for i := 0; i < 5; i++ {
			commit(t, l, i)
		}
		require.NoError(t, l.Close())
		return m
	}
	put := func(t *testing.T, m *vfs.MemFS, n uint64, b []byte) {
		f, err := m.Create(segmentPath(memDir, n))
		require.NoError(t, err)
		_, err = f.Write(b)
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
	type layout struct {
		name       string
		seg2, seg3 func(uint64) []byte // nil: no such file
		next       uint64
		kept       []uint64
	}
	var layouts []layout
	layouts = append(layouts,
		layout{"2=header", full, nil, 3, []uint64{1, 2}},
		layout{"2=header/3=header", full, full, 4, []uint64{1, 2, 3}})
	for name, u := range unfinished {
		layouts = append(layouts,
			layout{"2=" + name, u, nil, 2, []uint64{1, 2}},
			layout{"2=header/3=" + name, full, u, 3, []uint64{1, 2, 3}},
			layout{"2=" + name + "/3=header", u, full, 2, []uint64{1, 2}},
			layout{"2=" + name + "/3=empty", u, empty, 2, []uint64{1, 2}})
	}
	for _, lo := range layouts {
		for _, tornTail := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/tornTail=%v", lo.name, tornTail), func(t *testing.T) {
				m := base(t)
				if tornTail {
					put(t, m, 1, append(memFile(t, m, 1), 0x11, 0x22, 0x33))
				}
				put(t, m, 2, lo.seg2(2))
				if lo.seg3 != nil {
					put(t, m, 3, lo.seg3(3))
				}
				got, res, err := memReplay(t, m)
				require.NoError(t, err)
				require.Len(t, got, 5)
				require.Equal(t, uint64(1), res.LastWithRecords)
				require.Equal(t, lo.next, res.Next)
				require.Equal(t, lo.next-1, res.Last)
				require.Equal(t, tornTail, res.Torn)
				segs, err := Segments(m, memDir)
				require.NoError(t, err)
				require.Equal(t, lo.kept, segs)

				// The new log starts at Next and carries on.
				l, err := Create(memOpts(m, 1<<20), res.Next)
				require.NoError(t, err)
				commit(t, l, 5)
				require.NoError(t, l.Close())
				got, res, err = memReplay(t, m)
				require.NoError(t, err)
				require.Len(t, got, 6)
				require.Equal(t, payload(5), got[5])
				require.Equal(t, lo.next, res.LastWithRecords)
			})
		}
	}

	// No record anywhere: a log that was never written to, with the
	// segment it prepared ahead left unfinished.
	m := vfs.NewMemFS(1)
	put(t, m, 1, full(1))
	put(t, m, 2, torn(2))
	got, res, err := memReplay(t, m)
	require.NoError(t, err)
	require.Empty(t, got)
	require.Equal(t, RecoverResult{Segments: 2, Bytes: headerBytes, Last: 1, Next: 2}, res)
	// Its first segment unfinished too: replaced, at the number replay
	// started from.
	put(t, m, 1, empty(1))
	_, res, err = memReplay(t, m)
	require.NoError(t, err)
	require.Equal(t, uint64(0), res.Last)
	require.Equal(t, uint64(1), res.Next)

	// Records after the damage: corruption, naming the damaged file and
	// offset.
	for name, u := range unfinished {
		m := base(t)
		put(t, m, 2, u(2))
		put(t, m, 3, record(3))
		_, _, err := memReplay(t, m)
		require.ErrorIs(t, err, ErrCorruption, "2=%s", name)
		require.Contains(t, err.Error(), filepath.Join(memDir, SegmentName(2))+" at offset ", "2=%s", name)
	}
	m = base(t)
	put(t, m, 2, full(2))
	put(t, m, 3, record(3))
	got, _, err = memReplay(t, m)
	require.NoError(t, err, "a header-only segment in the middle is fine")
	require.Len(t, got, 6)
	m = base(t)
	seg1 := memFile(t, m, 1)
	put(t, m, 1, append(seg1, 0x11, 0x22, 0x33))
	put(t, m, 2, full(2))
	put(t, m, 3, record(3))
	_, _, err = memReplay(t, m)
	require.ErrorIs(t, err, ErrCorruption, "a torn tail followed by records is no crash's")
	require.Contains(t, err.Error(), fmt.Sprintf("%s at offset %d", filepath.Join(memDir, SegmentName(1)), len(seg1)))
}

// TestLogPowerLoss crashes a Strict log with small segments at every
// filesystem operation, so crashes fall in commits, rolls and segments
// being prepared, keeping 0-100% of unsynced data with torn sectors;
// replaying the disk must give a prefix of the records holding every
// acknowledged one, and a log started at Next must carry on from there.
func TestLogPowerLoss(t *testing.T) {
	const records = 40
	run := func(m *vfs.MemFS) (acked int, err error) {
		l, err := Create(memOpts(m, 150), 1)
		if err != nil {
			return 0, err
		}
		for i := 0; i < records; i++ {
			g, err := l.Append(TypeUser, payload(i))
			if err == nil {
				err = g.Wait()
			}
			if err != nil {
				l.Close()
				return acked, err
			}
			acked++
			if i%13 == 12 {
				c, err := l.Rotate()
				if err == nil {
					_, err = c.Wait()
				}
				if err != nil {
					l.Close()
					return acked, err
				}
			}
		}
		return acked, l.Close()
	}
	count := vfs.NewMemFS(1)
	require.NoError(t, count.MkdirAll(memDir)) // as the database does before its log
	_, err := run(count)
	require.NoError(t, err)
	total := count.Ops()
	for k := 1; k <= total; k++ {
		rng := rand.New(rand.NewSource(int64(k)))
		m := vfs.NewMemFS(rng.Int63())
		m.TornWrites = true
		m.SetKeepUnsynced([]float64{-1, 0, 1, rng.Float64()}[k%4])
		require.NoError(t, m.MkdirAll(memDir))
		m.CrashAfter(k)
		acked, err := run(m)
		require.True(t, errors.Is(err, vfs.ErrCrashed) || (err == nil && !m.Crashed()), "crash at op %d: %v", k, err)
		disk := m.CrashClone()
		got, res, err := memReplay(t, disk)
		require.NoError(t, err, "crash at op %d", k)
		require.GreaterOrEqual(t, len(got), acked, "crash at op %d: acknowledged records lost", k)
		for i, p := range got {
			require.Equal(t, payload(i), p, "crash at op %d: not a prefix", k)
		}
		l, err := Create(memOpts(disk, 150), res.Next)
		require.NoError(t, err, "crash at op %d", k)
		commit(t, l, len(got))
		require.NoError(t, l.Close())
		again, _, err := memReplay(t, disk)
		require.NoError(t, err, "crash at op %d, after carrying on", k)
		require.Len(t, again, len(got)+1, "crash at op %d", k)
	}
}
