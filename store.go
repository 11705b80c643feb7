package inmem

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/inmem-db/inmem/arena"
	"github.com/inmem-db/inmem/occ"
	"github.com/inmem-db/inmem/skiplist"
	"github.com/inmem-db/inmem/wal"
	"github.com/zeebo/xxh3"
)

// store is the engine under every primitive: the current generation of
// versioned entries (a skiplist and its arena) and the commit oracle.
type store struct {
	gen    atomic.Pointer[generation]
	oracle *occ.Oracle
	// rebuild is set while a reclaim copies the current generation: commits
	// then record what they link, so the copy misses nothing.
	rebuild atomic.Pointer[rebuild]

	log         *wal.Log // nil for OpenInMemory and WithReadOnly
	readOnly    bool     // WithReadOnly: every commit is refused
	strict      bool     // wait for the WAL fsync before acknowledging
	afterCommit func()   // runs after each logged commit (checkpoint trigger)
	// reclaimCheck runs after every reclaimCheckEvery-th version.
	reclaimCheck func()
}

// reclaimCheckEvery is how often (in versions) commits look at the arena's
// size: often enough to react within a few MiB of writes, rarely enough
// that the check (a walk of the chunk table) costs nothing per commit.
const reclaimCheckEvery = 1024

// generation is one copy of the engine's entries. Reclaim builds a new one
// with only the versions still needed and swaps it in; whoever holds a
// pointer to the old one keeps reading it (the garbage collector frees its
// arena once nothing refers to it). Every reader therefore holds the
// generation it reads for as long as it uses slices into it.
type generation struct {
	list  *skiplist.List
	arena *arena.Arena
	id    uint64 // distinct for every generation of the process
}

// generations numbers generations, so something that points into one can
// tell whether it is still current without holding it alive.
var generations atomic.Uint64

func newGeneration() (*generation, error) {
	a := arena.New(arena.MinChunkSize)
	l, err := skiplist.New(a, true)
	if err != nil {
		return nil, err
	}
	return &generation{list: l, arena: a, id: generations.Add(1)}, nil
}

func newStore() (*store, error) {
	g, err := newGeneration()
	if err != nil {
		return nil, err
	}
	s := &store{oracle: occ.New(0)}
	s.gen.Store(g)
	return s, nil
}

// current returns the generation to read now.
func (s *store) current() *generation { return s.gen.Load() }

// readAt returns a generation and the newest snapshot it holds completely:
// the visible version, taken after the generation, and retaken if a swap
// came between (a swap completes before any commit it left out of the old
// generation becomes visible).
func (s *store) readAt() (*generation, uint64) {
	for {
		g := s.gen.Load()
		v := s.oracle.Visible()
		if s.gen.Load() == g {
			return g, v
		}
	}
}

// beginAt is readAt for a registered snapshot (a transaction's).
func (s *store) beginAt() (*generation, uint64) {
	for {
		g := s.gen.Load()
		v := s.oracle.Begin()
		if s.gen.Load() == g {
			return g, v
		}
		s.oracle.End(v)
	}
}

// errReadOnlyDB is what a write to a database opened WithReadOnly returns.
var errReadOnlyDB = fmt.Errorf("database opened read-only: %w", ErrReadOnly)

// fingerprint is a key's hash in read and write sets. It is the hash the
// skiplist's point index takes (Splice.Hash, List.GetHashed), so a commit
// hashes each key once.
func fingerprint(key []byte) uint64 { return xxh3.Hash(key) }

// putBlind commits one write that read nothing, through the one commit
// path. The header and value are copied into the node as they are, without
// being joined first: nothing is allocated on the Go heap.
func (s *store) putBlind(sc *Scope, key, hdr, val []byte, g occ.Guard) (uint64, error) {
	if s.readOnly {
		return 0, errReadOnlyDB
	}
	w := [1]pending{{key: key, val: hdr}}
	var offs [1]uint64
	var sps [1]skiplist.Splice
	return s.commit(sc, s.gen.Load(), w[:], val, offs[:], sps[:], nil, g, int64(len(key)+len(hdr)+len(val)))
}

// link links a commit's nodes, prepared in generation gen, at version v.
// If a reclaim swapped generations since, or is swapping and v is past its
// cut, the writes go to the new generation instead; while a reclaim copies,
// links are recorded for it.
func (s *store) link(gen *generation, offs []uint64, sps []skiplist.Splice, v uint64) error {
	rb := s.rebuild.Load()
	if rb != nil {
		// swapping is set inside the critical section, so a commit past
		// the cut always sees it.
		if rb.swapping.Load() && v > rb.cut {
			<-rb.swapped
		}
	}
	cur := s.gen.Load()
	if cur == gen {
		gen.list.LinkBatch(offs, v, sps) // writes are in key order
	} else {
		// Prepared in a generation a reclaim retired: copy into the
		// current one (the old one is still readable: gen holds it).
		for i, off := range offs {
			k, val, _, _ := gen.list.NodeAt(off)
			o, _, err := cur.list.InsertEntry(k, v, val, sps[i].Unindexed)
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

// get reads the newest live value of key at snapshot. The result aliases
// the generation's memory.
func (g *generation) get(key []byte, snapshot uint64, clock func() time.Time) ([]byte, uint64, bool) {
	raw, ver, ok := g.list.Get(key, snapshot)
	if !ok {
		return nil, 0, false
	}
	user, live := decodeValue(raw, clock)
	return user, ver, live
}

// scan calls fn for the newest live version at snapshot of each key with
// the given prefix, in key order, until fn returns false. key, value alias
// the generation's memory.
func (g *generation) scan(prefix []byte, snapshot uint64, clock func() time.Time, fn func(key, value []byte, version uint64) bool) {
	g.scanFrom(prefix, prefix, snapshot, clock, fn)
}

// scanFrom is scan starting at the first key >= from (which must have
// prefix as a prefix).
func (g *generation) scanFrom(prefix, from []byte, snapshot uint64, clock func() time.Time, fn func(key, value []byte, version uint64) bool) {
	it := g.list.Iter()
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
		user, live := decodeValue(it.Value(), clock)
		if !live {
			continue
		}
		if !fn(k, user, v) {
			return
		}
	}
}
