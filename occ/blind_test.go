package occ

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// serial is a Serial guard that logs the versions it admits, in the order
// it admits them, and refuses once ended.
type serial struct {
	mu    sync.Mutex
	ended atomic.Bool
	log   []uint64 // guarded by the admit order: mu, or the oracle's section
}

var errEnded = errors.New("ended")

func (g *serial) Admit(v uint64) error {
	if g.ended.Load() {
		return errEnded
	}
	g.log = append(g.log, v)
	return nil
}

func (g *serial) AdmitLock() *sync.Mutex { return &g.mu }

// outside reports whether o's last blind commit stayed outside the
// section: its record is in its slot, not yet in recent.
func outside(o *Oracle, v uint64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.absorbed < v && o.slots[v%ringSize].rec.Load() == v
}

// A blind write taken outside the section, after a reader's snapshot,
// conflicts with that reader's validation: enter moves it into recent
// before anything is validated.
func TestBlindOutsideConflicts(t *testing.T) {
	o := New(0)
	s := o.Begin()
	v, err := o.CommitBlind(w(7, "x"), nil, &serial{})
	require.NoError(t, err)
	require.True(t, outside(o, v), "the blind commit took the path outside the section")
	o.Done(v)
	_, err = o.Commit(&Txn{Snapshot: s, Reads: []uint64{7}, Writes: []Write{w(9, "y")}}, nil)
	require.ErrorIs(t, err, ErrConflict)
	o.End(s)
}

// A blind write still in flight (taken, not yet visible) when a reader
// begins is above the reader's snapshot, and above the watermark: enter
// must record it, not take it for one every snapshot includes.
func TestBlindInFlightConflicts(t *testing.T) {
	o := New(0)
	v, err := o.CommitBlind(w(7, "x"), nil, nil)
	require.NoError(t, err)
	s := o.Begin()
	require.Less(t, s, v)
	_, err = o.Commit(&Txn{Snapshot: s, Reads: []uint64{7}, Writes: []Write{w(9, "y")}}, nil)
	require.ErrorIs(t, err, ErrConflict)
	o.End(s)
	o.Done(v)
	// Visible before a reader began: its snapshot includes it.
	s = o.Begin()
	v2, err := o.Commit(&Txn{Snapshot: s, Reads: []uint64{7}, Writes: []Write{w(9, "y")}}, nil)
	require.NoError(t, err)
	o.Done(v2)
	o.End(s)
}

// A refused blind write outside the section has taken its version: it is
// published empty, so later versions become visible, and counted as no
// commit; a reader validates past it.
func TestBlindRefusedPublishesEmpty(t *testing.T) {
	o := New(0)
	g := &serial{}
	s := o.Begin()
	g.ended.Store(true)
	_, err := o.CommitBlind(w(7, "x"), nil, g)
	require.ErrorIs(t, err, errEnded)
	require.Equal(t, uint64(1), o.Last(), "the version was taken")
	require.Equal(t, uint64(1), o.Visible(), "and published")
	g.ended.Store(false)
	v, err := o.CommitBlind(w(8, "y"), nil, g)
	require.NoError(t, err)
	o.Done(v)
	require.Equal(t, uint64(2), o.Visible())
	require.Equal(t, []uint64{2}, g.log)
	v, err = o.Commit(&Txn{Snapshot: s, Reads: []uint64{0, 7}, Writes: []Write{w(9, "z")}}, nil)
	require.NoError(t, err, "the refused write wrote nothing")
	o.Done(v)
	o.End(s)
	require.Equal(t, uint64(2), o.Stats().Commits)
}

// Writers sharing a Serial guard, some blind outside the section and some
// validated inside it, are admitted in version order: the guard's log (a
// run's step log) stays sorted.
func TestSerialGuardAdmitsInOrder(t *testing.T) {
	o := New(0)
	g := &serial{}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 2000 {
				var v uint64
				var err error
				if (i+j)%5 == 0 {
					// Reads nothing any writer writes: it validates, and is
					// admitted inside the section.
					v, err = o.Commit(&Txn{Reads: []uint64{1 << 40}, Writes: []Write{w(1, "a"), w(2, "b")}}, g)
				} else {
					v, err = o.CommitBlind(w(uint64(j), "k"), nil, g)
				}
				if err == nil {
					o.Done(v)
				} else if !errors.Is(err, ErrConflict) {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	require.True(t, slices.IsSorted(g.log), "admitted out of version order")
	require.Len(t, g.log, 4*2000)
	require.Equal(t, uint64(len(g.log)), o.Stats().Commits)
}

// A guard's state changed inside Exclusive (a run fenced, as Runs.Delete
// does) orders exactly with the blind commits outside the section: every
// version admitted is at or below the fence, every one after it refused.
func TestExclusiveFencesBlindCommits(t *testing.T) {
	for range 20 {
		o := New(0)
		g := &serial{}
		var wg sync.WaitGroup
		var stop atomic.Bool
		var mu sync.Mutex
		var admitted []uint64
		refused := 0
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; !stop.Load(); i++ {
					v, err := o.CommitBlind(w(uint64(i), "k"), nil, g)
					mu.Lock()
					if err == nil {
						o.Done(v)
						admitted = append(admitted, v)
					} else if errors.Is(err, errEnded) {
						refused++
					} else {
						t.Error(err)
					}
					mu.Unlock()
				}
			}()
		}
		for o.Last() < 200 {
			runtime.Gosched()
		}
		var fence uint64
		o.Exclusive(func(last uint64) {
			g.ended.Store(true)
			fence = last
		})
		for o.Last() < fence+100 {
			runtime.Gosched()
		}
		stop.Store(true)
		wg.Wait()
		require.NotZero(t, refused)
		for _, v := range admitted {
			require.LessOrEqual(t, v, fence, "admitted after the fence")
		}
		require.Equal(t, fence, uint64(len(admitted)), "every version up to the fence admitted")
		o.WaitVisible(o.Last()) // refused versions are published too
	}
}

// Blind writers outside the section and validating readers at once: a
// reader commits exactly when no write versioned between its snapshot and
// its own version hits a read, and a conflict always has such a write.
func TestBlindAndValidatorsMatchModel(t *testing.T) {
	o := New(0)
	type commit struct{ v, fp uint64 }
	var mu sync.Mutex
	var history []commit
	type check struct {
		snap, v uint64 // v 0: conflict
		reads   []uint64
	}
	var checks []check
	const keys = 64
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 1))
			g := &serial{}
			for range 20000 {
				fp := r.Uint64N(keys)
				v, err := o.CommitBlind(w(fp, "k"), nil, g)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				history = append(history, commit{v, fp})
				mu.Unlock()
				o.Done(v)
			}
		}()
	}
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 2))
			for range 3000 {
				s := o.Begin()
				for range r.IntN(3) {
					runtime.Gosched() // let blind writers commit after the snapshot
				}
				reads := []uint64{r.Uint64N(keys) + keys*uint64(r.IntN(2))} // half never written
				fp := keys*2 + r.Uint64N(keys)
				v, err := o.Commit(&Txn{Snapshot: s, Reads: slices.Clone(reads), Writes: []Write{w(fp, "t")}}, nil)
				if errors.Is(err, ErrConflict) {
					v = 0
				} else if err != nil {
					t.Error(err)
					return
				} else {
					mu.Lock()
					history = append(history, commit{v, fp})
					mu.Unlock()
					o.Done(v)
				}
				o.End(s)
				mu.Lock()
				checks = append(checks, check{snap: s, v: v, reads: reads})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	conflicts := 0
	for _, c := range checks {
		hit := func(upto uint64) bool {
			for _, h := range history {
				if h.v > c.snap && h.v < upto && slices.Contains(c.reads, h.fp) {
					return true
				}
			}
			return false
		}
		if c.v == 0 {
			conflicts++
			require.True(t, hit(^uint64(0)), "a conflict with no write to blame: %+v", c)
		} else {
			require.False(t, hit(c.v), "a missed conflict: %+v", c)
		}
	}
	require.NotZero(t, conflicts)
	require.Less(t, conflicts, len(checks))
}

// Trim lets go of what the slots of blind commits hold: a retired
// generation is not kept until the ring comes round.
func TestTrimClearsSlots(t *testing.T) {
	o := New(0)
	keep := new(int)
	for range 10 {
		v, err := o.CommitBlind(w(1, "k"), keep, nil)
		require.NoError(t, err)
		o.Done(v)
	}
	require.Equal(t, any(keep), o.slots[10%ringSize].keep)
	o.Trim()
	for i := range o.slots {
		require.Nil(t, o.slots[i].keep, "slot %d", i)
		require.Nil(t, o.slots[i].key, "slot %d", i)
	}
}

// Committers publishing at once never strand a version: whichever of two
// racing advances loses its swap looks again, so every WaitVisible
// returns (a lost advance hangs this test).
func TestPublishRacesNeverStrand(t *testing.T) {
	o := New(0)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 3))
			for range 20000 {
				v, err := o.CommitBlind(w(1, "k"), nil, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if r.IntN(8) == 0 {
					runtime.Gosched()
				}
				o.Done(v)
				o.WaitVisible(v)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, uint64(4*20000), o.Visible())
}

// Stats counts the commits taken outside the section, refused ones not.
func TestStatsCountOutside(t *testing.T) {
	o := New(0)
	g := &serial{}
	for range 5 {
		v, err := o.CommitBlind(w(1, "k"), nil, g)
		require.NoError(t, err)
		o.Done(v)
	}
	g.ended.Store(true)
	_, err := o.CommitBlind(w(1, "k"), nil, g)
	require.Error(t, err)
	v, err := o.CommitBlind(w(1, "k"), nil, &refuse{calls: -1}) // not Serial: in the section
	require.Error(t, err)
	require.Zero(t, v)
	v, err = o.Commit(&Txn{Writes: []Write{w(2, "x")}}, nil)
	require.NoError(t, err)
	o.Done(v)
	st := o.Stats()
	require.Equal(t, uint64(5), st.Outside)
	require.Equal(t, uint64(6), st.Commits)
}
