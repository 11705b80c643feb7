package ycsbdb

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/magiconair/properties"
	"github.com/pingcap/go-ycsb/pkg/ycsb"
)

// PebbleCreator opens pebble v2 on disk in the DirProperty directory with
// its default options, and writes with pebble.NoSync: the WAL reaches the
// OS without an fsync per write.
type PebbleCreator struct{}

// Create implements ycsb.DBCreator.
func (PebbleCreator) Create(p *properties.Properties) (ycsb.DB, error) {
	dir, err := dirOf(p)
	if err != nil {
		return nil, err
	}
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("pebble: open %s: %w", dir, err)
	}
	return &pebbleDB{db: db, seed: maphash.MakeSeed()}, nil
}

// quietLogger drops pebble's informational messages (it reports the WALs
// it found at every open) and keeps its errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}

func (quietLogger) Errorf(format string, args ...any) { pebble.DefaultLogger.Errorf(format, args...) }

func (quietLogger) Fatalf(format string, args ...any) { pebble.DefaultLogger.Fatalf(format, args...) }

// pebbleDB serialises the writes of each key on one of a few mutexes:
// pebble has no read-write transactions, and without them two concurrent
// Updates of one record would lose one of the two. Different keys rarely
// share a mutex, so the writers of different records run in parallel.
type pebbleDB struct {
	db    *pebble.DB
	seed  maphash.Seed
	locks [256]sync.Mutex
}

func (d *pebbleDB) lock(key string) *sync.Mutex {
	return &d.locks[maphash.String(d.seed, key)%uint64(len(d.locks))]
}

func (d *pebbleDB) Close() error { return d.db.Close() }

func (d *pebbleDB) InitThread(ctx context.Context, _, _ int) context.Context { return ctx }

func (d *pebbleDB) CleanupThread(context.Context) {}

// get returns a copy of key's value: pebble's is valid until its closer is
// closed.
func (d *pebbleDB) get(key []byte) ([]byte, error) {
	v, closer, err := d.db.Get(key)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), v...)
	return out, closer.Close()
}

func (d *pebbleDB) Read(_ context.Context, _, key string, fields []string) (map[string][]byte, error) {
	v, err := d.get([]byte(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, notFound("pebble", "read", key)
	}
	if err != nil {
		return nil, fmt.Errorf("pebble: read %q: %w", key, err)
	}
	return decodeRecord(v, fields)
}

func (d *pebbleDB) Scan(_ context.Context, _, startKey string, count int, fields []string) ([]map[string][]byte, error) {
	if count <= 0 {
		return nil, nil
	}
	it, err := d.db.NewIter(nil)
	if err != nil {
		return nil, fmt.Errorf("pebble: scan from %q: %w", startKey, err)
	}
	out := make([]map[string][]byte, 0, count)
	for ok := it.SeekGE([]byte(startKey)); ok && len(out) < count; ok = it.Next() {
		var v []byte
		if v, err = it.ValueAndErr(); err != nil {
			break
		}
		var rec map[string][]byte
		if rec, err = copyDecode(v, fields); err != nil {
			break
		}
		out = append(out, rec)
	}
	if err = errors.Join(err, it.Close()); err != nil {
		return nil, fmt.Errorf("pebble: scan from %q: %w", startKey, err)
	}
	return out, nil
}

func (d *pebbleDB) Update(_ context.Context, _, key string, values map[string][]byte) error {
	mu := d.lock(key)
	mu.Lock()
	defer mu.Unlock()
	k := []byte(key)
	old, err := d.get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return notFound("pebble", "update", key)
	}
	if err != nil {
		return fmt.Errorf("pebble: update %q: %w", key, err)
	}
	rec, err := mergeRecord(old, values)
	if err == nil {
		err = d.db.Set(k, rec, pebble.NoSync)
	}
	if err != nil {
		return fmt.Errorf("pebble: update %q: %w", key, err)
	}
	return nil
}

func (d *pebbleDB) Insert(_ context.Context, _, key string, values map[string][]byte) error {
	rec := encodeRecord(nil, values)
	mu := d.lock(key)
	mu.Lock()
	defer mu.Unlock()
	if err := d.db.Set([]byte(key), rec, pebble.NoSync); err != nil {
		return fmt.Errorf("pebble: insert %q: %w", key, err)
	}
	return nil
}

func (d *pebbleDB) Delete(_ context.Context, _, key string) error {
	mu := d.lock(key)
	mu.Lock()
	defer mu.Unlock()
	if err := d.db.Delete([]byte(key), pebble.NoSync); err != nil {
		return fmt.Errorf("pebble: delete %q: %w", key, err)
	}
	return nil
}
