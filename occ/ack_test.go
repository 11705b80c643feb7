package occ

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A commit acknowledged before it is visible (an earlier version still in
// flight) holds back every new reader until it is: Visible, Begin and Stats
// return only once the earlier versions are Done, and then cover it. A
// version close above the visible one is held by its done bit in pub; one
// further up (beyond the window) by acked.
func TestAckedCommitHoldsReaders(t *testing.T) {
	for name, read := range map[string]func(o *Oracle) uint64{
		"Visible": (*Oracle).Visible,
		"Begin":   func(o *Oracle) uint64 { s := o.Begin(); o.End(s); return s },
		"Stats":   func(o *Oracle) uint64 { return o.Stats().Visible },
	} {
		// dist versions in flight below the acknowledged one: it is
		// dist+1 above the visible version.
		for _, dist := range []int{1, window - 1, window, 3 * window} {
			t.Run(fmt.Sprintf("%s/%d", name, dist), func(t *testing.T) {
				o := New(0)
				var vs []uint64
				for i := range dist + 1 {
					v, err := o.CommitBlind(w(uint64(i), "a"), nil, nil)
					require.NoError(t, err)
					vs = append(vs, v)
				}
				last := vs[dist]
				o.Done(last)
				o.Ack(last)
				require.Zero(t, o.visible(), "the versions below are in flight")
				if dist+1 <= window {
					require.Zero(t, o.acked.Load(), "its done bit holds readers")
				} else {
					require.Equal(t, last, o.acked.Load())
				}

				got := make(chan uint64, 1)
				go func() { got <- read(o) }()
				// A reader that returned now would read without the
				// write its writer has been told is committed.
				select {
				case s := <-got:
					t.Fatalf("read at %d while the acknowledged %d was not visible", s, last)
				case <-time.After(20 * time.Millisecond):
				}
				for i := dist - 1; i >= 0; i-- { // the last one Done releases it
					o.Done(vs[i])
				}
				require.Equal(t, last, <-got)
			})
		}
	}
}

// Ack of a version already visible records nothing: a lone writer's
// commits never write acked. Nor does one whose done bit pub holds.
func TestAckOfVisibleRecordsNothing(t *testing.T) {
	o := New(0)
	for range 3 {
		v, err := o.CommitBlind(w(1, "a"), nil, nil)
		require.NoError(t, err)
		o.Done(v)
		o.Ack(v)
	}
	require.Zero(t, o.acked.Load())
	require.Equal(t, uint64(3), o.Visible())

	v4, _ := o.CommitBlind(w(1, "a"), nil, nil)
	v5, _ := o.CommitBlind(w(1, "a"), nil, nil)
	o.Done(v5)
	o.Ack(v5)
	require.Zero(t, o.acked.Load(), "v5's done bit holds readers")
	o.Done(v4)
	require.Equal(t, v5, o.Visible())

	// acked only grows: an older acknowledgement after a newer one
	// leaves it. Both are beyond the window, recorded in acked.
	var vs []uint64
	for range 3 * window {
		v, _ := o.CommitBlind(w(1, "a"), nil, nil)
		vs = append(vs, v)
	}
	hi, lo := vs[len(vs)-1], vs[len(vs)-2]
	o.Done(hi)
	o.Ack(hi)
	o.Done(lo)
	o.Ack(lo)
	require.Equal(t, hi, o.acked.Load())
	for _, v := range vs[:len(vs)-2] {
		o.Done(v)
	}
	require.Equal(t, hi, o.Visible())
}

// Versions published in any order, near the visible one (done bits in
// pub) and far above it (slots alone), by committers that Ack, never make
// a version visible before it is Done and always end all visible: a
// checker reads Visible throughout and finds every version up to it
// marked done first; a stranded version hangs Visible.
func TestPublishAnyOrder(t *testing.T) {
	const rounds, batch, committers = 2000, 64, 4
	o := New(0)
	var done [rounds*batch + 1]atomic.Bool
	stop := make(chan struct{})
	checked := make(chan error, 1)
	go func() {
		var err error
		defer func() { checked <- err }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			vis := o.Visible()
			for v := vis; v > 0 && v+batch > vis; v-- {
				if !done[v].Load() {
					err = fmt.Errorf("version %d visible (%d) before Done", v, vis)
					return
				}
			}
		}
	}()
	r := rand.New(rand.NewPCG(5, 5))
	for range rounds {
		vs := make([]uint64, batch)
		for i := range vs {
			v, err := o.CommitBlind(w(uint64(i), "k"), nil, nil)
			require.NoError(t, err)
			vs[i] = v
		}
		// Mostly close to in order, with some versions held back far.
		r.Shuffle(len(vs), func(i, j int) {
			if r.IntN(4) == 0 || (i-j < 3 && j-i < 3) {
				vs[i], vs[j] = vs[j], vs[i]
			}
		})
		var wg sync.WaitGroup
		for c := range committers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := c; i < len(vs); i += committers {
					done[vs[i]].Store(true)
					o.Done(vs[i])
					o.Ack(vs[i])
				}
			}()
		}
		wg.Wait()
		// Each committer here holds versions it has not published yet,
		// so only now may a reader wait for what was acknowledged.
		last := slices.Max(vs)
		require.Equal(t, last, o.Visible(), "every acknowledged version is read")
	}
	close(stop)
	require.NoError(t, <-checked)
	require.Equal(t, uint64(rounds*batch), o.Visible())
	require.Equal(t, uint64(0), o.pub.Load()&(pubBits|slowFlag), "no bit or flag left once all is visible")
}

// A slow publication that raises slowMax while an advance is about to
// clear slowFlag, and finds the flag still set, leaves it to that advance
// to set the flag again: else the Done calls below it would publish by
// their done bits alone and never look at its slot.
func TestSlowPublicationRacingAClear(t *testing.T) {
	o := New(0)
	const far = 4 * window
	for i := range far {
		_, err := o.CommitBlind(w(uint64(i), "k"), nil, nil)
		require.NoError(t, err)
	}
	o.Done(window + 2) // beyond the window: slowMax and the flag
	for v := uint64(window + 1); v >= 2; v-- {
		o.Done(v)
	}
	raced := false
	clearHook = func(o *Oracle) {
		if raced {
			return
		}
		raced = true
		// The first half of slow(far), between the advance's read of
		// slowMax and its swap: the flag is still set, so it sets nothing.
		o.slots[far%ringSize].done.Store(far)
		o.slowMax.Store(far)
		o.flag(far)
	}
	defer func() { clearHook = nil }()
	o.Done(1) // the advance that clears the flag
	require.True(t, raced)
	o.advance() // slow(far)'s second half
	for v := uint64(window + 3); v < far; v++ {
		o.Done(v)
	}
	require.Equal(t, uint64(far), o.visible(), "the slow version is published")
}

// Ack of a version Done while slowFlag was set, in the window but with no
// done bit, records it in acked: readers wait for it.
func TestAckOfFlaggedVersionRecordsIt(t *testing.T) {
	o := New(0)
	for i := range 2 * window {
		_, err := o.CommitBlind(w(uint64(i), "k"), nil, nil)
		require.NoError(t, err)
	}
	o.Done(2 * window) // beyond the window: sets the flag
	o.Done(2)
	o.Ack(2)
	require.Equal(t, uint64(2), o.acked.Load())
	got := make(chan uint64, 1)
	go func() { got <- o.Visible() }()
	select {
	case s := <-got:
		t.Fatalf("read at %d while the acknowledged 2 was not visible", s)
	case <-time.After(20 * time.Millisecond):
	}
	o.Done(1)
	require.Equal(t, uint64(2), <-got)
}
