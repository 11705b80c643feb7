package engine

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/inmem-db/inmem/arena"
	"github.com/inmem-db/inmem/internal/errs"
	"github.com/inmem-db/inmem/occ"
	"github.com/inmem-db/inmem/skiplist"
	"github.com/inmem-db/inmem/wal"
	"github.com/zeebo/xxh3"
)

// Store is the engine under every primitive: the current generation of
// versioned entries (a skiplist and its arena) and the commit oracle.
type Store struct {
	Gen    atomic.Pointer[Generation]
	Oracle *occ.Oracle
	// rebuild is set while a reclaim copies the current generation: commits
	// then record what they link, so the copy misses nothing.
	rebuild atomic.Pointer[rebuild]

	Log         *wal.Log // nil without a WAL (in memory, or opened read-only)
	ReadOnly    bool     // opened read-only: every commit is refused
	Strict      bool     // wait for the WAL fsync before acknowledging
	AfterCommit func()   // runs after each logged commit (checkpoint trigger)
	// ReclaimCheck runs after every ReclaimCheckEvery-th version.
	ReclaimCheck func()
	// Replica is set on a clustered store: commits are proposed to it
	// (see replica.go).
	Replica Replica
}

// ReclaimCheckEvery is how often (in versions) commits look at the arena's
// size: often enough to react within a few MiB of writes, rarely enough
// that the check (a walk of the chunk table) costs nothing per commit.
const ReclaimCheckEvery = 1024

// Generation is one copy of the engine's entries. Reclaim builds a new one
// with only the versions still needed and swaps it in; whoever holds a
// pointer to the old one keeps reading it (the garbage collector frees its
// arena once nothing refers to it). Every reader therefore holds the
// Generation it reads for as long as it uses slices into it.
type Generation struct {
	List  *skiplist.List
	Arena *arena.Arena
	ID    uint64 // distinct for every generation of the process
}

// generations numbers generations, so something that points into one can
// tell whether it is still current without holding it alive.
var generations atomic.Uint64

// NewGeneration makes an empty generation in a fresh arena.
func NewGeneration() (*Generation, error) {
	a := arena.New(arena.MinChunkSize)
	l, err := skiplist.New(a, true)
	if err != nil {
		return nil, err
	}
	return &Generation{List: l, Arena: a, ID: generations.Add(1)}, nil
}

// NewStore makes a store with one empty generation and an oracle at
// version 0. Its WAL (Log) and hooks are set by the opener.
func NewStore() (*Store, error) {
	g, err := NewGeneration()
	if err != nil {
		return nil, err
	}
	s := &Store{Oracle: occ.New(0)}
	s.Gen.Store(g)
	return s, nil
}

// Current returns the generation to read now.
func (s *Store) Current() *Generation { return s.Gen.Load() }

// ReadAt returns a generation and the newest snapshot it holds completely:
// the visible version, taken after the generation, and retaken if a swap
// came between (a swap completes before any commit it left out of the old
// generation becomes visible).
func (s *Store) ReadAt() (*Generation, uint64) {
	for {
		g := s.Gen.Load()
		v := s.Oracle.Visible()
		if s.Gen.Load() == g {
			return g, v
		}
	}
}

// BeginAt is readAt for a registered snapshot (a transaction's).
func (s *Store) BeginAt() (*Generation, uint64) {
	for {
		g := s.Gen.Load()
		v := s.Oracle.Begin()
		if s.Gen.Load() == g {
			return g, v
		}
		s.Oracle.End(v)
	}
}

// ErrReadOnlyDB is what a write to a database opened WithReadOnly returns.
var ErrReadOnlyDB = fmt.Errorf("database opened read-only: %w", errs.ErrReadOnly)

// Fingerprint is a key's hash in read and write sets. It is the hash the
// skiplist's point index takes (Splice.Hash, List.GetHashed), so a commit
// hashes each key once.
func Fingerprint(key []byte) uint64 { return xxh3.Hash(key) }

// PutBlind commits one write that read nothing, through the one commit
// path. The header and value are copied into the node as they are, without
// being joined first: nothing is allocated on the Go heap.
func (s *Store) PutBlind(sc *Scope, key, hdr, val []byte, g occ.Guard) (uint64, error) {
	if s.ReadOnly {
		return 0, ErrReadOnlyDB
	}
	w := [1]Write{{Key: key, Val: hdr}}
	var offs [1]uint64
	var sps [1]skiplist.Splice
	return s.Commit(sc, s.Gen.Load(), w[:], val, offs[:], sps[:], nil, g, int64(len(key)+len(hdr)+len(val)))
}

// link links a commit's nodes, prepared in generation gen, at version v.
// If a reclaim swapped generations since, or is swapping and v is past its
// cut, the writes go to the new generation instead; while a reclaim copies,
// links are recorded for it.
func (s *Store) link(gen *Generation, offs []uint64, sps []skiplist.Splice, v uint64) error {
	rb := s.rebuild.Load()
	if rb != nil {
		// swapping is set inside the critical section, so a commit past
		// the cut always sees it.
		if rb.swapping.Load() && v > rb.cut {
			<-rb.swapped
		}
	}
	cur := s.Gen.Load()
	if cur == gen {
		gen.List.LinkBatch(offs, v, sps) // writes are in key order
	} else {
		// Prepared in a generation a reclaim retired: copy into the
		// current one (the old one is still readable: gen holds it).
		for i, off := range offs {
			k, val, _, _ := gen.List.NodeAt(off)
			o, _, err := cur.List.InsertEntry(k, v, val, sps[i].Unindexed)
			if err != nil {
				// Only a full arena fails here; the version is spent, so
				// the commit is reported failed (the WAL may still hold it).
				return fmt.Errorf("store: commit %d not applied: %w", v, err)
			}
			offs[i] = o
		}
	}
	if rb != nil && v > rb.base {
		rb.record(cur, offs, v)
	}
	runtime.KeepAlive(gen)
	return nil
}

// Get reads the newest live value of key at snapshot. The result aliases
// the generation's memory.
func (g *Generation) Get(key []byte, snapshot uint64, clock func() time.Time) ([]byte, uint64, bool) {
	raw, ver, ok := g.List.Get(key, snapshot)
	if !ok {
		return nil, 0, false
	}
	user, live := DecodeValue(raw, clock)
	return user, ver, live
}

// Scan calls fn for the newest live version at snapshot of each key with
// the given prefix, in key order, until fn returns false. key, value alias
// the generation's memory.
func (g *Generation) Scan(prefix []byte, snapshot uint64, clock func() time.Time, fn func(key, value []byte, version uint64) bool) {
	g.ScanFrom(prefix, prefix, snapshot, clock, fn)
}

// ScanFrom is scan starting at the first key >= from (which must have
// prefix as a prefix).
func (g *Generation) ScanFrom(prefix, from []byte, snapshot uint64, clock func() time.Time, fn func(key, value []byte, version uint64) bool) {
	it := g.List.Iter()
	it.SeekGE(from, ^uint64(0))
	var last []byte
	for ; it.Valid(); it.Next() {
		k := it.Key()
		if len(k) < len(prefix) || string(k[:len(prefix)]) != string(prefix) {
			return
		}
		if last != nil && string(k) == string(last) {
			continue // an older version of a key already decided
		}
		v := it.Version()
		if v > snapshot {
			continue
		}
		last = k
		user, live := DecodeValue(it.Value(), clock)
		if !live {
			continue
		}
		if !fn(k, user, v) {
			return
		}
	}
}
