package engine

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/inmem-db/inmem/arena"
)

// Two goroutines writing one run keep a finger cache each, and a commit
// takes the one whose place is nearest below its first key.
func TestRunFingersKeepAPlacePerWriter(t *testing.T) {
	s, err := NewStore()
	require.NoError(t, err)
	var sc Scope
	key := func(k string) []byte { return []byte("scope/" + k) }
	hdr := []byte{0} // a live value without expiry
	put := func(k, v string) {
		_, err := s.PutBlind(&sc, key(k), hdr, []byte(v), nil)
		require.NoError(t, err)
	}

	// One writer: only the first cache is used.
	put("a/1", "v")
	require.False(t, sc.fingers.second.Load())

	// A second writer, arriving while the first cache is busy, takes the
	// other one and leaves its place there.
	sc.fingers.c[0].mu.Lock()
	put("b/1", "v")
	sc.fingers.c[0].mu.Unlock()
	require.True(t, sc.fingers.second.Load())

	gen := s.Gen.Load()
	startOf := func(c *fingerCache) string {
		k, ok := c.start(gen)
		require.True(t, ok)
		return string(k)
	}
	require.Equal(t, string(key("a/1")), startOf(&sc.fingers.c[0]))
	require.Equal(t, string(key("b/1")), startOf(&sc.fingers.c[1]))

	for _, tc := range []struct {
		key  string
		want int
	}{
		{"a/2", 0}, // b/1 is above it
		{"b/2", 1}, // both below it; b/1 nearer
		{"c", 1},
		{"a/0", 0}, // neither below it: the first
	} {
		c := sc.fingers.take(gen, key(tc.key))
		require.Same(t, &sc.fingers.c[tc.want], c, tc.key)
		c.mu.Unlock()
	}

	// Busy caches are skipped; with both busy there is none.
	sc.fingers.c[1].mu.Lock()
	c := sc.fingers.take(gen, key("b/2"))
	require.Same(t, &sc.fingers.c[0], c)
	require.Nil(t, sc.fingers.take(gen, key("b/2")))
	c.mu.Unlock()
	sc.fingers.c[1].mu.Unlock()

	// The writers' next puts locate from their own places and land right.
	put("a/2", "v2")
	put("b/2", "v2")
	g, snap := s.ReadAt()
	var got []string
	g.Scan(key(""), snap, nil, func(k, _ []byte, _ uint64) bool {
		got = append(got, string(k[len(key("")):]))
		return true
	})
	require.Equal(t, []string{"a/1", "a/2", "b/1", "b/2"}, got)
}

// The two caches of a run never share a cache line's written fields.
func TestFingerCachesApart(t *testing.T) {
	var r runFingers
	lastWritten := uintptr(unsafe.Pointer(&r.c[0].commits)) + unsafe.Sizeof(r.c[0].commits)
	require.GreaterOrEqual(t, uintptr(unsafe.Pointer(&r.c[1]))-lastWritten, uintptr(64))
}

// A cache's arena block serves one generation: a commit in another, after
// a reclaim swapped generations, starts from no block instead of
// allocating from a block of the old generation's arena.
func TestFingerCacheBlockFollowsGeneration(t *testing.T) {
	var none *fingerCache
	require.Nil(t, none.block(&Generation{ID: 1}))

	a := arena.New(1 << 20)
	g1, g2 := &Generation{ID: 1, Arena: a}, &Generation{ID: 2, Arena: arena.New(1 << 20)}
	var c fingerCache
	l := c.block(g1)
	var last uint64
	for range 200 {
		off, err := a.AllocLocal(l, 100)
		require.NoError(t, err)
		last = off
	}
	require.NotEqual(t, arena.Local{}, c.local, "the writer has a block")
	require.Same(t, l, c.block(g1), "the same generation keeps it")
	require.NotEqual(t, arena.Local{}, *c.block(g1))
	require.Equal(t, arena.Local{}, *c.block(g2))
	require.NotZero(t, last)
}

// A Scope's times (the last write's and the clock's stamp) sit apart from
// the bytes-written counter before them and the step time after them, as
// measured when they were laid out.
func TestScopeLayout(t *testing.T) {
	var sc Scope
	at := func(p unsafe.Pointer) uintptr { return uintptr(p) - uintptr(unsafe.Pointer(&sc)) }
	written := at(unsafe.Pointer(&sc.Written)) + unsafe.Sizeof(sc.Written)
	require.GreaterOrEqual(t, at(unsafe.Pointer(&sc.Updated))-written, uintptr(32))
	stamp := at(unsafe.Pointer(&sc.Stamp)) + unsafe.Sizeof(sc.Stamp)
	require.GreaterOrEqual(t, at(unsafe.Pointer(&sc.LastStep))-stamp, uintptr(48))
}
