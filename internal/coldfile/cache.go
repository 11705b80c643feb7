package coldfile

import (
	"fmt"
	"sync/atomic"

	"github.com/dgraph-io/ristretto/v2"

	"github.com/inmem-db/inmem/internal/errs"
)

// Cache is a BlockCache bounded by the bytes of the blocks it holds,
// shared by every cold file of a database. Ristretto decides what stays:
// it admits a block only if it is likely to be read more than what it
// would evict, so a scan of a cold run does not flush the blocks a point
// read keeps using. Sets are asynchronous; a block read twice in quick
// succession may be read from its file twice.
type Cache struct {
	c            *ristretto.Cache[uint64, *Block]
	hits, misses atomic.Uint64 // counted here: ristretto's own metrics cost every Get
}

// NewCache makes a cache of at most maxBytes of decompressed blocks.
func NewCache(maxBytes int64) (*Cache, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("block cache of %d bytes: %w", maxBytes, errs.ErrInvalidArgument)
	}
	// Ten counters per block the cache can hold, as ristretto advises.
	counters := max(10*maxBytes/BlockSize, 1000)
	c, err := ristretto.NewCache(&ristretto.Config[uint64, *Block]{
		NumCounters: counters,
		MaxCost:     maxBytes,
		// Hits reach the policy in batches of this many; a full batch
		// wakes its goroutine, which at 64 cost a read more than its
		// lookup did.
		BufferItems: 1024,
		OnExit: func(b *Block) {
			if b != nil { // a victim already gone from the store comes as nil
				b.Drop()
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("block cache: %w", err)
	}
	return &Cache{c: c}, nil
}

// Get returns the block cached under key.
func (c *Cache) Get(key uint64) (*Block, bool) {
	b, ok := c.c.Get(key)
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return b, ok
}

// Hit counts a read that found key's block through its reader's pointer,
// and tells the policy of one such read in hitSample, so that blocks read
// that way keep the frequency that keeps them cached.
func (c *Cache) Hit(key uint64) {
	if c.hits.Add(1)%hitSample == 0 {
		c.c.Get(key)
	}
}

// hitSample is how many reads through a reader's pointer make one the
// policy sees: its counters estimate frequencies relative to each other.
const hitSample = 8

// Set offers block to the cache, at its Cost.
func (c *Cache) Set(key uint64, block *Block) { c.c.Set(key, block, block.Cost()) }

// Stats returns how many Gets found their block and how many did not.
func (c *Cache) Stats() (hits, misses uint64) { return c.hits.Load(), c.misses.Load() }

// Close stops the cache's goroutines and drops what it holds.
func (c *Cache) Close() { c.c.Close() }
