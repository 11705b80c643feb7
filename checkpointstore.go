package inmem

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// CheckPointStore keeps a graph framework's checkpoints, each in a run of
// its own: the interface of Eino's compose.CheckPointStore (Get, Set),
// with Delete, in standard types only, so no framework is imported here.
//
// A checkpoint ID names a run (tagged CheckPointTag, in the store's
// namespace, and named the ID where it is a valid run name); every Set is
// a step of it, the checkpoint under the KV key
// CheckPointKey. So every checkpoint a graph execution wrote stays in
// history: run.Steps() lists them, run.AsOf(step) reads an older one, and
// db.Fork(run, step) starts a new execution from it. Which run an ID names
// is kept in the namespace's shared scope, under CheckPointIndexPrefix+ID,
// written once in a transaction that reads it first, so two writers of a
// new ID agree on one run.
type CheckPointStore struct {
	db  *DB
	ns  Namespace
	ttl time.Duration
}

// CheckPointOption configures a CheckPointStore.
type CheckPointOption func(*CheckPointStore)

// CheckPointTTL makes every checkpoint Set writes read as absent once ttl
// passed without a newer Set: a graph interrupted and never resumed does
// not keep its checkpoint live forever. Its history stays (run.AsOf)
// until the run is deleted. ttl <= 0 keeps checkpoints until Delete.
func CheckPointTTL(ttl time.Duration) CheckPointOption {
	return func(s *CheckPointStore) { s.ttl = ttl }
}

// CheckPointTag tags the runs that hold checkpoints.
const CheckPointTag = "checkpoint"

// CheckPointKey is the KV key a checkpoint run holds its checkpoint under.
const CheckPointKey = "checkpoint"

// CheckPointIndexPrefix prefixes the shared-scope keys that map a
// checkpoint ID to its run.
const CheckPointIndexPrefix = "checkpoint/"

// CheckPointStore returns the store of graph checkpoints of namespace ns
// (not to be confused with Checkpoint, which snapshots the database).
func (db *DB) CheckPointStore(ns Namespace, opts ...CheckPointOption) *CheckPointStore {
	s := &CheckPointStore{db: db, ns: ns}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Get returns the checkpoint last Set for id, and false if there is none
// (never Set, deleted, or past its TTL).
func (s *CheckPointStore) Get(ctx context.Context, id string) ([]byte, bool, error) {
	if err := checkPointArgs(ctx, id); err != nil {
		return nil, false, err
	}
	run, ok, err := s.lookup(id)
	if err != nil || !ok {
		return nil, false, err
	}
	v, err := run.KV().Get(CheckPointKey)
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrRunNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("checkpoint %q: %w", id, err)
	}
	return v, true, nil
}

// Set writes checkpoint cp for id as a new step of id's run, creating the
// run at the first Set.
func (s *CheckPointStore) Set(ctx context.Context, id string, cp []byte) error {
	if err := checkPointArgs(ctx, id); err != nil {
		return err
	}
	run, ok, err := s.lookup(id)
	if err != nil {
		return err
	}
	if !ok {
		if run, err = s.create(id); err != nil {
			return err
		}
	}
	kv := run.KV()
	if s.ttl > 0 {
		err = kv.PutTTL(CheckPointKey, cp, s.ttl)
	} else {
		err = kv.Put(CheckPointKey, cp)
	}
	if err != nil {
		return fmt.Errorf("checkpoint %q: %w", id, err)
	}
	return nil
}

// Delete removes id's checkpoint and its run with all of its history.
// Deleting an id that has none is not an error.
func (s *CheckPointStore) Delete(ctx context.Context, id string) error {
	if err := checkPointArgs(ctx, id); err != nil {
		return err
	}
	run, ok, err := s.lookup(id)
	if err != nil || !ok {
		return err
	}
	// The index entry first: a Set after it starts a new run, never
	// writes into the one being deleted.
	if err := s.db.Shared(s.ns).KV().Delete(CheckPointIndexPrefix + id); err != nil {
		return fmt.Errorf("checkpoint %q: %w", id, err)
	}
	if err := s.db.Runs().Delete(run.ID()); err != nil && !errors.Is(err, ErrRunNotFound) {
		return fmt.Errorf("checkpoint %q: %w", id, err)
	}
	return nil
}

// Run returns the run holding id's checkpoints (ErrNotFound if id has
// none): its Steps, AsOf and Fork reach every checkpoint Set wrote.
func (s *CheckPointStore) Run(id string) (*Run, error) {
	if id == "" {
		return nil, fmt.Errorf("checkpoint: empty id: %w", ErrInvalidArgument)
	}
	run, ok, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("checkpoint %q: %w", id, ErrNotFound)
	}
	return run, nil
}

// lookup returns id's run, if the index names one.
func (s *CheckPointStore) lookup(id string) (*Run, bool, error) {
	v, err := s.db.Shared(s.ns).KV().Get(CheckPointIndexPrefix + id)
	if errors.Is(err, ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("checkpoint %q: %w", id, err)
	}
	rid, err := ParseRunID(string(v))
	if err != nil {
		return nil, false, fmt.Errorf("checkpoint %q: index entry %q: %w", id, v, ErrCorruption)
	}
	run, err := s.db.Run(rid)
	if errors.Is(err, ErrRunNotFound) {
		return nil, false, nil // deleted from under the index: Set starts anew
	}
	if err != nil {
		return nil, false, fmt.Errorf("checkpoint %q: %w", id, err)
	}
	return run, true, nil
}

// create begins a run for id and names it in the index, unless a
// concurrent Set named a live run first: then that one is id's run, and
// the run begun here is deleted.
func (s *CheckPointStore) create(id string) (*Run, error) {
	opts := []RunOption{Tags(CheckPointTag), InNamespace(s.ns)}
	if len(id) <= MaxNameSize && utf8.ValidString(id) {
		// The run is named for its id where the id can be a name; any id
		// is found through the index.
		opts = append(opts, Name(id))
	}
	run, err := s.db.BeginRun(opts...)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %q: %w", id, err)
	}
	won := false // another Set named a live run first
	err = s.db.Shared(s.ns).Update(func(tx *Tx) error {
		v, err := tx.KV().Get(CheckPointIndexPrefix + id)
		switch {
		case err == nil:
			// An entry naming a run since deleted is replaced.
			if rid, perr := ParseRunID(string(v)); perr == nil {
				if _, rerr := s.db.Run(rid); rerr == nil {
					won = true
					return nil
				}
			}
		case !errors.Is(err, ErrNotFound):
			return err
		}
		won = false
		return tx.KV().Put(CheckPointIndexPrefix+id, []byte(run.ID().String()))
	})
	if err == nil && !won {
		return run, nil
	}
	if derr := s.db.Runs().Delete(run.ID()); derr != nil && err == nil {
		err = derr
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint %q: %w", id, err)
	}
	if run, ok, err := s.lookup(id); err != nil || ok {
		return run, err
	}
	return nil, fmt.Errorf("checkpoint %q: its run was deleted while it was created: %w", id, ErrConflict)
}

// checkPointArgs checks what every method is given.
func checkPointArgs(ctx context.Context, id string) error {
	if ctx == nil {
		return fmt.Errorf("checkpoint: nil context: %w", ErrInvalidArgument)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if id == "" {
		return fmt.Errorf("checkpoint: empty id: %w", ErrInvalidArgument)
	}
	return nil
}
