package ycsbdb

import (
	"context"
	"sync"

	"github.com/google/btree"
	"github.com/magiconair/properties"
	"github.com/pingcap/go-ycsb/pkg/ycsb"
)

// BTreeCreator makes an empty google/btree (BTreeG, degree 32) under a
// sync.RWMutex, in memory: what a hand-rolled store would be, with no
// durability and no transactions. It ignores DirProperty.
type BTreeCreator struct{}

// Create implements ycsb.DBCreator.
func (BTreeCreator) Create(*properties.Properties) (ycsb.DB, error) {
	return &btreeDB{t: btree.NewG(32, func(a, b btreeItem) bool { return a.key < b.key })}, nil
}

// btreeItem's value is never changed in place (an Update stores a new
// slice), so a reader may use it after releasing the lock.
type btreeItem struct {
	key string
	val []byte
}

type btreeDB struct {
	mu sync.RWMutex
	t  *btree.BTreeG[btreeItem]
}

func (d *btreeDB) Close() error { return nil }

func (d *btreeDB) InitThread(ctx context.Context, _, _ int) context.Context { return ctx }

func (d *btreeDB) CleanupThread(context.Context) {}

// Read copies the value, as every other binding hands out a copy.
func (d *btreeDB) Read(_ context.Context, _, key string, fields []string) (map[string][]byte, error) {
	d.mu.RLock()
	it, ok := d.t.Get(btreeItem{key: key})
	d.mu.RUnlock()
	if !ok {
		return nil, notFound("btree", "read", key)
	}
	return copyDecode(it.val, fields)
}

func (d *btreeDB) Scan(_ context.Context, _, startKey string, count int, fields []string) ([]map[string][]byte, error) {
	if count <= 0 {
		return nil, nil
	}
	vals := make([][]byte, 0, count)
	d.mu.RLock()
	d.t.AscendGreaterOrEqual(btreeItem{key: startKey}, func(it btreeItem) bool {
		vals = append(vals, it.val)
		return len(vals) < count
	})
	d.mu.RUnlock()
	out := make([]map[string][]byte, 0, len(vals))
	for _, v := range vals {
		rec, err := copyDecode(v, fields)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// Update merges under the write lock, so no other write comes between the
// read and the write of the record.
func (d *btreeDB) Update(_ context.Context, _, key string, values map[string][]byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	it, ok := d.t.Get(btreeItem{key: key})
	if !ok {
		return notFound("btree", "update", key)
	}
	rec, err := mergeRecord(it.val, values)
	if err != nil {
		return err
	}
	d.t.ReplaceOrInsert(btreeItem{key: key, val: rec})
	return nil
}

func (d *btreeDB) Insert(_ context.Context, _, key string, values map[string][]byte) error {
	it := btreeItem{key: key, val: encodeRecord(nil, values)}
	d.mu.Lock()
	d.t.ReplaceOrInsert(it)
	d.mu.Unlock()
	return nil
}

func (d *btreeDB) Delete(_ context.Context, _, key string) error {
	d.mu.Lock()
	d.t.Delete(btreeItem{key: key})
	d.mu.Unlock()
	return nil
}
