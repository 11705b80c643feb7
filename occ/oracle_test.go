package occ

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func w(fp uint64, key string) Write { return Write{FP: fp, Key: []byte(key)} }

func commitNow(t *testing.T, o *Oracle, tx *Txn) uint64 {
	t.Helper()
	v, err := o.Commit(tx, nil)
	require.NoError(t, err)
	o.Done(v)
	return v
}

func TestVersionsAreConsecutive(t *testing.T) {
	o := New(10)
	require.Equal(t, uint64(10), o.Visible())
	for i := uint64(11); i < 20; i++ {
		require.Equal(t, i, commitNow(t, o, &Txn{Writes: []Write{w(i, "k")}}))
		require.Equal(t, i, o.Visible())
	}
}

func TestPointReadConflict(t *testing.T) {
	o := New(0)
	s := o.Begin()
	commitNow(t, o, &Txn{Writes: []Write{w(7, "x")}})
	_, err := o.Commit(&Txn{Snapshot: s, Reads: []uint64{3, 7}, Writes: []Write{w(9, "y")}}, nil)
	require.ErrorIs(t, err, ErrConflict)
	o.End(s)
	require.Equal(t, uint64(1), o.Stats().Conflicts)
}

func TestReadBeforeCommitDoesNotConflict(t *testing.T) {
	o := New(0)
	commitNow(t, o, &Txn{Writes: []Write{w(7, "x")}})
	s := o.Begin() // snapshot includes the write
	_, err := o.Commit(&Txn{Snapshot: s, Reads: []uint64{7}, Writes: []Write{w(9, "y")}}, nil)
	require.NoError(t, err)
	o.End(s)
}

func TestPrefixConflict(t *testing.T) {
	o := New(0)
	s := o.Begin()
	v, err := o.CommitBlind(w(1, "run/kv/item-3"), nil, nil)
	require.NoError(t, err)
	o.Done(v)
	_, err = o.Commit(&Txn{Snapshot: s, Prefixes: [][]byte{[]byte("run/kv/other")}, Writes: []Write{w(2, "z")}}, nil)
	require.NoError(t, err, "disjoint prefix")
	_, err = o.Commit(&Txn{Snapshot: s, Prefixes: [][]byte{[]byte("run/kv/item")}, Writes: []Write{w(2, "z")}}, nil)
	require.ErrorIs(t, err, ErrConflict)
	o.End(s)
}

type refuse struct{ calls int }

func (r *refuse) Admit(uint64) error { r.calls++; return errors.New("ended") }

func TestGuardRefusalAssignsNothing(t *testing.T) {
	o := New(0)
	g := &refuse{}
	_, err := o.CommitBlind(w(1, "k"), nil, g)
	require.EqualError(t, err, "ended")
	require.Equal(t, 1, g.calls)
	require.Equal(t, uint64(0), o.Last())
	require.Equal(t, uint64(1), commitNow(t, o, &Txn{Writes: []Write{w(1, "k")}}))
}

func TestVisibleAdvancesInOrder(t *testing.T) {
	o := New(0)
	var vs []uint64
	for i := 0; i < 4; i++ {
		v, err := o.CommitBlind(w(uint64(i), "k"), nil, nil)
		require.NoError(t, err)
		vs = append(vs, v)
	}
	o.Done(vs[2])
	o.Done(vs[1])
	require.Equal(t, uint64(0), o.Visible(), "version 1 not done: nothing visible")
	o.Done(vs[0])
	require.Equal(t, uint64(3), o.Visible())
	o.Done(vs[3])
	require.Equal(t, uint64(4), o.Visible())
}

// TestAppliedHeldUntilReleased: an applied version stays unseen until it
// or a later version is released (a later Done is no release); a release
// makes visible every applied version up to it, and stops at one not
// applied yet, which becomes visible once applied.
func TestAppliedHeldUntilReleased(t *testing.T) {
	o := New(0)
	for i := range 5 {
		v, err := o.CommitBlind(w(uint64(i), "k"), nil, nil)
		require.NoError(t, err)
		require.Equal(t, uint64(i+1), v)
	}
	o.Applied(1)
	o.Applied(2)
	o.Applied(4)
	require.Equal(t, uint64(0), o.Visible(), "applied, not released")
	o.Release(4)
	require.Equal(t, uint64(2), o.Visible(), "released up to 4, but 3 is not applied")
	o.Applied(3)
	require.Equal(t, uint64(4), o.Visible(), "3 applied under the release")
	o.Release(2) // a release below what is released already changes nothing
	require.Equal(t, uint64(4), o.Visible())
	v, err := o.CommitBlind(w(6, "k"), nil, nil)
	require.NoError(t, err)
	o.Applied(5)
	o.Done(v) // Done is no release: 5 stays held
	require.Equal(t, uint64(4), o.Visible())
	o.Release(5)
	require.Equal(t, uint64(6), o.Visible())
}

// TestAppliedAndReleaseRace: committers that apply, then release their own
// version in any order (a Strict group woken by its fsync), always end with
// every version visible, and none is visible before some committer at or
// above it released.
func TestAppliedAndReleaseRace(t *testing.T) {
	o := New(0)
	const committers, each = 8, 2000
	var released [committers]uint64 // each committer's last release, recorded before it releases
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := range committers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				v, err := o.CommitBlind(w(uint64(c), "k"), nil, nil)
				if err != nil {
					t.Error(err)
					return
				}
				o.Applied(v)
				if vis := o.Visible(); vis >= v {
					mu.Lock()
					ok := false
					for _, r := range released {
						ok = ok || r >= v
					}
					mu.Unlock()
					if !ok {
						t.Errorf("version %d visible (%d) before any release at or above it", v, vis)
						return
					}
				}
				mu.Lock()
				released[c] = v
				mu.Unlock()
				o.Release(v)
				o.WaitVisible(v)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, uint64(committers*each), o.Visible())
}

func TestTrimKeepsRecordsActiveTxnsNeed(t *testing.T) {
	o := New(0)
	s := o.Begin()
	for i := 0; i < 3*trimAt; i++ {
		commitNow(t, o, &Txn{Writes: []Write{w(uint64(1000+i), "k")}})
	}
	// The very first commit after s must still be found.
	_, err := o.Commit(&Txn{Snapshot: s, Reads: []uint64{1000}, Writes: []Write{w(1, "a")}}, nil)
	require.ErrorIs(t, err, ErrConflict)
	o.End(s)
	require.Equal(t, o.Visible(), o.Watermark())
	for i := 0; i < 2*trimAt; i++ {
		commitNow(t, o, &Txn{Writes: []Write{w(uint64(i), "k")}})
	}
	o.mu.Lock()
	n := len(o.recent)
	o.mu.Unlock()
	require.LessOrEqual(t, n, trimAt+1, "records below the watermark are dropped")
}

func TestWatermarkIsOldestActive(t *testing.T) {
	o := New(0)
	a := o.Begin()
	commitNow(t, o, &Txn{Writes: []Write{w(1, "k")}})
	b := o.Begin()
	commitNow(t, o, &Txn{Writes: []Write{w(1, "k")}})
	c := o.Begin()
	require.Equal(t, a, o.Watermark())
	o.End(a)
	require.Equal(t, b, o.Watermark())
	o.End(c)
	require.Equal(t, b, o.Watermark())
	o.End(b)
	require.Equal(t, o.Visible(), o.Watermark())
	require.Equal(t, 0, o.Stats().Active)
}

// TestConcurrentCounter runs read-modify-write increments of one counter
// from many goroutines: with correct validation, the number of successful
// commits equals the final value (no lost update).
func TestConcurrentCounter(t *testing.T) {
	o := New(0)
	var mu sync.Mutex
	history := map[uint64]int{0: 0} // version -> counter value written
	valueAt := func(snap uint64) int {
		mu.Lock()
		defer mu.Unlock()
		best, val := uint64(0), 0
		for v, x := range history {
			if v <= snap && v >= best {
				best, val = v, x
			}
		}
		return val
	}
	var wg sync.WaitGroup
	var okCount, conflicts int
	var cmu sync.Mutex
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				s := o.Begin()
				cur := valueAt(s)
				v, err := o.Commit(&Txn{Snapshot: s, Reads: []uint64{42}, Writes: []Write{w(42, "ctr")}}, nil)
				if err == nil {
					mu.Lock()
					history[v] = cur + 1
					mu.Unlock()
					o.Done(v)
				}
				o.End(s)
				cmu.Lock()
				if err == nil {
					okCount++
				} else {
					conflicts++
				}
				cmu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Equal(t, okCount, valueAt(o.Visible()))
	require.Equal(t, uint64(conflicts), o.Stats().Conflicts)
	require.Equal(t, uint64(okCount), o.Stats().Commits)
}

// At most ringSize versions are ever in flight: a commit that would go
// past waits until the oldest is done, however stale the visible version
// the critical section last read.
func TestInFlightVersionsBounded(t *testing.T) {
	o := New(0)
	for range ringSize - 1 {
		_, err := o.CommitBlind(w(1, "k"), nil, nil)
		require.NoError(t, err)
	}
	got := make(chan uint64)
	go func() {
		v, err := o.CommitBlind(w(1, "k"), nil, nil)
		if err != nil {
			t.Error(err)
		}
		got <- v
	}()
	select {
	case v := <-got:
		t.Fatalf("version %d assigned with %d versions in flight", v, ringSize-1)
	case <-time.After(50 * time.Millisecond):
	}
	o.Done(1)
	require.Equal(t, uint64(ringSize), <-got)
	for v := uint64(2); v <= ringSize; v++ {
		o.Done(v)
	}
	require.Equal(t, uint64(ringSize), o.Visible())
	// Far past the visible version the section saw last: no wait now.
	for i := range 3 * ringSize {
		v, err := o.CommitBlind(w(1, "k"), nil, nil)
		require.NoError(t, err)
		require.Equal(t, uint64(ringSize+1+i), v)
		o.Done(v)
	}
}
