package inmem

import (
	"errors"
	"fmt"
	"time"
)

// ErrHistory is returned for a step a run's history does not hold: a step
// number below 0 or beyond the run's last step, or a history request on a
// shared scope (which keeps none).
var ErrHistory = errors.New("inmem: no such step in the run's history")

// viewAt pins a run handle to the state right after one of its steps.
type viewAt struct {
	step    int
	version uint64
	at      time.Time
	live    bool // the run's live state read at a fixed version (replay), not a step
}

func (v *viewAt) now() time.Time { return v.at }

// layered reports whether reads through this handle must go through a
// transaction rather than the engine's fast paths: a view, or a fork
// reading through its bases.
func (r *Run) layered() bool { return r.view != nil || len(r.st.bases) > 0 || r.st.cold.Load() != nil }

// View is a read-only view of a run as it was right after one of its
// steps. Its primitive handles are the same types as a run's and answer
// exactly as the live run did then: it is a snapshot read at that step's
// commit version, not a copy. TTLs are judged by the step's time. Every
// write through it returns ErrReadOnly. A View is safe for concurrent use.
type View struct {
	run *Run
}

// AsOf returns a read-only view of the run right after step (1 = its first
// step). Step 0 is the run before any step: empty, or for a fork the state
// it was forked from. A step the run does not have is ErrHistory.
func (r *Run) AsOf(step int) (*View, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	if r.view != nil {
		return nil, fmt.Errorf("as of step %d: already a view: %w", step, ErrInvalidArgument)
	}
	if r.st.Shared {
		return nil, fmt.Errorf("as of step %d: a shared scope keeps no step history: %w", step, ErrHistory)
	}
	n := r.st.Log.Visible(r.db.store.Oracle.Visible())
	if step < 0 || step > n {
		return nil, fmt.Errorf("as of step %d: run %s has %d steps: %w", step, r.st.id, n, ErrHistory)
	}
	if c := int(r.st.compacted.Load()); step < c {
		return nil, fmt.Errorf("as of step %d: run %s was compacted at step %d: %w", step, r.st.id, c, ErrHistory)
	}
	va := &viewAt{step: step}
	if step == 0 {
		va.at = r.st.createdAt()
	} else {
		st := r.st.Log.At(step - 1)
		va.version, va.at = st.Version, time.Unix(0, st.Time)
	}
	v := pinnedHandle(r, va)
	return &View{run: v}, nil
}

// pinnedHandle returns a handle on r's run pinned at va.
func pinnedHandle(r *Run, va *viewAt) *Run {
	h := r.db.handle(r.st, nil)
	h.view = va
	return h
}

func (rs *runState) createdAt() time.Time {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.info.CreatedAt
}

// Step returns the step the view shows.
func (v *View) Step() int { return v.run.view.step }

// Version returns the commit version of the view's step (0 for step 0).
func (v *View) Version() uint64 { return v.run.view.version }

// Time returns when the view's step was committed, by the database clock
// (the run's creation time for step 0).
func (v *View) Time() time.Time { return v.run.view.at }

// RunID returns the ID of the run the view shows.
func (v *View) RunID() RunID { return v.run.ID() }

// KV returns the run's key-value primitive as of the view's step.
func (v *View) KV() *KV { return v.run.KV() }

// Events returns the run's event log as of the view's step.
func (v *View) Events() *Events { return v.run.Events() }

// State returns the run's state cells as of the view's step.
func (v *View) State() *State { return v.run.State() }

// Traces returns the run's traces as of the view's step.
func (v *View) Traces() *Traces { return v.run.Traces() }

// Vectors returns the run's vector collections as of the view's step;
// searches see exactly the vectors that existed then.
func (v *View) Vectors() *Vectors { return v.run.Vectors() }

// Read runs fn in one read-only transaction at the view's step, so several
// reads see one consistent state without a handle each.
func (v *View) Read(fn func(tx *Tx) error) error { return v.run.View(fn) }
