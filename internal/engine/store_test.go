package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/inmem-db/inmem/internal/errs"
	"github.com/inmem-db/inmem/internal/keys"
	"github.com/inmem-db/inmem/occ"
	"github.com/inmem-db/inmem/skiplist"
)

// scopeKey is a key of the test scope: a real scope prefix (namespace and
// run), so the write order's and a rebuild's per-scope paths are the ones
// taken.
func scopeKey(run byte, k string) []byte {
	var id [16]byte
	id[15] = run
	return append(keys.AppendScope(nil, "t", "a", "g", id), k...)
}

var live = []byte{0} // the header of a live value without expiry

// put commits one write through PutBlind and returns its version.
func put(t *testing.T, s *Store, sc *Scope, key, hdr []byte, val string) uint64 {
	t.Helper()
	v, err := s.PutBlind(sc, key, hdr, []byte(val), nil)
	require.NoError(t, err)
	return v
}

// TestGenerationReads: Get and the scans read the newest version at or
// below their snapshot, skip older versions of a key already decided,
// and read deleted and expired values (by the clock given) as absent.
func TestGenerationReads(t *testing.T) {
	s, err := NewStore()
	require.NoError(t, err)
	var sc Scope
	var h [MaxValueHeader]byte
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	k := func(s string) []byte { return scopeKey(1, s) }

	v1 := put(t, s, &sc, k("a"), live, "a1")
	v2 := put(t, s, &sc, k("a"), live, "a2")
	put(t, s, &sc, k("b"), live, "b1")
	vDel := put(t, s, &sc, k("b"), Tombstone, "")
	put(t, s, &sc, k("c"), EncodeHeader(&h, false, now.Add(time.Second).UnixNano()), "c-soon")
	put(t, s, &sc, k("d"), EncodeHeader(&h, false, now.UnixNano()), "d-expired")
	g, snap := s.ReadAt()

	val, ver, ok := g.Get(k("a"), snap, clock)
	require.True(t, ok)
	require.Equal(t, "a2", string(val))
	require.Equal(t, v2, ver)
	val, ver, ok = g.Get(k("a"), v1, clock)
	require.True(t, ok)
	require.Equal(t, "a1", string(val))
	require.Equal(t, v1, ver)
	_, _, ok = g.Get(k("a"), v1-1, clock)
	require.False(t, ok, "nothing at a snapshot before the first write")
	_, _, ok = g.Get(k("b"), snap, clock)
	require.False(t, ok, "deleted")
	val, _, ok = g.Get(k("b"), vDel-1, clock)
	require.True(t, ok, "before the delete")
	require.Equal(t, "b1", string(val))
	val, _, ok = g.Get(k("c"), snap, clock)
	require.True(t, ok)
	require.Equal(t, "c-soon", string(val))
	_, _, ok = g.Get(k("d"), snap, clock)
	require.False(t, ok, "expired at its expiry time")

	scan := func(from []byte, at uint64) []string {
		var out []string
		g.ScanFrom(scopeKey(1, ""), from, at, clock, func(key, value []byte, _ uint64) bool {
			out = append(out, string(key[len(scopeKey(1, "")):])+"="+string(value))
			return true
		})
		return out
	}
	require.Equal(t, []string{"a=a2", "c=c-soon"}, scan(k(""), snap))
	require.Equal(t, []string{"a=a1"}, scan(k(""), v1))
	require.Equal(t, []string{"b=b1"}, scan(k("b"), vDel-1))
	var n int
	g.Scan(scopeKey(1, ""), snap, clock, func(_, _ []byte, _ uint64) bool { n++; return false })
	require.Equal(t, 1, n, "a scan stops when fn says so")
	g.Scan(scopeKey(2, ""), snap, clock, func(_, _ []byte, _ uint64) bool { n++; return true })
	require.Equal(t, 1, n, "another scope's prefix finds nothing")
}

// TestPutBlindReadOnly: a read-only store refuses every write, with an
// error that is ErrReadOnly, and takes no version.
func TestPutBlindReadOnly(t *testing.T) {
	s, err := NewStore()
	require.NoError(t, err)
	s.ReadOnly = true
	var sc Scope
	v, err := s.PutBlind(&sc, scopeKey(1, "a"), live, []byte("v"), nil)
	require.ErrorIs(t, err, errs.ErrReadOnly)
	require.Zero(t, v)
	require.Zero(t, s.Oracle.Visible())
}

// TestCommitConflict: a transaction whose read was overwritten after its
// snapshot fails with ErrConflict, links nothing and counts no bytes; one
// whose reads still hold commits every write at one version.
func TestCommitConflict(t *testing.T) {
	s, err := NewStore()
	require.NoError(t, err)
	var sc Scope
	a, b := scopeKey(1, "a"), scopeKey(1, "b")
	put(t, s, &sc, a, live, "a1")
	written := sc.Written.Load()

	commit := func(snapshot uint64, read []byte, ws ...Write) (uint64, error) {
		n := len(ws)
		rd := &occ.Txn{Snapshot: snapshot, Reads: []uint64{Fingerprint(read)}, Writes: make([]occ.Write, n)}
		return s.Commit(&sc, s.Current(), ws, nil, make([]uint64, n), make([]skiplist.Splice, n), rd, nil, 10)
	}
	g, snap := s.BeginAt()
	put(t, s, &sc, a, live, "a2") // overwrites what the transaction read
	v, err := commit(snap, a, Write{Key: b, Val: append([]byte{0}, "b1"...)})
	s.Oracle.End(snap)
	require.ErrorIs(t, err, errs.ErrConflict)
	require.Zero(t, v)
	_, _, ok := g.Get(b, ^uint64(0), nil)
	require.False(t, ok, "a conflicting commit links nothing")
	require.Equal(t, written+int64(len(a)+1+2), sc.Written.Load(), "only the put's bytes counted")

	_, snap = s.BeginAt()
	ws := []Write{{Key: a, Val: append([]byte{0}, "a3"...)}, {Key: b, Val: append([]byte{0}, "b1"...)}}
	v, err = commit(snap, b, ws...)
	s.Oracle.End(snap)
	require.NoError(t, err)
	g, now := s.ReadAt()
	require.Equal(t, v, now)
	for _, w := range ws {
		val, ver, ok := g.Get(w.Key, now, nil)
		require.True(t, ok)
		require.Equal(t, v, ver)
		require.Equal(t, string(w.Val[1:]), string(val))
	}
}

// TestApplyStep: a run's step is counted, logged with its time and
// touches the last write time (by a millisecond or more only); a shared
// scope's is counted only.
func TestApplyStep(t *testing.T) {
	var sc Scope
	base := time.Unix(1_700_000_000, 0).UnixNano()
	sc.ApplyStep(5, base)
	sc.ApplyStep(9, base+int64(time.Microsecond))
	require.EqualValues(t, 2, sc.Steps.Load())
	require.Equal(t, []StepRec{{5, base}, {9, base + int64(time.Microsecond)}}, sc.Log.All())
	require.Equal(t, base+int64(time.Microsecond), sc.LastStep)
	require.Equal(t, base, sc.Updated.Load(), "under a millisecond later: not stored")
	sc.ApplyStep(12, base+int64(time.Millisecond))
	require.Equal(t, base+int64(time.Millisecond), sc.Updated.Load())

	shared := Scope{Shared: true}
	shared.ApplyStep(3, base)
	require.EqualValues(t, 1, shared.Steps.Load())
	require.Zero(t, shared.Log.Len())
	require.Zero(t, shared.Updated.Load())
	require.Zero(t, shared.LastStep)
}

// TestSortWritesOutsideAScope: keys that do not all start with the
// scope are ordered by full comparison.
func TestSortWritesOutsideAScope(t *testing.T) {
	ws := []Write{{Key: []byte("b")}, {Key: scopeKey(1, "z")}, {Key: []byte("a")}, {Key: scopeKey(1, "c")}}
	SortWrites(ws, scopeKey(1, ""))
	var got []string
	for _, w := range ws {
		got = append(got, fmt.Sprintf("%q", w.Key))
	}
	require.Equal(t, []string{`"a"`, `"b"`, fmt.Sprintf("%q", scopeKey(1, "c")), fmt.Sprintf("%q", scopeKey(1, "z"))}, got)
}
