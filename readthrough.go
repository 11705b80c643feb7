package inmem

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/inmem-db/inmem/internal/coldfile"
	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/skiplist"
)

// forkBase is one layer under a forked run: the scope of an ancestor and
// the version at which the fork took it. A key the run never wrote reads
// as the nearest base had it at that version. Versions at or below it never
// change, so reads that fall through to a base can never conflict.
type forkBase struct {
	scope   []byte
	version uint64
}

// getIn reads key (encoded in rs's scope) at snapshot, falling through to
// rs's fork bases when the run itself never wrote it. A tombstone in a
// nearer layer hides the key in the layers below. Each layer is read from
// the arena or, once frozen, from its cold file. The result aliases arena
// memory or a cold block; the error is a cold file's.
func (db *DB) getIn(g *engine.Generation, rs *runState, key []byte, hash, snapshot uint64, clock func() time.Time) ([]byte, uint64, bool, error) {
	l := g.List
	var raw []byte
	var ver uint64
	var found bool
	var err error
	if ref := rs.cold.Load(); ref != nil {
		raw, ver, found, err = db.coldGet(ref, rs.scope, key, snapshot)
	} else if hash != 0 {
		raw, ver, found = l.GetHashed(key, hash, snapshot)
	} else {
		raw, ver, found = l.Get(key, snapshot)
	}
	if err == nil && !found && len(rs.bases) > 0 {
		suffix := key[len(rs.scope):]
		var buf [keyBufSize]byte
		for _, b := range rs.bases {
			k := append(append(buf[:0], b.scope...), suffix...)
			if ref := db.cold.lookup(b.scope); ref != nil {
				raw, ver, found, err = db.coldGet(ref, b.scope, k, b.version)
			} else {
				raw, ver, found = l.Get(k, b.version)
			}
			if err != nil || found {
				break
			}
		}
	}
	if err != nil || !found {
		return nil, 0, false, err
	}
	user, live := engine.DecodeValue(raw, clock)
	return user, ver, live, nil
}

// coldGet reads key at snapshot from the file ref names, or from the one
// a compaction moved the scope to meanwhile.
func (db *DB) coldGet(ref *coldRef, scope, key []byte, snapshot uint64) ([]byte, uint64, bool, error) {
	for {
		raw, ver, found, err := ref.get(key, snapshot)
		if !errors.Is(err, errColdMoved) {
			return raw, ver, found, err
		}
		if ref = db.cold.lookup(scope); ref == nil {
			return nil, 0, false, fmt.Errorf("scope %x: %w", scope, ErrRunNotFound)
		}
	}
}

// rawGet reads the stored value (header included) of key, in scope, at
// snapshot, from the arena or the scope's cold file: one layer, no fork
// bases.
func (db *DB) rawGet(g *engine.Generation, scope, key []byte, snapshot uint64) ([]byte, uint64, bool, error) {
	if ref := db.cold.lookup(scope); ref != nil {
		return db.coldGet(ref, scope, key, snapshot)
	}
	raw, ver, found := g.List.Get(key, snapshot)
	return raw, ver, found, nil
}

// scanIn is store.scanFrom for a run that may be a fork or frozen: the
// run's own entries merged with each base's at its version, nearest layer
// first. Keys handed to fn are in rs's scope whichever layer they came
// from (a buffer reused between calls).
func (db *DB) scanIn(g *engine.Generation, rs *runState, prefix, from []byte, snapshot uint64, clock func() time.Time, fn func(key, value []byte, version uint64) bool) error {
	if len(rs.bases) == 0 && rs.cold.Load() == nil {
		g.ScanFrom(prefix, from, snapshot, clock, fn)
		return nil
	}
	n := len(rs.scope)
	curs := make([]layerCursor, 1+len(rs.bases))
	defer func() {
		for i := range curs {
			curs[i].it.Close()
		}
	}()
	if err := curs[0].start(db.iterScope(g, rs.scope), n, prefix, from, snapshot); err != nil {
		return err
	}
	for i, b := range rs.bases {
		p := append(append([]byte(nil), b.scope...), prefix[n:]...)
		f := append(append([]byte(nil), b.scope...), from[n:]...)
		if err := curs[i+1].start(db.iterScope(g, b.scope), len(b.scope), p, f, b.version); err != nil {
			return err
		}
	}
	var key []byte
	for {
		// The smallest suffix among the layers; the nearest layer holding
		// it decides.
		win := -1
		for i := range curs {
			c := &curs[i]
			if c.ok && (win < 0 || bytes.Compare(c.suffix(), curs[win].suffix()) < 0) {
				win = i
			}
		}
		if win < 0 {
			return nil
		}
		w := &curs[win]
		suffix, raw, ver := w.suffix(), w.val, w.ver
		for i := range curs {
			if c := &curs[i]; c.ok && i != win && bytes.Equal(c.suffix(), suffix) {
				if err := c.next(); err != nil {
					return err
				}
			}
		}
		key = append(append(key[:0], rs.scope...), suffix...)
		if err := w.next(); err != nil {
			return err
		}
		if user, live := engine.DecodeValue(raw, clock); live && !fn(key, user, ver) {
			return nil
		}
	}
}

// scopeIter walks the versioned entries of a scope in the skiplist's
// order (key ascending, version descending): from the arena, or from the
// scope's cold file once it is frozen. Close it when done: it holds the
// file open.
type scopeIter struct {
	sl   skiplist.Iterator
	cold *coldfile.Iter
	file *coldFile
	err  error
	key  []byte // the cold entry's key, copied once per distinct key
}

// iterScope returns an iterator for the keys of scope (its caller stops
// at the scope's end) as of generation g.
func (db *DB) iterScope(g *engine.Generation, scope []byte) *scopeIter {
	ref := db.cold.lookup(scope)
	if ref == nil {
		return &scopeIter{sl: g.List.Iter()}
	}
	r, err := ref.file.acquire()
	for errors.Is(err, errColdMoved) {
		if ref = db.cold.lookup(scope); ref == nil {
			return &scopeIter{sl: g.List.Iter()} // deleted meanwhile: what the arena has
		}
		r, err = ref.file.acquire()
	}
	if err != nil {
		return &scopeIter{err: err}
	}
	return &scopeIter{cold: r.Iter(), file: ref.file}
}

func (it *scopeIter) SeekGE(key []byte, version uint64) {
	switch {
	case it.err != nil:
	case it.cold != nil:
		it.cold.SeekGE(key, version)
		it.hold()
	default:
		it.sl.SeekGE(key, version)
	}
}

func (it *scopeIter) Valid() bool {
	switch {
	case it.err != nil:
		return false
	case it.cold != nil:
		return it.cold.Valid()
	}
	return it.sl.Valid()
}

func (it *scopeIter) Next() {
	if it.cold != nil {
		it.cold.Next()
		it.hold()
	} else {
		it.sl.Next()
	}
}

// hold copies a cold entry's key, which the file's iterator overwrites
// two moves later: a key handed out by a scopeIter stays valid, as the
// arena's do (callers keep the last key to skip its older versions).
func (it *scopeIter) hold() {
	if it.cold.Valid() && !bytes.Equal(it.key, it.cold.Key()) {
		it.key = bytes.Clone(it.cold.Key())
	}
}

func (it *scopeIter) Key() []byte {
	if it.cold != nil {
		return it.key
	}
	return it.sl.Key()
}

func (it *scopeIter) Version() uint64 {
	if it.cold != nil {
		return it.cold.Version()
	}
	return it.sl.Version()
}

func (it *scopeIter) Value() []byte {
	if it.cold != nil {
		return it.cold.Value()
	}
	return it.sl.Value()
}

// Err is what stopped the walk early: a cold file that could not be read.
func (it *scopeIter) Err() error {
	if it.err == nil && it.cold != nil {
		return it.cold.Err()
	}
	return it.err
}

// Close lets the cold file go.
func (it *scopeIter) Close() {
	if it != nil && it.file != nil {
		it.file.release()
		it.file = nil
	}
}

// layerCursor walks the newest version at or below snap of each key with
// a prefix, tombstones included.
type layerCursor struct {
	it     *scopeIter
	prefix []byte
	scope  int // length of the layer's scope: what precedes the suffix
	snap   uint64
	ok     bool
	key    []byte
	val    []byte
	ver    uint64
}

func (c *layerCursor) start(it *scopeIter, scope int, prefix, from []byte, snap uint64) error {
	c.it = it
	c.prefix, c.scope, c.snap = prefix, scope, snap
	c.it.SeekGE(from, ^uint64(0))
	return c.next()
}

func (c *layerCursor) suffix() []byte { return c.key[c.scope:] }

func (c *layerCursor) next() error {
	last := c.key
	if !c.ok {
		last = nil
	}
	c.ok = false
	for ; c.it.Valid(); c.it.Next() {
		k := c.it.Key()
		if !bytes.HasPrefix(k, c.prefix) {
			return nil
		}
		if last != nil && bytes.Equal(k, last) {
			continue // an older version of a key already decided
		}
		if c.it.Version() > c.snap {
			continue
		}
		c.key, c.val, c.ver, c.ok = k, c.it.Value(), c.it.Version(), true
		c.it.Next()
		return nil
	}
	return c.it.Err()
}
