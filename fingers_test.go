package inmem

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/inmem-db/inmem/arena"
)

// Two goroutines writing one run keep a finger cache each, and a commit
// takes the one whose place is nearest below its first key.
func TestRunFingersKeepAPlacePerWriter(t *testing.T) {
	db, err := OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	rs := run.st
	kv := run.KV()
	key := func(k string) []byte { return rs.kvKey(nil, k) }

	// One writer: only the first cache is used.
	require.NoError(t, kv.Put("a/1", []byte("v")))
	require.False(t, rs.fingers.second.Load())

	// A second writer, arriving while the first cache is busy, takes the
	// other one and leaves its place there.
	rs.fingers.c[0].mu.Lock()
	require.NoError(t, kv.Put("b/1", []byte("v")))
	rs.fingers.c[0].mu.Unlock()
	require.True(t, rs.fingers.second.Load())

	gen := db.store.Gen.Load()
	startOf := func(c *fingerCache) string {
		k, ok := c.start(gen)
		require.True(t, ok)
		return string(k)
	}
	require.Equal(t, string(key("a/1")), startOf(&rs.fingers.c[0]))
	require.Equal(t, string(key("b/1")), startOf(&rs.fingers.c[1]))

	for _, tc := range []struct {
		key  string
		want int
	}{
		{"a/2", 0}, // b/1 is above it
		{"b/2", 1}, // both below it; b/1 nearer
		{"c", 1},
		{"a/0", 0}, // neither below it: the first
	} {
		c := rs.fingers.take(gen, key(tc.key))
		require.Same(t, &rs.fingers.c[tc.want], c, tc.key)
		c.mu.Unlock()
	}

	// Busy caches are skipped; with both busy there is none.
	rs.fingers.c[1].mu.Lock()
	c := rs.fingers.take(gen, key("b/2"))
	require.Same(t, &rs.fingers.c[0], c)
	require.Nil(t, rs.fingers.take(gen, key("b/2")))
	c.mu.Unlock()
	rs.fingers.c[1].mu.Unlock()

	// The writers' next puts locate from their own places and land right.
	require.NoError(t, kv.Put("a/2", []byte("v2")))
	require.NoError(t, kv.Put("b/2", []byte("v2")))
	es, err := kv.List("")
	require.NoError(t, err)
	var got []string
	for _, e := range es {
		got = append(got, e.Key)
	}
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
