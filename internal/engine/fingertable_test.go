package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/inmem-db/inmem/skiplist"
)

// tableStore is a store and a run scope whose two finger caches are held,
// so that every commit goes to the finger table, as one of many writers
// finds them when other writers hold both.
type tableStore struct {
	t  *testing.T
	s  *Store
	sc *Scope
}

func newTableStore(t *testing.T) *tableStore {
	s, err := NewStore()
	require.NoError(t, err)
	seed(t, s)
	ts := &tableStore{t: t, s: s, sc: new(Scope)}
	ts.sc.fingers.c[0].mu.Lock()
	ts.sc.fingers.c[1].mu.Lock()
	t.Cleanup(func() {
		ts.sc.fingers.c[0].mu.Unlock()
		ts.sc.fingers.c[1].mu.Unlock()
	})
	return ts
}

// seed writes 2,000 entries below every key the tests use, from a scope
// of their own, so that the tests' places are found in a list of some
// height, as a writer's are.
func seed(t *testing.T, s *Store) {
	var sc Scope
	for i := range 2000 {
		_, err := s.PutBlind(&sc, fmt.Appendf(nil, "0/%06d", i), []byte{0}, nil, nil)
		require.NoError(t, err)
	}
}

func (ts *tableStore) put(k string) {
	_, err := ts.s.PutBlind(ts.sc, []byte(k), []byte{0}, []byte("v"), nil)
	require.NoError(ts.t, err)
}

// probe locates a node for k from the table without linking it. It
// returns the key of the place the lookup started from ("" for none) and
// whether the table placed the node: LocateNear declines a node taller
// than the list was when the place was linked (about one in 2,000 here),
// so tests that probe many times allow for that.
func (ts *tableStore) probe(k string) (string, bool) {
	gen := ts.s.Gen.Load()
	off, err := gen.List.PrepareIn(nil, []byte(k), []byte{0}, nil)
	require.NoError(ts.t, err)
	var sp skiplist.Splice
	tb := ts.tbl()
	tick := tb.tick
	ok, _ := tb.locate(gen, off, []byte(k), &sp)
	if tb.tick == tick {
		require.False(ts.t, ok)
		return "", false
	}
	for i := range tb.n { // the slot the lookup used
		if s := tb.order[i]; tb.slots[s].used == tb.tick {
			return string(tb.key(gen, s)), ok
		}
	}
	ts.t.Fatal("no slot used by the lookup")
	return "", false
}

func (ts *tableStore) tbl() *fingerTable { return ts.sc.fingers.tbl.Load() }

// placeKeys returns the table's places by key, in its order, checking
// that the order is sorted and names each slot in use once.
func (ts *tableStore) placeKeys() []string {
	tb, gen := ts.tbl(), ts.s.Gen.Load()
	seen := map[uint8]bool{}
	var out []string
	for i := range tb.n {
		s := tb.order[i]
		require.False(ts.t, seen[s], "slot %d listed twice", s)
		seen[s] = true
		k := string(tb.key(gen, s))
		if len(out) > 0 {
			require.Less(ts.t, out[len(out)-1], k, "order is sorted")
		}
		out = append(out, k)
	}
	return out
}

// keys returns every key of the store in order.
func (ts *tableStore) keys() []string {
	g, snap := ts.s.ReadAt()
	var got []string
	g.Scan(nil, snap, nil, func(k, _ []byte, _ uint64) bool {
		got = append(got, string(k))
		return true
	})
	return got
}

// Writers each appending to a range of their own, more of them than a run
// has finger caches, each find their previous commit's place in the table:
// it holds one place per writer, and a commit moves its writer's place
// forward instead of adding one. Writers starting next to each other take
// each other's place once, then keep their own.
func TestFingerTableKeepsAPlacePerWriter(t *testing.T) {
	ts := newTableStore(t)
	require.Nil(t, ts.tbl(), "no table before a commit found both caches busy")
	const writers, rounds = 10, 30
	key := func(w, i int) string { return fmt.Sprintf("w%02d/%04d", w, i) }
	for i := range rounds {
		for w := range writers {
			ts.put(key(w, i))
		}
	}
	var want []string
	for w := range writers {
		want = append(want, key(w, rounds-1))
	}
	require.Equal(t, want, ts.placeKeys(), "one place per writer, its last write")

	// Each writer's next key starts from its own place.
	declined := 0
	for w := range writers {
		from, ok := ts.probe(key(w, rounds))
		require.Equal(t, key(w, rounds-1), from)
		if !ok {
			declined++
		}
	}
	require.LessOrEqual(t, declined, 1)

	var all []string
	for w := range writers {
		for i := range rounds {
			all = append(all, key(w, i))
		}
	}
	require.Equal(t, all, ts.keys()[2000:])
}

// A writer rewriting keys in order lands each new version after the
// older versions of the key before, not right after its place: it leaves
// a trail of places (which the least recently used slots give back).
func TestFingerTableTrail(t *testing.T) {
	ts := newTableStore(t)
	for i := range 5 {
		ts.put(fmt.Sprintf("k%d", i))
	}
	require.Equal(t, []string{"k4"}, ts.placeKeys())
	for i := range 5 {
		ts.put(fmt.Sprintf("k%d", i))
	}
	require.Equal(t, []string{"k0", "k1", "k2", "k3", "k4"}, ts.placeKeys())
}

// A key below every place, or with no place near it, is not placed from
// the table and costs it credit; without credit only commits on a trial
// stretch of arena try the table, and places found again win the credit
// back.
func TestFingerTableCredit(t *testing.T) {
	ts := newTableStore(t)
	ts.put("m/0001")
	tb := ts.tbl()
	require.Equal(t, int32(tableCredit), tb.credit.Load())

	for i := range tableCredit {
		_, ok := ts.probe("a") // below every place
		require.False(t, ok)
		require.Equal(t, int32(tableCredit-1-i), tb.credit.Load())
	}
	// Without credit: only a trial stretch of arena.
	const stretch = 1 << trialShift
	for _, c := range []struct {
		off  uint64
		want bool
	}{
		{0, true}, {stretch - 1, true}, {stretch, false}, {(trialEvery - 1) * stretch, false},
		{trialEvery * stretch, true}, {trialEvery*stretch + stretch/2, true}, {(trialEvery + 1) * stretch, false},
	} {
		require.Equal(t, c.want, tb.consult(c.off), "offset %d", c.off)
	}
	gen := ts.s.Gen.Load()
	off, err := gen.List.PrepareIn(nil, []byte("a"), []byte{0}, nil)
	require.NoError(t, err)
	var sp skiplist.Splice
	ok, tried := tb.locate(gen, off, []byte("a"), &sp)
	require.False(t, ok)
	require.Equal(t, tb.consult(off), tried)
	// Credit is bounded below, so as many hits win it back.
	for range 3 * tableCredit {
		tb.mu.Lock()
		tb.miss()
		tb.mu.Unlock()
	}
	require.Equal(t, int32(-tableCredit), tb.credit.Load())

	// A place far below the key does not help either: 3,000 entries from
	// another scope lie between.
	var other Scope
	for i := range 3000 {
		_, err := ts.s.PutBlind(&other, fmt.Appendf(nil, "n/%06d", i), []byte{0}, nil, nil)
		require.NoError(t, err)
	}
	tb.credit.Store(1)
	from, ok := ts.probe("n/001500x")
	require.Equal(t, "m/0001", from)
	// LocateNear declines a place 1,500 entries below but for a node
	// tall enough to climb that far (a few in a hundred).
	if ok {
		require.Equal(t, int32(2), tb.credit.Load())
		tb.credit.Store(0)
	}
	require.Zero(t, tb.credit.Load())

	// Places found win credit, up to tableCredit.
	tb.credit.Store(1)
	hits := 0
	for range 2 * tableCredit {
		if from, ok := ts.probe("m/0002"); ok {
			require.Equal(t, "m/0001", from)
			hits++
		}
	}
	require.GreaterOrEqual(t, hits, 2*tableCredit-2)
	require.Equal(t, int32(tableCredit), tb.credit.Load())
}

// Writers turning random lose the table; a writer appending again wins it
// back on the next trial stretch of arena, which 64 stretches of new
// entries are sure to cross.
func TestFingerTableWonBackOnATrial(t *testing.T) {
	ts := newTableStore(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for ts.tbl() == nil || ts.tbl().credit.Load() > 0 {
		ts.put(fmt.Sprintf("r/%016x", rng.Uint64()))
	}
	tb := ts.tbl()
	val := make([]byte, 200)
	var i int
	for i = 0; i < 200_000 && tb.credit.Load() <= 0; i++ {
		_, err := ts.s.PutBlind(ts.sc, fmt.Appendf(nil, "s/%08d", i), []byte{0}, val, nil)
		require.NoError(t, err)
	}
	require.Positive(t, tb.credit.Load(), "won back within %d appends", i)
	require.Less(t, i*len(val), 2*trialEvery<<trialShift)
	from, _ := ts.probe(fmt.Sprintf("s/%08d", i))
	require.Equal(t, fmt.Sprintf("s/%08d", i-1), from)
}

// Past tableSlots places, a new one takes the slot used longest ago, and
// the order stays sorted.
func TestFingerTableEvictsTheLeastRecentlyUsed(t *testing.T) {
	ts := newTableStore(t)
	// Entries between the places, written by another scope (its own
	// fingers), so that no commit lands right after another's place.
	var other Scope
	for w := range 2*tableSlots + 2 {
		_, err := ts.s.PutBlind(&other, []byte(fmt.Sprintf("w%04d", w)), []byte{0}, nil, nil)
		require.NoError(t, err)
	}
	key := func(w int) string { return fmt.Sprintf("w%04dx", 2*w) }
	for w := range tableSlots {
		ts.put(key(w))
	}
	require.Len(t, ts.placeKeys(), tableSlots)
	// Use every place but the sixth once more.
	for w := range tableSlots {
		if w != 5 {
			from, _ := ts.probe(key(w) + "y")
			require.Equal(t, key(w), from)
		}
	}
	ts.put(key(tableSlots))
	places := ts.placeKeys()
	require.Len(t, places, tableSlots)
	require.NotContains(t, places, key(5))
	require.Contains(t, places, key(tableSlots))
	require.Contains(t, places, key(6))

	// The slot given back may be the one just above the new place.
	for w := range tableSlots + 1 {
		if w != 5 && w != 7 {
			ts.probe(key(w) + "y")
		}
	}
	ts.put("w0013y") // between w0013 and key(7), w0014x
	places = ts.placeKeys()
	require.Len(t, places, tableSlots)
	require.NotContains(t, places, key(7))
	require.Equal(t, []string{key(6), "w0013y", key(8)}, places[5:8])
}

// A table from a retired generation is not used, and the first place kept
// in the new one starts it over.
func TestFingerTableFollowsGeneration(t *testing.T) {
	ts := newTableStore(t)
	ts.put("a/1")
	ts.put("b/1")
	old := ts.s.Gen.Load()
	gen, err := NewGeneration()
	require.NoError(t, err)
	gen.ID = old.ID + 1
	ts.s.Gen.Store(gen)
	seed(t, ts.s)
	from, ok := ts.probe("a/2")
	require.False(t, ok, "a place in another generation")
	require.Empty(t, from)
	ts.put("c/1")
	require.Equal(t, []string{"c/1"}, ts.placeKeys())
	require.Equal(t, gen.ID, ts.tbl().gen)
}

// A commit a finger cache placed leaves the table alone: the cache keeps
// that writer's place.
func TestFingerTableLeavesCachedWriters(t *testing.T) {
	s, err := NewStore()
	require.NoError(t, err)
	seed(t, s)
	sc := new(Scope)
	put := func(k string) {
		_, err := s.PutBlind(sc, []byte(k), []byte{0}, []byte("v"), nil)
		require.NoError(t, err)
	}
	put("a/1")
	require.Nil(t, sc.fingers.tbl.Load(), "one writer: no table")
	sc.fingers.c[0].mu.Lock()
	sc.fingers.c[1].mu.Lock()
	put("b/1")
	sc.fingers.c[0].mu.Unlock()
	sc.fingers.c[1].mu.Unlock()
	tb := sc.fingers.tbl.Load()
	require.NotNil(t, tb)
	require.Equal(t, 1, tb.n)
	put("a/2") // from a/1, the first cache's place
	require.Equal(t, 1, tb.n)
	require.Equal(t, "b/1", string(tb.key(s.Gen.Load(), tb.order[0])))
}

// Many goroutines writing one run, each in its own range and some at
// random, through the caches and the table at once: every write lands,
// in order (run with -race).
func TestFingerTableConcurrentWriters(t *testing.T) {
	s, err := NewStore()
	require.NoError(t, err)
	sc := new(Scope)
	const writers, each = 16, 300
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range each {
				k := fmt.Sprintf("w%02d/%05d", w, i)
				if w%4 == 3 {
					k = fmt.Sprintf("r%02d/%016x", w, rng.Uint64())
				}
				if _, err := s.PutBlind(sc, []byte(k), []byte{0}, []byte(k), nil); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	g, snap := s.ReadAt()
	var prev []byte
	n := 0
	g.Scan(nil, snap, nil, func(k, v []byte, _ uint64) bool {
		require.Positive(t, bytes.Compare(k, prev), "keys in order")
		require.Equal(t, string(k), string(v))
		prev = append(prev[:0], k...)
		n++
		return true
	})
	require.Equal(t, writers*each, n)
}
