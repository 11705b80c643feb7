package inmem

import (
	"fmt"
)

// Fork starts a new Active run whose state is the state of run id right
// after step (0: before its first step). Nothing is copied: the fork reads
// through to the parent's data at that step's version (copy-on-write), so
// forking costs the same whatever the parent's size, and the parent's later
// writes (or its deletion) never show in the fork. The fork's own writes
// go to its own scope and never affect the parent. Its RunInfo has ForkOf
// and ForkStep set; it starts with no steps of its own.
//
// opts are those of BeginRun; by default the fork takes the parent's name,
// tags and metadata. A fork lives in its parent's namespace: InNamespace
// with another one is ErrInvalidArgument.
func (db *DB) Fork(id RunID, step int, opts ...RunOption) (*Run, error) {
	if db.closed.Load() {
		return nil, ErrClosed
	}
	prs, err := db.runState(id)
	if err != nil {
		return nil, fmt.Errorf("fork: %w", err)
	}
	if RunStatus(prs.status.Load()) == statusDeleted {
		return nil, fmt.Errorf("fork: run %s: %w", id, ErrRunNotFound)
	}
	n := prs.Log.Visible(db.store.Oracle.Visible())
	if step < 0 || step > n {
		return nil, fmt.Errorf("fork at step %d: run %s has %d steps: %w", step, id, n, ErrHistory)
	}
	if c := int(prs.compacted.Load()); step < c {
		return nil, fmt.Errorf("fork at step %d: run %s was compacted at step %d: %w", step, id, c, ErrHistory)
	}
	parent := prs.snapshotInfo()
	now := db.opts.clock()
	cfg := runConfig{info: RunInfo{
		Name:      parent.Name,
		Namespace: parent.Namespace,
		ForkOf:    id,
		ForkStep:  step,
		Status:    Active,
		CreatedAt: now,
		UpdatedAt: now,
		Tags:      parent.Tags,
		Meta:      parent.Meta,
	}, nsSet: true}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("fork: nil option: %w", ErrInvalidArgument)
		}
		o(&cfg)
	}
	if cfg.info.Namespace != parent.Namespace {
		return nil, fmt.Errorf("fork: a fork stays in its parent's namespace: %w", ErrInvalidArgument)
	}
	cfg.info.ForkOf, cfg.info.ForkStep, cfg.info.Status = id, step, Active
	// The layers: the parent at the step's version (unless the step is 0,
	// where the parent itself held nothing yet), then the parent's own
	// layers, which are older still.
	var bases []forkBase
	if step > 0 {
		bases = append(bases, forkBase{scope: prs.scope, version: prs.Log.At(step - 1).Version})
	}
	bases = append(bases, prs.bases...)
	r, err := db.beginRun(cfg, bases)
	if err != nil {
		return nil, fmt.Errorf("fork: %w", err)
	}
	return r, nil
}
