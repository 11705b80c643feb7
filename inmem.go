// Package inmem is an embedded database for AI agents.
//
// Every write belongs to a run (one agent execution, see BeginRun) or to a
// namespace's shared scope (see DB.Shared). A run is a first-class object:
// its data is one contiguous key range, its lifecycle is tracked, and once it
// ends it refuses writes with ErrRunEnded.
//
// Transactions are optimistic: a transaction reads the snapshot at its start
// plus its own writes, buffers its writes, and at commit validates every
// read (point reads, reads that found nothing, listed prefixes) against what
// committed since. Histories are serializable; a transaction that lost the
// race gets ErrConflict and Run.Update retries it. Every primitive method
// called outside a transaction is a one-operation transaction of its own.
//
// The engine is a lock-free skiplist over an arena (package skiplist) with a
// hash index for point reads, ordered by a commit oracle (package occ). Reads
// take no locks and allocate nothing but the copy of the value they return.
// Entries are never changed or unlinked in place; old versions are freed by
// a reclaim, which copies what is still readable into a new generation
// (skiplist and arena) and swaps it in. Whoever reads holds the generation
// it reads (a transaction for its life, a one-off read for its duration),
// and the garbage collector frees a generation nothing holds.
//
// History: every commit that writes a run's data is a step of the run. A
// run keeps every version it wrote until it is deleted or compacted (an
// ended run's history moves to the cold tier, on disk), so any step can be read back (Run.AsOf), replayed (DB.Replay),
// forked without a copy (DB.Fork reads through to the parent's versions) and
// diffed (DB.Diff). Step versions and times are in the WAL and snapshots.
//
// Byte slices handed in are copied by the database; byte slices handed out
// are the caller's to keep. Every method is safe for concurrent use unless
// its doc says otherwise.
//
// # The files
//
// The API (what a user calls), one concept per file:
//
//	inmem.go        DB, Open, OpenInMemory, Close; this map
//	options.go      Option, WithDurability and the other options, Durability modes
//	errors.go       the sentinel errors; limits.go the size limits
//	namespace.go    Namespace, DB.Shared; runid.go RunID
//	run.go          Run, BeginRun, End; runs.go, runs_page.go the run index (Runs)
//	tx.go           Tx, Update, Begin, View (a read-only transaction)
//	kv.go, events.go, state.go, traces.go, vectors.go, vecfilter.go   the primitives
//	steps.go        Steps; view.go AsOf and the View it returns; replay.go DB.Replay
//	fork.go, diff.go, recorder.go (Recorder, Replayer)                 the rest of history
//	checkpointstore.go  CheckPointStore: a graph framework's checkpoints, a run each
//	knowledgegraph.go  KnowledgeGraph: the MCP memory server's entities, relations and observations, in a run
//	indexedrun.go   a run found through a shared-scope key (CheckPointStore, KnowledgeGraph)
//	checkpoint.go, reclaim.go, stats.go, verify.go                     upkeep and inspection
//
// The storage core is package internal/engine (internal/engine/doc.go maps it):
// the store and its generations, the one commit path, the WAL append,
// the per-run commit state (Scope, step log, fingers), the value header,
// the record types, recovery's loader and the copy half of a reclaim. What
// runs, namespaces and primitives mean stays here:
//
//	apply.go        the one apply path: what a commit derives (steps, runs, vector graphs), live and in recovery
//	runstate.go     a run's lifecycle and the guards that admit its commits; it embeds engine.Scope
//	runrecord.go    the run record in the system scope
//	primtx.go       a Tx seen by package primitives (scope and tag prefixes)
//	readthrough.go  reads of a run through its layers (a fork's parents) and tiers (arena or cold file)
//	copybuf.go      copies handed to readers from shared chunks
//	vecindex.go     a collection's graph in memory: built, kept up to each commit, searched
//	vechistory.go, vecvacuum.go   vector graphs over versions, and their vacuum
//
// Durability, along the path of a commit to disk and back:
//
//	snapshot.go, snapheader.go, vecsnap.go   checkpoint files
//	recovery.go, recoveryprogress.go         Open: snapshot, then the WAL after it through apply.go
//
// The cold tier, ended runs' history on disk (files: internal/coldfile):
//
//	cold.go         the tier: its files, the manifest as applied (applyColdRecord), the block cache
//	freeze.go       Runs.Freeze, WithColdAfter's background freezer
//	coldcompact.go  rewriting files whose runs were deleted or compacted, merging small ones
//
// The cluster, a database replicated through hashicorp/raft (WithCluster):
//
//	cluster.go      Cluster, Peer, ClusterStatus, ClusterNode (DB.Cluster), ErrNotLeader, ErrUnknownOutcome
//	clusternode.go  a node: raft, the proposal of commits (engine.Replica), leadership and settling
//	clusterapply.go the raft state machine: the log applied through apply.go; raft snapshots
//
// # Words
//
//   - Run: one agent execution; its data is one contiguous key range. A
//     shared scope is a namespace's data outside any run.
//   - Step: one committed transaction that wrote a run's data, numbered from 1.
//   - Replay (DB.Replay): rebuild a run from its recorded writes and compare
//     with the live state. Replayer (DB.Replayer): return recorded LLM and
//     tool calls without calling. Recovery: Open applying the WAL
//     (wal.Recover; wal.Read for a read-only handle). Only a run is replayed.
//   - View (Run.AsOf): a run as it was after a step, read-only. Run.View(fn):
//     a read-only transaction on the live run.
//   - Durability: when a commit reaches the disk (Strict, Batched, Async);
//     the WAL append itself is internal/engine/walguard.go.
//   - Generation: one skiplist and arena; a reclaim copies what is still
//     readable into a new one. A vacuum does the same for a vector graph.
//   - Checkpoint: a snapshot file, after which older WAL is retired.
//   - Cold tier, freeze: an ended run's every version moved from the arena
//     to a cold file under DIR/cold/; reads answer the same from there.
//   - Cluster node: a database opened WithCluster. Its leader proposes each
//     commit's record to raft; every node applies the committed log, in
//     version order, through the apply path. Applied: the last version a
//     node applied, which its reads see (Stats().Version).
package inmem

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/vfs"
)

// DB is a database handle. Open or OpenInMemory make one; Close releases it.
type DB struct {
	opts   options
	dir    string // "" for OpenInMemory
	store  *engine.Store
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
	coldGraphs  []vecIndexKey             // graphs of frozen scopes, least recently searched first

	system *runState // scope of run records

	cluster *clusterNode // WithCluster: this database is a node of it

	cold            *coldTier     // nil in memory
	freezeMu        sync.Mutex    // one freeze or cold compaction at a time
	freezes         atomic.Uint64 // runs frozen
	coldCompactions atomic.Uint64
	freezeKick      chan struct{} // wakes the freezer (writable databases with a directory)
	freezeStop      chan struct{}
	freezeDone      chan struct{}

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
	released       atomic.Int64  // bytes of runs deleted, frozen or compacted since the last reclaim
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
		db.cold = newColdTier(db.fs, dir, db.opts.blockCache)
		if err := db.checkExists(); err != nil {
			return nil, err
		}
		if !db.opts.readOnly {
			if err := db.openDurable(); err != nil {
				db.cold.close()
				return nil, err
			}
			if db.opts.cluster != nil {
				if err := db.startCluster(); err != nil {
					db.Close()
					return nil, err
				}
				return db, nil // no freezer: cold files would be this node's alone
			}
			db.startFreezer()
			return db, nil
		}
		before := db.fileNames()
		err = db.recover()
		if err == nil {
			db.store.ReadOnly = true
			return db, nil
		}
		db.cold.close()
		db.store.Current().List.Wait()
		// A writer at work moves files under a reader (a checkpoint retires
		// segments, a roll makes a torn tail look like damage in the
		// middle): read again while the files keep changing. Damage that is
		// really there stays, and is reported once a read of files that did
		// not change meets it.
		if !(errors.Is(err, ErrCorruption) || errors.Is(err, fs.ErrNotExist)) ||
			attempt == readOnlyAttempts || slices.Equal(before, db.fileNames()) {
			return nil, err
		}
		time.Sleep(time.Duration(min(attempt, 20)) * time.Millisecond)
	}
}

// readOnlyAttempts bounds how often a read-only Open reads files a writer
// keeps changing under it (a writer that checkpoints faster than the
// database can be read).
const readOnlyAttempts = 50

// fileNames lists the files of the directory and the WAL segments with
// their sizes: what a writer changes when it commits, rolls or
// checkpoints.
func (db *DB) fileNames() []string {
	top, _ := db.fs.List(db.dir)
	segs, _ := db.fs.List(walDir(db.dir))
	for _, n := range segs {
		size := int64(-1)
		if f, err := db.fs.Open(filepath.Join(walDir(db.dir), n)); err == nil {
			size, _ = f.Size()
			f.Close()
		}
		top = append(top, fmt.Sprint(n, " ", size))
	}
	return top
}

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
	if err == nil && (db.opts.readOnly || db.opts.mustExist || db.opts.cluster != nil) {
		return nil, fmt.Errorf("open in memory: WithReadOnly, WithMustExist and WithCluster need a directory: %w", ErrInvalidArgument)
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
	if o.cluster != nil && o.readOnly {
		return nil, fmt.Errorf("open: WithCluster and WithReadOnly: %w", ErrInvalidArgument)
	}
	s, err := engine.NewStore()
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
	s.ReclaimCheck = db.maybeReclaim
	return db, nil
}

// Close releases the database. Later calls, and every operation after it,
// return ErrClosed.
func (db *DB) Close() error {
	if !db.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	if db.freezeStop != nil {
		close(db.freezeStop)
		<-db.freezeDone
	}
	var cerr error
	if db.cluster != nil {
		cerr = db.cluster.close() // nothing is applied after it
	}
	db.bgMu.Lock() // no checkpoint can start while this is held
	db.bg.Wait()
	db.bgMu.Unlock()
	db.store.Current().List.Wait() // no background work outlives the handle
	db.cold.close()
	if db.store.Log == nil {
		return nil // in memory, or read-only: no log, no lock
	}
	err := db.store.Log.Close()
	if lerr := db.lock.Close(); err == nil {
		err = lerr
	}
	if err == nil {
		err = cerr
	}
	return err
}
