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
	run, err := s.index(id).get()
	if err != nil {
		return fmt.Errorf("checkpoint %q: %w", id, err)
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

// index returns where id's run is found.
func (s *CheckPointStore) index(id string) indexedRun {
	opts := []RunOption{Tags(CheckPointTag)}
	if len(id) <= MaxNameSize && utf8.ValidString(id) {
		// The run is named for its id where the id can be a name; any id
		// is found through the index.
		opts = append(opts, Name(id))
	}
	return indexedRun{db: s.db, ns: s.ns, key: CheckPointIndexPrefix + id, opts: opts}
}

// lookup returns id's run, if the index names one.
func (s *CheckPointStore) lookup(id string) (*Run, bool, error) {
	run, ok, err := s.index(id).lookup()
	if err != nil {
		return nil, false, fmt.Errorf("checkpoint %q: %w", id, err)
	}
	return run, ok, nil
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
