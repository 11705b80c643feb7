package inmem

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"

	"github.com/inmem-db/inmem/internal/keys"
	"github.com/inmem-db/inmem/internal/vfs"
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
	index  *runIndex // over runs

	vecMu       sync.Mutex
	vecs        map[vecIndexKey]*vecIndex // built vector indexes
	vecBuilds   atomic.Uint64             // graphs built from stored vectors
	vecLoads    atomic.Uint64             // graphs loaded from a snapshot
	vecMends    atomic.Uint64             // loaded-graph entries mended at recovery
	vecVacuums  atomic.Uint64             // vacuum passes that removed graph nodes
	vecVacuumed atomic.Uint64             // graph nodes they removed
	vecWaits    atomic.Uint64             // commits that waited for a vacuum they outran

	system *runState // scope of run records

	// Durable databases only.
	fs              vfs.FS
	lock            io.Closer
	walNext         uint64 // WAL segment to create after recovery, if walLast cannot go on
	walLast         uint64 // last WAL segment recovery kept (0: none), to append to
	walReplayed     int64  // bytes of WAL recovery replayed: they count toward the next checkpoint
	ckptMu          sync.Mutex
	ckptRunning     atomic.Bool
	checkpoints     atomic.Uint64
	walAtCheckpoint atomic.Int64
	lastSnapBytes   atomic.Int64  // size of the newest snapshot, written or recovered
	snapAt          atomic.Uint64 // version of that snapshot (0: none)

	reclaims       atomic.Uint64
	reclaimWaits   atomic.Uint64 // commits that waited for a reclaim they outran
	reclaimedAt    atomic.Int64  // arena bytes the last reclaim's copy kept
	released       atomic.Int64  // bytes of runs deleted, archived or compacted since the last reclaim
	reclaimRunning atomic.Bool
	reclaimMu      sync.Mutex
	reclaimDone    chan struct{}  // closed when the running background reclaim ends
	bg             sync.WaitGroup // background checkpoints and reclaims
	bgMu           sync.Mutex     // orders bg.Add against Close
}

// Open opens (creating if needed) the database in dir: it recovers the
// newest valid snapshot and the write-ahead log after it, then logs every
// commit with the configured durability. Only one handle may have dir open
// at a time (ErrLocked); WithReadOnly handles take no lock.
func Open(dir string, opts ...Option) (*DB, error) {
	if dir == "" {
		return nil, fmt.Errorf("open: empty directory: %w", ErrInvalidArgument)
	}
	for attempt := 1; ; attempt++ {
		db, err := open(opts)
		if err != nil {
			return nil, err
		}
		db.dir = dir
		db.fs = db.opts.fs
		if err := db.checkExists(); err != nil {
			return nil, err
		}
		if !db.opts.readOnly {
			if err := db.openDurable(); err != nil {
				return nil, err
			}
			return db, nil
		}
		err = db.recover()
		if err == nil {
			db.store.readOnly = true
			return db, nil
		}
		db.store.current().list.Wait()
		// A writer at work moves files under a reader (a checkpoint retires
		// segments, a roll makes a torn tail look like damage in the middle):
		// read again. Damage that is really there stays and is reported.
		if attempt == readOnlyAttempts || !(errors.Is(err, ErrCorruption) || errors.Is(err, fs.ErrNotExist)) {
			return nil, err
		}
	}
}

// readOnlyAttempts bounds how often a read-only Open reads files a writer
// changed under it.
const readOnlyAttempts = 5

// checkExists fails with ErrNotFound, when the options ask for it, if dir
// holds no database: neither a WAL directory nor a snapshot.
func (db *DB) checkExists() error {
	if !db.opts.mustExist {
		return nil
	}
	if err := isDatabase(db.fs, db.dir); err != nil {
		return fmt.Errorf("open %s: %w", db.dir, err)
	}
	return nil
}

// isDatabase returns an error wrapping ErrNotFound unless dir holds a WAL
// directory or a snapshot.
func isDatabase(fsys vfs.FS, dir string) error {
	names, err := fsys.List(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no database here, no such directory: %w", ErrNotFound)
		}
		return err
	}
	for _, n := range names {
		if _, ok := parseSnapshotName(n); ok {
			return nil
		}
	}
	if _, err := fsys.List(walDir(dir)); err == nil {
		return nil
	}
	return fmt.Errorf("no database here, no wal/ directory and no snapshot: %w", ErrNotFound)
}

// OpenInMemory opens a database that writes no files. Its data is gone when
// it is closed.
func OpenInMemory(opts ...Option) (*DB, error) {
	db, err := open(opts)
	if err == nil && (db.opts.readOnly || db.opts.mustExist) {
		return nil, fmt.Errorf("open in memory: WithReadOnly and WithMustExist need a directory: %w", ErrInvalidArgument)
	}
	return db, err
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
		index:  newRunIndex(),
		vecs:   map[vecIndexKey]*vecIndex{},
	}
	db.system = newRunState(db, RunID{}, Namespace{}, true)
	s.reclaimCheck = db.maybeReclaim
	return db, nil
}

// Close releases the database. Later calls, and every operation after it,
// return ErrClosed.
func (db *DB) Close() error {
	if !db.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	db.bgMu.Lock() // no checkpoint can start while this is held
	db.bg.Wait()
	db.bgMu.Unlock()
	db.store.current().list.Wait() // no background work outlives the handle
	if db.store.log == nil {
		return nil // in memory, or read-only: no log, no lock
	}
	err := db.store.log.Close()
	if lerr := db.lock.Close(); err == nil {
		err = lerr
	}
	return err
}

// runRecordKey is where the run's record lives in the system scope.
func (db *DB) runRecordKey(id RunID) []byte {
	return keys.AppendKey(nil, db.system.scope, keys.TagRunMeta, id[:])
}

// runRecord is a run's stored record: its description plus, for a fork,
// the layers it reads through (kept whole in the record, so a fork stays
// readable whatever happens to its ancestors' records).
type runRecord struct {
	RunInfo
	Bases     []recordBase `json:",omitempty"`
	Compacted int          `json:",omitempty"` // steps before it were dropped (Runs.Compact)
}

type recordBase struct {
	Scope   []byte
	Version uint64
}

func recordBases(bs []forkBase) []recordBase {
	var out []recordBase
	for _, b := range bs {
		out = append(out, recordBase{Scope: b.scope, Version: b.version})
	}
	return out
}

func (r *runRecord) forkBases() []forkBase {
	var out []forkBase
	for _, b := range r.Bases {
		out = append(out, forkBase{scope: b.Scope, version: b.Version})
	}
	return out
}

// writeRunRecord commits info (and a fork's bases) as the run's record,
// with g deciding inside the commit's critical section whether the change
// is allowed.
func (db *DB) writeRunRecord(info *RunInfo, bases []forkBase, compacted int, g occ.Guard) error {
	b, err := json.Marshal(runRecord{RunInfo: *info, Bases: recordBases(bases), Compacted: compacted})
	if err != nil {
		return fmt.Errorf("run record: %w", err)
	}
	var hdr [maxValueHeader]byte
	_, err = db.store.putBlind(db.system, db.runRecordKey(info.ID), encodeHeader(&hdr, false, 0), b, g)
	return err
}
