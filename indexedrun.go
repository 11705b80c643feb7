package inmem

import (
	"errors"
	"fmt"
)

// indexedRun is a run found through a key of its namespace's shared scope:
// the key holds the run's ID, written once by whoever begins the run
// first. CheckPointStore keeps one a checkpoint ID, KnowledgeGraph one a
// namespace.
type indexedRun struct {
	db   *DB
	ns   Namespace
	key  string      // the shared-scope key that holds the run's ID
	opts []RunOption // how the run is begun
}

// lookup returns the run the key names, if it names a live one.
func (x indexedRun) lookup() (*Run, bool, error) {
	v, err := x.db.Shared(x.ns).KV().Get(x.key)
	if errors.Is(err, ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	rid, err := ParseRunID(string(v))
	if err != nil {
		return nil, false, fmt.Errorf("index entry %q: %w", v, ErrCorruption)
	}
	run, err := x.db.Run(rid)
	if errors.Is(err, ErrRunNotFound) {
		return nil, false, nil // deleted from under the index: begin anew
	}
	if err != nil {
		return nil, false, err
	}
	return run, true, nil
}

// get returns the run the key names, beginning it if there is none.
func (x indexedRun) get() (*Run, error) {
	run, ok, err := x.lookup()
	if err != nil || ok {
		return run, err
	}
	return x.create()
}

// create begins a run and names it under the key, unless a concurrent
// creator named a live run first: then that one is the run, and the run
// begun here is deleted.
func (x indexedRun) create() (*Run, error) {
	run, err := x.db.BeginRun(append(x.opts, InNamespace(x.ns))...)
	if err != nil {
		return nil, err
	}
	won := false // another creator named a live run first
	err = x.db.Shared(x.ns).Update(func(tx *Tx) error {
		v, err := tx.KV().Get(x.key)
		switch {
		case err == nil:
			// An entry naming a run since deleted is replaced.
			if rid, perr := ParseRunID(string(v)); perr == nil {
				if _, rerr := x.db.Run(rid); rerr == nil {
					won = true
					return nil
				}
			}
		case !errors.Is(err, ErrNotFound):
			return err
		}
		won = false
		return tx.KV().Put(x.key, []byte(run.ID().String()))
	})
	if err == nil && !won {
		return run, nil
	}
	if err = errors.Join(err, x.db.Runs().Delete(run.ID())); err != nil {
		return nil, err
	}
	if run, ok, err := x.lookup(); err != nil || ok {
		return run, err
	}
	return nil, fmt.Errorf("its run was deleted while it was created: %w", ErrConflict)
}
