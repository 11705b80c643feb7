package ycsbdb

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/magiconair/properties"
	"github.com/pingcap/go-ycsb/pkg/ycsb"
	bolt "go.etcd.io/bbolt"
)

// BoltCreator opens bbolt in the file bolt.db of the DirProperty
// directory with NoSync: by default bbolt fsyncs the file at every commit,
// which would put it in the class of inmem's Strict mode, not of its
// default. The freelist is the map type etcd uses: the default array
// freelist is scanned at every page allocation, which grows with the file.
type BoltCreator struct{}

var boltBucket = []byte("ycsb")

// Create implements ycsb.DBCreator.
func (BoltCreator) Create(p *properties.Properties) (ycsb.DB, error) {
	dir, err := dirOf(p)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "bolt.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("bbolt: open %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(boltBucket)
		return err
	}); err != nil {
		return nil, errors.Join(fmt.Errorf("bbolt: create bucket: %w", err), db.Close())
	}
	return &boltDB{db: db}, nil
}

type boltDB struct{ db *bolt.DB }

func (d *boltDB) Close() error { return d.db.Close() }

func (d *boltDB) InitThread(ctx context.Context, _, _ int) context.Context { return ctx }

func (d *boltDB) CleanupThread(context.Context) {}

// bbolt's values point into its memory map and are valid only until the
// transaction ends, so reads decode a copy.

func (d *boltDB) Read(_ context.Context, _, key string, fields []string) (map[string][]byte, error) {
	var rec map[string][]byte
	err := d.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(boltBucket).Get([]byte(key))
		if v == nil {
			return notFound("bbolt", "read", key)
		}
		var err error
		rec, err = copyDecode(v, fields)
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("bbolt: read %q: %w", key, err)
	}
	return rec, err
}

func (d *boltDB) Scan(_ context.Context, _, startKey string, count int, fields []string) ([]map[string][]byte, error) {
	if count <= 0 {
		return nil, nil
	}
	out := make([]map[string][]byte, 0, count)
	err := d.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(boltBucket).Cursor()
		for k, v := c.Seek([]byte(startKey)); k != nil && len(out) < count; k, v = c.Next() {
			rec, err := copyDecode(v, fields)
			if err != nil {
				return err
			}
			out = append(out, rec)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bbolt: scan from %q: %w", startKey, err)
	}
	return out, nil
}

// Update runs in one read-write transaction; bbolt has one writer at a
// time, so nothing can change the record between the read and the write.
func (d *boltDB) Update(_ context.Context, _, key string, values map[string][]byte) error {
	err := d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(boltBucket)
		k := []byte(key)
		old := b.Get(k)
		if old == nil {
			return notFound("bbolt", "update", key)
		}
		rec, err := mergeRecord(old, values)
		if err != nil {
			return err
		}
		return b.Put(k, rec)
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("bbolt: update %q: %w", key, err)
	}
	return err
}

func (d *boltDB) Insert(_ context.Context, _, key string, values map[string][]byte) error {
	rec := encodeRecord(nil, values)
	if err := d.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(boltBucket).Put([]byte(key), rec)
	}); err != nil {
		return fmt.Errorf("bbolt: insert %q: %w", key, err)
	}
	return nil
}

func (d *boltDB) Delete(_ context.Context, _, key string) error {
	if err := d.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(boltBucket).Delete([]byte(key))
	}); err != nil {
		return fmt.Errorf("bbolt: delete %q: %w", key, err)
	}
	return nil
}
