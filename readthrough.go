package inmem

import (
	"bytes"
	"time"

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
// nearer layer hides the key in the layers below. The result aliases
// arena memory.
func (db *DB) getIn(g *engine.Generation, rs *runState, key []byte, hash, snapshot uint64, clock func() time.Time) ([]byte, uint64, bool) {
	l := g.List
	var raw []byte
	var ver uint64
	var found bool
	if hash != 0 {
		raw, ver, found = l.GetHashed(key, hash, snapshot)
	} else {
		raw, ver, found = l.Get(key, snapshot)
	}
	if !found && len(rs.bases) > 0 {
		suffix := key[len(rs.scope):]
		var buf [keyBufSize]byte
		for _, b := range rs.bases {
			k := append(append(buf[:0], b.scope...), suffix...)
			if raw, ver, found = l.Get(k, b.version); found {
				break
			}
		}
	}
	if !found {
		return nil, 0, false
	}
	user, live := engine.DecodeValue(raw, clock)
	return user, ver, live
}

// scanIn is store.scanFrom for a run that may be a fork: the run's own
// entries merged with each base's at its version, nearest layer first.
// Keys handed to fn are in rs's scope whichever layer they came from (a
// buffer reused between calls).
func (db *DB) scanIn(g *engine.Generation, rs *runState, prefix, from []byte, snapshot uint64, clock func() time.Time, fn func(key, value []byte, version uint64) bool) {
	if len(rs.bases) == 0 {
		g.ScanFrom(prefix, from, snapshot, clock, fn)
		return
	}
	n := len(rs.scope)
	curs := make([]layerCursor, 1+len(rs.bases))
	curs[0].start(g.List, n, prefix, from, snapshot)
	for i, b := range rs.bases {
		p := append(append([]byte(nil), b.scope...), prefix[n:]...)
		f := append(append([]byte(nil), b.scope...), from[n:]...)
		curs[i+1].start(g.List, len(b.scope), p, f, b.version)
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
			return
		}
		w := &curs[win]
		suffix, raw, ver := w.suffix(), w.val, w.ver
		for i := range curs {
			if c := &curs[i]; c.ok && i != win && bytes.Equal(c.suffix(), suffix) {
				c.next()
			}
		}
		key = append(append(key[:0], rs.scope...), suffix...)
		w.next()
		if user, live := engine.DecodeValue(raw, clock); live && !fn(key, user, ver) {
			return
		}
	}
}

// layerCursor walks the newest version at or below snap of each key with
// a prefix, tombstones included.
type layerCursor struct {
	it     skiplist.Iterator
	prefix []byte
	scope  int // length of the layer's scope: what precedes the suffix
	snap   uint64
	ok     bool
	key    []byte
	val    []byte
	ver    uint64
}

func (c *layerCursor) start(l *skiplist.List, scope int, prefix, from []byte, snap uint64) {
	c.it = l.Iter()
	c.prefix, c.scope, c.snap = prefix, scope, snap
	c.it.SeekGE(from, ^uint64(0))
	c.next()
}

func (c *layerCursor) suffix() []byte { return c.key[c.scope:] }

func (c *layerCursor) next() {
	last := c.key
	if !c.ok {
		last = nil
	}
	c.ok = false
	for ; c.it.Valid(); c.it.Next() {
		k := c.it.Key()
		if !bytes.HasPrefix(k, c.prefix) {
			return
		}
		if last != nil && bytes.Equal(k, last) {
			continue // an older version of a key already decided
		}
		if c.it.Version() > c.snap {
			continue
		}
		c.key, c.val, c.ver, c.ok = k, c.it.Value(), c.it.Version(), true
		c.it.Next()
		return
	}
}
