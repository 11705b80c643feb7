package occ

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// The oracle's memory stays bounded whatever the traffic: what it keeps of
// past commits (records, and the multi-key commits' writes in the ring)
// and of registered snapshots is trimmed as the watermark moves.

func recentLen(o *Oracle) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.recent)
}

// TestTrimAtTrimAt: with nothing registered, the records grow to trimAt
// and the commit that finds trimAt drops them all (every one is at or
// below the watermark) before adding its own.
func TestTrimAtTrimAt(t *testing.T) {
	o := New(0)
	for i := 1; i <= trimAt; i++ {
		commitNow(t, o, &Txn{Writes: []Write{w(uint64(i), "k")}})
		require.Equal(t, i, recentLen(o))
	}
	commitNow(t, o, &Txn{Writes: []Write{w(1, "k")}})
	require.Equal(t, 1, recentLen(o), "the records at or below the watermark are dropped, the last one included")
}

// TestRingHoldsOnlyMultiKeyWrites: a one-key commit keeps its write in its
// record; only multi-key commits put theirs in the ring, and a trim drops
// them with their records however one- and multi-key commits interleave,
// so the ring's live writes and its buffer stay bounded.
func TestRingHoldsOnlyMultiKeyWrites(t *testing.T) {
	o := New(0)
	for i := range 10 {
		commitNow(t, o, &Txn{Writes: []Write{w(uint64(i), "k")}})
	}
	require.Zero(t, o.ring.tail-o.ring.head, "one-key commits put nothing in the ring")
	ws := []Write{w(1, "a"), w(2, "b"), w(3, "c")}
	for i := range 50 * trimAt {
		if i%3 == 0 {
			commitNow(t, o, &Txn{Writes: ws})
		} else {
			commitNow(t, o, &Txn{Writes: ws[:1]})
		}
		o.mu.Lock()
		live := o.ring.tail - o.ring.head
		o.mu.Unlock()
		require.LessOrEqual(t, live, uint64(len(ws)*trimAt), "commit %d", i)
	}
	require.Equal(t, minRing, len(o.ring.buf), "the ring never needed more than its first buffer")

	// A reader one step behind keeps the records after its snapshot, the
	// oldest of them a one-key commit's: the trim still drops the ring's
	// writes up to the oldest kept multi-key commit.
	var reader uint64
	for i := range 50 * trimAt {
		next := o.Begin()
		if i > 0 {
			o.End(reader)
		}
		reader = next
		// Three commits a step, so trims fall on each of them in turn.
		commitNow(t, o, &Txn{Writes: ws[:1]})
		commitNow(t, o, &Txn{Writes: ws[:1]})
		commitNow(t, o, &Txn{Writes: ws})
		o.mu.Lock()
		live := o.ring.tail - o.ring.head
		o.mu.Unlock()
		require.LessOrEqual(t, live, uint64(len(ws)*trimAt), "commit %d with a reader behind", i)
	}
	o.End(reader)
}

// TestRingGrowsOnlyWhenFull: a buffer is replaced only when the live
// writes would not fit, by the smallest power of two they fit in, and
// writes keep their positions across the growth.
func TestRingGrowsOnlyWhenFull(t *testing.T) {
	var r writeRing
	model := map[uint64]uint64{} // position -> FP
	fp := uint64(0)
	push := func(n int) uint64 {
		ws := make([]Write, n)
		for i := range ws {
			fp++
			ws[i] = w(fp, "k")
		}
		start := r.push(ws)
		for i, x := range ws {
			model[start+uint64(i)] = x.FP
		}
		return start
	}
	require.Zero(t, push(minRing))
	require.Len(t, r.buf, minRing, "exactly full")
	r.dropTo(minRing / 2)
	require.Equal(t, uint64(minRing), push(minRing/2))
	require.Len(t, r.buf, minRing, "what was dropped made room")
	require.Equal(t, uint64(3*minRing/2), push(1))
	require.Len(t, r.buf, 2*minRing, "one more write than fits: the next power of two")
	for p := r.head; p < r.tail; p++ {
		require.Equal(t, model[p], r.at(p).FP, "position %d", p)
	}
}

// TestSameSnapshotRegisteredTwice: two transactions at one snapshot are
// two registrations; ending one leaves the other holding the watermark.
func TestSameSnapshotRegisteredTwice(t *testing.T) {
	o := New(0)
	commitNow(t, o, &Txn{Writes: []Write{w(1, "k")}})
	a, b := o.Begin(), o.Begin()
	require.Equal(t, a, b)
	commitNow(t, o, &Txn{Writes: []Write{w(1, "k")}})
	require.Equal(t, 2, o.Stats().Active)
	o.End(a)
	require.Equal(t, 1, o.Stats().Active)
	require.Equal(t, b, o.Watermark())
	o.End(b)
	require.Zero(t, o.Stats().Active)
	require.Equal(t, o.Visible(), o.Watermark())
}

// TestEndUnregisteredIsNoOp: ending a snapshot nobody holds (or one
// already ended) changes nothing.
func TestEndUnregisteredIsNoOp(t *testing.T) {
	o := New(0)
	a := o.Begin()
	commitNow(t, o, &Txn{Writes: []Write{w(1, "k")}})
	b := o.Begin()
	o.End(b)
	o.End(b)
	o.End(b + 7)
	require.Equal(t, 1, o.Stats().Active)
	require.Equal(t, a, o.Watermark())
	o.End(a)
	require.Zero(t, o.Stats().Active)
}

// TestActiveSetCompacts: a sliding window of transactions (begin one,
// end the oldest, commit) moves the oldest snapshot forward forever; the
// registered set keeps only a bounded tail of ended ones.
func TestActiveSetCompacts(t *testing.T) {
	for _, size := range []int{3, 200} {
		testActiveSetCompacts(t, size)
	}
}

func testActiveSetCompacts(t *testing.T, size int) {
	o := New(0)
	window := []uint64{}
	for range 5000 {
		window = append(window, o.Begin())
		if len(window) > size {
			o.End(window[0])
			window = window[1:]
		}
		commitNow(t, o, &Txn{Writes: []Write{w(1, "k")}})
		o.active.mu.Lock()
		n := len(o.active.items)
		o.active.mu.Unlock()
		require.LessOrEqual(t, n, 2*max(size, 64)+8, "registered snapshots held, %d live", size)
	}
	require.Equal(t, window[0], o.Watermark())
}

// canSpin: polling pays only when the holder can run meanwhile.
func TestCanSpin(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(1)
	require.False(t, canSpin())
	runtime.GOMAXPROCS(2)
	require.True(t, canSpin())
}

// TestTrimNow: Trim drops at once the records every registered snapshot
// includes, and keeps those a registered snapshot still validates against.
func TestTrimNow(t *testing.T) {
	o := New(0)
	for i := range 5 {
		commitNow(t, o, &Txn{Writes: []Write{w(uint64(i), "k")}})
	}
	reader := o.Begin()
	for i := range 3 {
		commitNow(t, o, &Txn{Writes: []Write{w(uint64(i), "k")}})
	}
	require.Equal(t, 8, recentLen(o))
	o.Trim()
	require.Equal(t, 3, recentLen(o), "the records after the reader's snapshot stay")
	o.End(reader)
	o.Trim()
	require.Zero(t, recentLen(o))
}
