package coldfile

import (
	"bytes"
	"fmt"
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"
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

// TestBlockCostCountsThePointIndex: a block a cached reader loads has its
// point index built before the cache takes it, and costs its entries'
// bytes and the index's (slots, keys and versions); a point read neither
// changes the cost nor sets the block again.
func TestBlockCostCountsThePointIndex(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	es := agentEntries(rng, 50)
	fs := vfs.NewMemFS(1)
	writeFile(t, fs, "f.cold", CodecZstd, es, 0)
	cache := &mapCache{m: map[uint64]*Block{}}
	r, err := Open(fs, "f.cold", 1, cache)
	require.NoError(t, err)
	defer r.Close()
	b, err := r.block(0, true)
	require.NoError(t, err)
	require.Equal(t, 1, cache.sets)
	cost := b.Cost()
	e := es[0]
	_, _, ok, err := r.Get([]byte(e.key), e.version)
	require.NoError(t, err)
	require.True(t, ok)
	keys := map[string]bool{}
	var keyBytes, entries int64
	for _, x := range es {
		if r.find([]byte(x.key), x.version) == 0 {
			entries++
			if !keys[x.key] {
				keys[x.key] = true
				keyBytes += int64(len(x.key))
			}
		}
	}
	nk := int64(len(keys))
	// Slots (2 to 4 a key, 8 B each), a record header a key, a version
	// record an entry, the keys' bytes at most.
	require.GreaterOrEqual(t, b.Cost(), int64(len(b.it.data))+16*nk+8*nk+16*entries, "the index's slots and records count")
	require.LessOrEqual(t, b.Cost(), int64(len(b.it.data))+32*nk+8*nk+16*entries+2*keyBytes, "no more than slots, records and keys")
	require.Equal(t, cost, b.Cost(), "the cost it was set at")
	require.Equal(t, 1, cache.sets, "set once")
}

// heldByReader sums the cost of the blocks r reaches without the cache,
// checking that the cache holds each of them.
func heldByReader(t *testing.T, c *Cache, r *Reader) int64 {
	t.Helper()
	var held int64
	for i := range r.blocks {
		b := r.blocks[i].Load()
		if b == nil {
			continue
		}
		require.False(t, b.dropped.Load(), "block %d: the reader keeps a block its cache dropped", i)
		in, ok := c.c.Get(r.id<<24 | uint64(i))
		require.True(t, ok, "block %d: the reader keeps a block the cache does not hold", i)
		require.Same(t, in, b, "block %d: the reader keeps another block than the cache", i)
		held += b.Cost()
	}
	return held
}

// TestReaderForgetsWhatTheCacheDrops: a reader reaches the blocks its
// cache returned without asking the cache again, so it must let go of
// every block the cache evicts or replaces: after point reads and scans of
// a file four times the cache's size, from goroutines at once, the blocks
// readers still reach are blocks the cache holds, within its bytes, and
// every read answered right.
func TestReaderForgetsWhatTheCacheDrops(t *testing.T) {
	c, err := NewCache(4 * BlockSize)
	require.NoError(t, err)
	defer c.Close()
	rng := rand.New(rand.NewSource(11))
	es := agentEntries(rng, 300)
	fs := vfs.NewMemFS(1)
	writeFile(t, fs, "f.cold", CodecZstd, es, 0)
	readers := make([]*Reader, 2) // two readers of one file, as after a reopen
	for i := range readers {
		readers[i], err = Open(fs, "f.cold", 5, c)
		require.NoError(t, err)
	}
	require.Greater(t, readers[0].Blocks(), 16, "four times the blocks the cache holds")

	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(g)))
			r := readers[g%2]
			for n := range 3000 {
				if n%500 == 0 { // a scan loads blocks without their index
					it := r.Iter()
					for it.First(); it.Valid(); it.Next() {
					}
					if it.Err() != nil {
						errc <- it.Err()
						return
					}
				}
				e := es[rng.Intn(len(es))]
				v, ver, ok, err := r.Get([]byte(e.key), e.version)
				if err != nil || !ok || ver != e.version || !bytes.Equal(v, e.value) {
					errc <- fmt.Errorf("get %q@%d: %q@%d %v %v", e.key, e.version, v, ver, ok, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		require.NoError(t, err)
	}
	// Reads of one key now: the cache holds its block, the readers keep it.
	e := es[len(es)/2]
	for n := range 6 {
		_, _, ok, err := readers[n%2].Get([]byte(e.key), e.version)
		require.NoError(t, err)
		require.True(t, ok)
		c.c.Wait()
	}
	held := heldByReader(t, c, readers[0]) + heldByReader(t, c, readers[1])
	require.Positive(t, held, "readers keep some blocks")

	// One reader keeps a block; the one closed lets go of its blocks, and
	// a reader opened after it keeps them.
	j := readers[0].find([]byte(e.key), e.version)
	owner := 0
	if readers[0].blocks[j].Load() == nil {
		owner = 1
	}
	require.NotNil(t, readers[owner].blocks[j].Load())
	require.Nil(t, readers[1-owner].blocks[j].Load(), "one reader keeps a block")
	require.NoError(t, readers[owner].Close())
	later, err := Open(fs, "f.cold", 5, c)
	require.NoError(t, err)
	defer later.Close()
	_, err = later.block(j, true)
	require.NoError(t, err)
	require.NotNil(t, later.blocks[j].Load(), "a reader opened later keeps what a closed one kept")
	require.NoError(t, readers[1-owner].Close())
	hits, _ := c.Stats()
	require.Positive(t, hits)
}

// TestPointReadIndexesAScannedBlock: a block a scan loaded goes into the
// cache without a point index; the first point read of it sets an indexed
// copy in its place, which costs the index too, and the scanned block is
// dropped: no reader reaches it any more.
func TestPointReadIndexesAScannedBlock(t *testing.T) {
	c, err := NewCache(64 * BlockSize)
	require.NoError(t, err)
	defer c.Close()
	rng := rand.New(rand.NewSource(12))
	es := agentEntries(rng, 50)
	fs := vfs.NewMemFS(1)
	writeFile(t, fs, "f.cold", CodecZstd, es, 0)
	r, err := Open(fs, "f.cold", 6, c)
	require.NoError(t, err)
	defer r.Close()

	it := r.Iter()
	it.First()
	require.True(t, it.Valid())
	c.c.Wait()
	scanned, ok := c.c.Get(6 << 24)
	require.True(t, ok)
	require.False(t, scanned.indexed.Load())
	require.Equal(t, int64(len(scanned.it.data)), scanned.Cost(), "no index, no index bytes")
	_, err = r.block(0, false) // through the cache: the reader now keeps it
	require.NoError(t, err)
	require.Same(t, scanned, r.blocks[0].Load())

	e := es[0]
	v, _, ok, err := r.Get([]byte(e.key), e.version)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, e.value, v)
	c.c.Wait()
	require.True(t, scanned.dropped.Load(), "the scanned block was replaced")
	require.Nil(t, r.blocks[0].Load(), "and the reader forgot it")
	indexed, ok := c.c.Get(6 << 24)
	require.True(t, ok)
	require.NotSame(t, scanned, indexed)
	require.True(t, indexed.indexed.Load())
	require.Greater(t, indexed.Cost(), scanned.Cost())
	heldByReader(t, c, r)
}

// countingFS counts the reads of the files it opens.
type countingFS struct {
	vfs.FS
	reads *atomic.Int64
}

func (c countingFS) Open(name string) (vfs.File, error) {
	f, err := c.FS.Open(name)
	return countingFile{f, c.reads}, err
}

type countingFile struct {
	vfs.File
	reads *atomic.Int64
}

func (f countingFile) ReadAt(p []byte, off int64) (int, error) {
	f.reads.Add(1)
	return f.File.ReadAt(p, off)
}

// TestScanReadsAhead: a scan reads each block with the one after it, so
// it waits for the file once per two blocks; a damaged block is reported
// when the scan reaches it, not by the read of the block before it.
func TestScanReadsAhead(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	es := agentEntries(rng, 100)
	mem := vfs.NewMemFS(1)
	writeFile(t, mem, "f.cold", CodecZstd, es, 0)
	var reads atomic.Int64
	fs := countingFS{mem, &reads}
	r, err := Open(fs, "f.cold", 7, nil)
	require.NoError(t, err)
	require.Greater(t, r.Blocks(), 4)
	opened := reads.Load() // the footer and the index
	it := r.Iter()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		n++
	}
	require.NoError(t, it.Err())
	require.Equal(t, len(es), n)
	require.EqualValues(t, (r.Blocks()+1)/2, reads.Load()-opened, "one read per two blocks")
	require.NoError(t, r.Close())

	// Damage the second block: the first reads, the second fails.
	f, err := mem.Open("f.cold")
	require.NoError(t, err)
	size, err := f.Size()
	require.NoError(t, err)
	buf := make([]byte, size)
	_, err = f.ReadAt(buf, 0)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	r, err = Open(mem, "f.cold", 8, nil)
	require.NoError(t, err)
	second := r.index[1]
	require.NoError(t, r.Close())
	buf[second.off+second.length/2] ^= 0xff
	w, err := mem.Create("g.cold")
	require.NoError(t, err)
	_, err = w.Write(buf)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	r, err = Open(mem, "g.cold", 9, nil)
	require.NoError(t, err)
	defer r.Close()
	it = r.Iter()
	first := 0
	for it.First(); it.Valid() && it.blk == 0; it.Next() {
		first++
	}
	require.Positive(t, first, "the block before the damage reads")
	require.False(t, it.Valid())
	require.ErrorIs(t, it.Err(), errs.ErrCorruption)
	require.Contains(t, it.Err().Error(), "block 1")
}
