package inmem

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/inmem-db/inmem/internal/keys"
	"github.com/inmem-db/inmem/occ"
)

// DB is a database handle. Open or OpenInMemory make one; Close releases it.
type DB struct {
	opts   options
	dir    string // "" for OpenInMemory
	store  *store
	closed atomic.Bool
	ids    idGen

	runsMu sync.RWMutex
	runs   map[RunID]*runState
	shared map[Namespace]*runState

	system *runState // scope of run records
}

// Open opens (creating if needed) the database in dir.
//
// The write-ahead log and snapshots are not written yet: until they are,
// data lives in memory only, as with OpenInMemory.
func Open(dir string, opts ...Option) (*DB, error) {
	if dir == "" {
		return nil, fmt.Errorf("open: empty directory: %w", ErrInvalidArgument)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	db, err := open(opts)
	if err != nil {
		return nil, err
	}
	db.dir = dir
	return db, nil
}

// OpenInMemory opens a database that writes no files. Its data is gone when
// it is closed.
func OpenInMemory(opts ...Option) (*DB, error) {
	return open(opts)
}

func open(opts []Option) (*DB, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("open: nil option: %w", ErrInvalidArgument)
		}
		opt(&o)
		if o.err != nil {
			return nil, fmt.Errorf("open: %w", o.err)
		}
	}
	s, err := newStore()
	if err != nil {
		return nil, err
	}
	db := &DB{
		opts:   o,
		store:  s,
		runs:   make(map[RunID]*runState),
		shared: make(map[Namespace]*runState),
	}
	db.system = newRunState(db, RunID{}, Namespace{}, true)
	return db, nil
}

// Close releases the database. Later calls, and every operation after it,
// return ErrClosed.
func (db *DB) Close() error {
	if !db.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	db.store.arena.Wait() // no background work outlives the handle
	return nil
}

// Checkpoint writes a snapshot and retires the WAL it covers. With no WAL
// yet (and for OpenInMemory) there is nothing to write.
func (db *DB) Checkpoint() error {
	if db.closed.Load() {
		return ErrClosed
	}
	return nil
}

// runRecordKey is where the run's record lives in the system scope.
func (db *DB) runRecordKey(id RunID) []byte {
	return keys.AppendKey(nil, db.system.scope, keys.TagRunMeta, id[:])
}

// writeRunRecord commits info as the run's record, with g deciding inside
// the commit's critical section whether the change is allowed.
func (db *DB) writeRunRecord(info *RunInfo, g *statusGuard) error {
	b, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("run record: %w", err)
	}
	var guard occ.Guard
	if g != nil {
		guard = g
	}
	var hdr [maxValueHeader]byte
	_, err = db.store.putBlind(db.runRecordKey(info.ID), encodeHeader(&hdr, false, 0), b, guard)
	return err
}
