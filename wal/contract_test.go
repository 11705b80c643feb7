package wal

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/stretchr/testify/require"
)

// TestCreateRefusesBadOptions: a mode without the settings it runs on is
// refused, not started with a ticker of zero.
func TestCreateRefusesBadOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"batched without interval":    {Mode: Batched, MaxPending: 10},
		"batched without max pending": {Mode: Batched, Interval: time.Millisecond},
		"async without interval":      {Mode: Async},
		"unknown mode":                {Mode: Async + 7, Interval: time.Millisecond},
	} {
		m := vfs.NewMemFS(1)
		require.NoError(t, m.MkdirAll(memDir))
		o.FS, o.Dir = m, memDir
		_, err := Create(o, 1)
		require.Error(t, err, name)
	}
	m := vfs.NewMemFS(1)
	require.NoError(t, m.MkdirAll(memDir))
	l, err := Create(Options{FS: m, Dir: memDir, Mode: Batched, Interval: time.Nanosecond, MaxPending: 1}, 1)
	require.NoError(t, err, "the smallest settings that make sense")
	require.NoError(t, l.Close())
}

// quietLog is a log whose syncer only runs when woken (a long interval),
// on a MemFS.
func quietLog(t *testing.T, mode Mode) (*Log, *vfs.MemFS) {
	t.Helper()
	m := vfs.NewMemFS(1)
	require.NoError(t, m.MkdirAll(memDir))
	l, err := Create(Options{FS: m, Dir: memDir, Mode: mode, Interval: time.Hour, MaxPending: 10}, 1)
	require.NoError(t, err)
	return l, m
}

// TestAppendWakeDecisions: AppendNoWake says when the syncer must be
// woken: Strict on every record; Batched when MaxPending records or
// wakeBytes wait; all modes for the first record an idle syncer gets. With
// only AppendNoWake, nothing wakes the syncer, so the counts are exact.
func TestAppendWakeDecisions(t *testing.T) {
	wakes := func(l *Log, sizes ...int) []bool {
		var out []bool
		for _, n := range sizes {
			_, wake, err := l.AppendNoWake(TypeUser, make([]byte, n))
			require.NoError(t, err)
			out = append(out, wake)
		}
		return out
	}
	idle := func(l *Log) {
		for !l.idle.Load() {
			time.Sleep(time.Millisecond)
		}
	}

	l, _ := quietLog(t, Batched)
	idle(l)
	got := wakes(l, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8)
	require.Equal(t, []bool{true, false, false, false, false, false, false, false, false, true, true}, got,
		"the first record to an idle syncer, then the MaxPending-th and on")
	require.NoError(t, l.Close())

	l, _ = quietLog(t, Async)
	idle(l)
	// The fourth record, of one byte, brings the pending bytes to exactly
	// wakeBytes.
	got = wakes(l, 8, 8, wakeBytes-2*(HeaderSize+8)-HeaderSize-(HeaderSize+1), 1, 1)
	require.Equal(t, []bool{true, false, false, true, true}, got, "the first record, then from wakeBytes pending on")
	require.NoError(t, l.Close())

	l, _ = quietLog(t, Strict)
	idle(l)
	require.Equal(t, []bool{true, true, true}, wakes(l, 1, 1, 1))
	require.NoError(t, l.Close())
}

// TestStatsAppended counts every record's framed size at Append.
func TestStatsAppended(t *testing.T) {
	l, _ := quietLog(t, Batched)
	want := int64(0)
	for i := range 5 {
		_, err := l.Append(TypeUser, make([]byte, 10*i))
		require.NoError(t, err)
		want += int64(HeaderSize + 10*i)
	}
	require.Equal(t, want, l.Stats().Appended)
	require.NoError(t, l.Close())
}

// TestSyncMakesDurable: Sync returns once what was appended before it is
// on disk, however far the interval; on a closed log it fails.
func TestSyncMakesDurable(t *testing.T) {
	l, m := quietLog(t, Batched)
	for i := range 3 {
		_, err := l.Append(TypeUser, payload(i))
		require.NoError(t, err)
	}
	require.NoError(t, l.Sync())
	got, _, err := memReplay(t, m.CrashClone())
	require.NoError(t, err)
	require.Equal(t, [][]byte{payload(0), payload(1), payload(2)}, got)
	_ = l.Close() // the crash clone took the disk: only the goroutines matter

	l, _ = quietLog(t, Batched)
	require.NoError(t, l.Close())
	require.ErrorIs(t, l.Sync(), ErrClosed)
}

// TestCloseReportsWhatFailed: Close returns the error of the fsync that
// failed while it drained the log, and that of the trim of the segment's
// unused reservation.
func TestCloseReportsWhatFailed(t *testing.T) {
	l, m := quietLog(t, Batched)
	// Not woken, the syncer cannot write and fsync the record before the
	// fault is armed: Close does both.
	_, _, err := l.AppendNoWake(TypeUser, payload(1))
	require.NoError(t, err)
	m.FailAfter(2, nil) // the write goes through, its fsync fails
	err = l.Close()
	require.ErrorIs(t, err, vfs.ErrInjected)
	require.ErrorContains(t, err, "sync", "the failed fsync, not what failed after it")

	l, m = quietLog(t, Batched)
	m.FailAfter(1, nil) // nothing to write: the trim is the first operation
	err = l.Close()
	require.ErrorIs(t, err, vfs.ErrInjected)
	require.ErrorContains(t, err, "trim")
}

// TestBatchedSyncerPollsAfterWriting: after a round that wrote, a Batched
// syncer polls (for idleAfter) instead of waiting to be woken, so the
// appends that follow need not wake it; and the blocks it wrote are kept
// for the next appends, with room for twice the backlog.
func TestBatchedSyncerPollsAfterWriting(t *testing.T) {
	l, _ := quietLog(t, Batched)
	defer l.Close()
	_, err := l.Append(TypeUser, payload(1))
	require.NoError(t, err)
	require.NoError(t, l.Sync())
	time.Sleep(20 * time.Millisecond) // several polls, far below idleAfter
	l.mu.Lock()
	free := len(l.free)
	l.mu.Unlock()
	require.GreaterOrEqual(t, free, topUpTarget(1), "the written block and one more are ready")
	_, wake, err := l.AppendNoWake(TypeUser, payload(2))
	require.NoError(t, err)
	require.False(t, wake, "the syncer is polling: no need to wake it")
}

// TestBatchedIntervalLongerThanIdle: a lone Batched record is made durable
// at the interval's tick even when the interval is longer than the
// syncer's polling lasts (idleAfter) and nothing wakes it.
func TestBatchedIntervalLongerThanIdle(t *testing.T) {
	m := vfs.NewMemFS(1)
	require.NoError(t, m.MkdirAll(memDir))
	l, err := Create(Options{FS: m, Dir: memDir, Mode: Batched, Interval: idleAfter + 200*time.Millisecond, MaxPending: 100}, 1)
	require.NoError(t, err)
	defer l.Close()
	g, err := l.Append(TypeUser, payload(1))
	require.NoError(t, err)
	requireDurableSoon(t, g, "the record")
}

// TestBatchedFsyncsAtMaxPending: the MaxPending-th unsynced record makes
// the fsync due, however far the interval.
func TestBatchedFsyncsAtMaxPending(t *testing.T) {
	l, _ := quietLog(t, Batched) // MaxPending 10, interval an hour
	defer l.Close()
	var last *Group
	for i := range 10 {
		g, err := l.Append(TypeUser, payload(i))
		require.NoError(t, err)
		last = g
	}
	requireDurableSoon(t, last, "the tenth record")
}

// TestAsyncFsyncsAtTheInterval: an Async log makes a lone record durable
// once its interval has passed.
func TestAsyncFsyncsAtTheInterval(t *testing.T) {
	m := vfs.NewMemFS(1)
	require.NoError(t, m.MkdirAll(memDir))
	l, err := Create(Options{FS: m, Dir: memDir, Mode: Async, Interval: 20 * time.Millisecond}, 1)
	require.NoError(t, err)
	defer l.Close()
	g, err := l.Append(TypeUser, payload(1))
	require.NoError(t, err)
	requireDurableSoon(t, g, "a lone Async record")
}

// requireDurableSoon waits for g, failing after a minute: a generous
// bound, only to end a test whose record would never be made durable.
func requireDurableSoon(t *testing.T, g *Group, what string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(time.Minute):
		t.Fatalf("%s was never made durable", what)
	}
}

// TestSyncerIdlesAfterAnEmptyRound: a round that wrote nothing (a Sync
// with nothing pending) leaves a Batched syncer waiting to be woken, not
// polling for idleAfter.
func TestSyncerIdlesAfterAnEmptyRound(t *testing.T) {
	l, _ := quietLog(t, Batched)
	defer l.Close()
	require.NoError(t, l.Sync())
	deadline := time.Now().Add(idleAfter / 2)
	for !l.idle.Load() {
		require.True(t, time.Now().Before(deadline), "the syncer polls after a round that wrote nothing")
		time.Sleep(time.Millisecond)
	}
}

// TestTopUpAllocatesOnlyWhatIsMissing: the syncer makes new blocks only
// when the free list is short of twice the round's blocks.
func TestTopUpAllocatesOnlyWhatIsMissing(t *testing.T) {
	block := func() []byte { return make([]byte, 0, blockSize) }
	l := &Log{}
	l.free = [][]byte{block()}
	l.topUp([][]byte{block()})
	require.Len(t, l.free, topUpTarget(1), "exactly enough already")
	l.free = [][]byte{block()}
	l.topUp([][]byte{block(), block()})
	require.Len(t, l.free, topUpTarget(2), "one short: one made")
	for range 3 {
		l.free = append(l.free, block())
	}
	l.topUp(nil)
	require.Len(t, l.free, topUpTarget(2)+3, "more than enough: none made, none dropped")
}

// TestRollAtExactlySegmentSize: a segment that reaches SegmentSize exactly
// is rolled; the next record starts the next segment.
func TestRollAtExactlySegmentSize(t *testing.T) {
	m := vfs.NewMemFS(1)
	require.NoError(t, m.MkdirAll(memDir))
	rec := HeaderSize + len(payload(0))
	l, err := Create(memOpts(m, int64(len(segmentHeader(1))+3*rec)), 1)
	require.NoError(t, err)
	for i := range 4 {
		commit(t, l, i)
	}
	require.NoError(t, l.Close())
	sr, err := ScanSegment(m, memDir, 1, func(int64, byte, []byte) error { return nil })
	require.NoError(t, err)
	require.Equal(t, 3, sr.Records)
	sr, err = ScanSegment(m, memDir, 2, func(int64, byte, []byte) error { return nil })
	require.NoError(t, err)
	require.Equal(t, 1, sr.Records)
}

// TestDecodeRecordLengthLimit: a header claiming exactly MaxRecord bytes
// is a frame the file ends inside of (torn at the tail); one claiming more
// is corruption.
func TestDecodeRecordLengthLimit(t *testing.T) {
	h := AppendRecord(nil, TypeUser, nil)
	binary.LittleEndian.PutUint32(h, MaxRecord)
	_, _, _, err := DecodeRecord(h)
	require.ErrorIs(t, err, errTorn)
	binary.LittleEndian.PutUint32(h, MaxRecord+1)
	_, _, _, err = DecodeRecord(h)
	require.ErrorIs(t, err, ErrCorruption)
}

// TestValidFrameAfter: what counts as a valid frame after damage: any
// complete record of a type the log writes, its own segment header and an
// empty record included, to the very last byte; not a frame of another
// type, even with a good checksum.
func TestValidFrameAfter(t *testing.T) {
	junk := []byte{1, 2, 3}
	for _, b := range [][]byte{
		AppendRecord(nil, TypeUser, nil),
		append(bytes.Clone(junk), AppendRecord(nil, TypeUser+maxTypes-1, []byte("x"))...),
		append(bytes.Clone(junk), segmentHeader(3)...),
	} {
		require.True(t, validFrameAfter(b), "%x", b)
	}
	for _, b := range [][]byte{
		junk,
		AppendRecord(nil, TypeUser+maxTypes, []byte("x")),
		AppendRecord(nil, TypeUser, []byte("x"))[:HeaderSize],
	} {
		require.False(t, validFrameAfter(b), "%x", b)
	}
}
