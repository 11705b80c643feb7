package coldfile

import (
	"math/rand"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/inmem-db/inmem/internal/errs"
	"github.com/inmem-db/inmem/internal/vfs"
)

// TestCacheServesRepeatedReads: a block read once is served from the cache
// the next time, the counts say so, the cache stays within its bytes, and
// a bad size is refused.
func TestCacheServesRepeatedReads(t *testing.T) {
	_, err := NewCache(0)
	require.ErrorIs(t, err, errs.ErrInvalidArgument)

	c, err := NewCache(4 * BlockSize)
	require.NoError(t, err)
	defer c.Close()
	rng := rand.New(rand.NewSource(9))
	es := agentEntries(rng, 300)
	fs := vfs.NewMemFS(1)
	writeFile(t, fs, "f.cold", CodecZstd, es, 0)
	r, err := Open(fs, "f.cold", 3, c)
	require.NoError(t, err)
	defer r.Close()
	require.Greater(t, r.Blocks(), 8, "more blocks than the cache holds")

	e := es[len(es)/2]
	for range 3 {
		_, _, ok, err := r.Get([]byte(e.key), e.version)
		require.NoError(t, err)
		require.True(t, ok)
		c.c.Wait() // ristretto applies sets asynchronously
	}
	hits, misses := c.Stats()
	require.EqualValues(t, 1, misses)
	require.EqualValues(t, 2, hits)

	it := r.Iter()
	for it.First(); it.Valid(); it.Next() {
	}
	require.NoError(t, it.Err())
	c.c.Wait()
	held := int64(0)
	for i := range r.Blocks() {
		if b, ok := c.c.Get(uint64(3)<<24 | uint64(i)); ok {
			held += b.Cost()
		}
	}
	require.LessOrEqual(t, held, int64(4*BlockSize), "the cache keeps within its bytes")
}

// TestCacheCloseStopsItsGoroutines: ristretto runs goroutines of its own;
// Close stops them.
func TestCacheCloseStopsItsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 3 {
		c, err := NewCache(1 << 20)
		require.NoError(t, err)
		c.Set(1, &Block{})
		c.Close()
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), before)
}

// TestBlockCostCountsThePointIndex: a block costs its entries' bytes until
// a point read builds its index, then more (its keys and versions), and
// the cache is told the new cost.
func TestBlockCostCountsThePointIndex(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	es := agentEntries(rng, 50)
	fs := vfs.NewMemFS(1)
	writeFile(t, fs, "f.cold", CodecZstd, es, 0)
	cache := &mapCache{m: map[uint64]*Block{}}
	r, err := Open(fs, "f.cold", 1, cache)
	require.NoError(t, err)
	defer r.Close()
	b, err := r.block(0)
	require.NoError(t, err)
	require.Equal(t, int64(len(b.it.data)), b.Cost(), "no index yet")
	require.Equal(t, 1, cache.sets)
	e := es[0]
	_, _, ok, err := r.Get([]byte(e.key), e.version)
	require.NoError(t, err)
	require.True(t, ok)
	keys := map[string]bool{}
	var keyBytes int64
	for _, x := range es {
		if r.find([]byte(x.key), x.version) == 0 && !keys[x.key] {
			keys[x.key] = true
			keyBytes += int64(len(x.key))
		}
	}
	require.Greater(t, b.Cost(), int64(len(b.it.data))+int64(len(keys))*pointKeyOverhead, "the index's keys count")
	require.Less(t, b.Cost(), int64(len(b.it.data))+keyBytes+int64(len(keys))*pointKeyOverhead+int64(len(es))*pointSize+1, "no more than keys, overhead and points")
	require.Equal(t, 2, cache.sets, "set again at its new cost")
}
