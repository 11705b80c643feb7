package inmem

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/inmem-db/inmem/arena"
	"github.com/inmem-db/inmem/occ"
	"github.com/inmem-db/inmem/skiplist"
	"github.com/inmem-db/inmem/wal"
	"github.com/zeebo/xxh3"
)

// store is the engine under every primitive: one skiplist of versioned
// entries, its arena, and the commit oracle.
type store struct {
	arena  *arena.Arena
	list   *skiplist.List
	oracle *occ.Oracle

	log         *wal.Log // nil for OpenInMemory
	strict      bool     // wait for the WAL fsync before acknowledging
	afterCommit func()   // runs after each logged commit (checkpoint trigger)
}

func newStore() (*store, error) {
	a := arena.New(arena.MinChunkSize)
	l, err := skiplist.New(a, true)
	if err != nil {
		return nil, err
	}
	return &store{arena: a, list: l, oracle: occ.New(0)}, nil
}

func fingerprint(key []byte) uint64 { return xxh3.Hash(key) }

// putBlind commits one write that read nothing. The node is prepared
// before the critical section so the oracle's record can alias the arena
// copy of the key: nothing is allocated on the Go heap.
func (s *store) putBlind(key, hdr, val []byte, g occ.Guard) (uint64, error) {
	off, err := s.list.Prepare(key, hdr, val)
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	k := s.list.PreparedKey(off)
	var sp skiplist.Splice
	s.list.Locate(off, &sp)
	guard, wg := s.logged(g)
	defer wg.release()
	if wg != nil {
		wg.rec = binary.AppendUvarint(wg.rec, 1)
		wg.rec = appendBatchEntry(wg.rec, key, hdr, val)
	}
	v, err := s.oracle.CommitBlind(occ.Write{FP: fingerprint(k), Key: k}, guard)
	if err != nil {
		return 0, err
	}
	s.list.LinkAt(off, v, &sp)
	return v, s.publish(v, wg)
}

// get reads the newest live value of key at snapshot. The result aliases
// arena memory.
func (s *store) get(key []byte, snapshot uint64, clock func() time.Time) ([]byte, uint64, bool) {
	raw, ver, ok := s.list.Get(key, snapshot)
	if !ok {
		return nil, 0, false
	}
	user, live := decodeValue(raw, clock)
	return user, ver, live
}

// scan calls fn for the newest live version at snapshot of each key with
// the given prefix, in key order, until fn returns false. key, value alias
// arena memory.
func (s *store) scan(prefix []byte, snapshot uint64, clock func() time.Time, fn func(key, value []byte, version uint64) bool) {
	s.scanFrom(prefix, prefix, snapshot, clock, fn)
}

// scanFrom is scan starting at the first key >= from (which must have
// prefix as a prefix).
func (s *store) scanFrom(prefix, from []byte, snapshot uint64, clock func() time.Time, fn func(key, value []byte, version uint64) bool) {
	it := s.list.Iter()
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
