package occ

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCommitMatchesModel runs random commits of 0 to 40 writes (blind,
// single and multi-key, so the ring grows past its first size and wraps),
// with readers holding snapshots for random spans so trims drop records in
// between, and checks every validation against a model that keeps every
// commit: a transaction conflicts exactly when a write committed after its
// snapshot hits one of its reads. The committer's Writes slice is reused
// and scribbled on after each commit, as a pooled transaction does.
func TestCommitMatchesModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	o := New(0)
	type commit struct {
		v   uint64
		fps []uint64
	}
	var history []commit
	type reader struct {
		snap  uint64
		reads []uint64
	}
	var open []reader
	ws := make([]Write, 0, 64)
	const keys = 5000
	for step := 0; step < 20000; step++ {
		switch op := r.IntN(10); {
		case op < 2 || len(open) == 0:
			open = append(open, reader{snap: o.Begin()})
		case op < 4:
			// End a random reader, validating it as a commit first.
			i := r.IntN(len(open))
			rd := open[i]
			for range 1 + r.IntN(4) {
				rd.reads = append(rd.reads, uint64(r.IntN(keys)))
			}
			want := false
			for _, c := range history {
				if c.v <= rd.snap {
					continue
				}
				for _, fp := range c.fps {
					if slices.Contains(rd.reads, fp) {
						want = true
					}
				}
			}
			ws = append(ws[:0], w(uint64(keys+step), "r"))
			v, err := o.Commit(&Txn{Snapshot: rd.snap, Reads: rd.reads, Writes: ws}, nil)
			if want {
				require.ErrorIs(t, err, ErrConflict, "step %d", step)
			} else {
				require.NoError(t, err, "step %d", step)
				o.Done(v)
				history = append(history, commit{v: v, fps: []uint64{uint64(keys + step)}})
			}
			o.End(rd.snap)
			open = slices.Delete(open, i, i+1)
		default:
			n := r.IntN(41)
			if r.IntN(4) == 0 {
				n = 1 + r.IntN(3)
			}
			ws = ws[:0]
			var fps []uint64
			for range n {
				fp := uint64(r.IntN(keys))
				ws = append(ws, w(fp, "k"))
				fps = append(fps, fp)
			}
			var v uint64
			var err error
			if n == 1 && r.IntN(2) == 0 {
				v, err = o.CommitBlind(ws[0], nil, nil)
			} else {
				v, err = o.Commit(&Txn{Snapshot: o.Visible(), Writes: ws}, nil)
			}
			require.NoError(t, err)
			o.Done(v)
			history = append(history, commit{v: v, fps: fps})
			for i := range ws {
				ws[i] = Write{FP: ^uint64(0)} // the oracle must hold copies
			}
		}
	}
	for _, rd := range open {
		o.End(rd.snap)
	}
	require.NotEmpty(t, history)
}

// TestRingTrimsWithRecords shows the ring lets go of writes once no
// reader can conflict with them, and holds them while one can.
func TestRingTrimsWithRecords(t *testing.T) {
	o := New(0)
	s := o.Begin()
	ws := []Write{w(1, "a"), w(2, "b"), w(3, "c")}
	for range 2 * trimAt {
		commitNow(t, o, &Txn{Snapshot: o.Visible(), Writes: ws})
	}
	require.Equal(t, uint64(3*2*trimAt), o.ring.tail-o.ring.head, "a reader from before every commit holds them")
	_, err := o.Commit(&Txn{Snapshot: s, Reads: []uint64{2}, Writes: ws}, nil)
	require.ErrorIs(t, err, ErrConflict)
	o.End(s)
	for range trimAt {
		commitNow(t, o, &Txn{Snapshot: o.Visible(), Writes: ws})
	}
	require.LessOrEqual(t, o.ring.tail-o.ring.head, uint64(3*trimAt), "trimmed with the records")
	for p := uint64(0); p < o.ring.head && p < uint64(len(o.ring.buf)); p++ {
		if p+uint64(len(o.ring.buf)) > o.ring.tail {
			require.Nil(t, o.ring.buf[p&uint64(len(o.ring.buf)-1)].Key, "dropped slot %d cleared", p)
		}
	}
}

// TestTrimKeepsTheCommitBeingRecorded: a commit that triggers a trim which
// drops every earlier record still conflicts with the readers it must.
func TestTrimKeepsTheCommitBeingRecorded(t *testing.T) {
	o := New(0)
	ws := []Write{w(1, "a"), w(2, "b")}
	for range trimAt {
		commitNow(t, o, &Txn{Snapshot: o.Visible(), Writes: ws})
	}
	s := o.Begin()
	// Trims the trimAt records above (all at or below s), then records this.
	commitNow(t, o, &Txn{Snapshot: o.Visible(), Writes: []Write{w(7, "x"), w(8, "y")}})
	_, err := o.Commit(&Txn{Snapshot: s, Reads: []uint64{8}, Writes: ws}, nil)
	require.ErrorIs(t, err, ErrConflict)
	o.End(s)
}
