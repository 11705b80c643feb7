package ycsbdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/magiconair/properties"
	"github.com/pingcap/go-ycsb/pkg/ycsb"
)

// BadgerCreator opens badger v4 on disk in the DirProperty directory with
// its default options and SyncWrites false (its default too, stated here
// because it is the setting that matters): commits reach the value log
// without an fsync.
type BadgerCreator struct{}

// Create implements ycsb.DBCreator.
func (BadgerCreator) Create(p *properties.Properties) (ycsb.DB, error) {
	dir, err := dirOf(p)
	if err != nil {
		return nil, err
	}
	db, err := badger.Open(badger.DefaultOptions(dir).WithSyncWrites(false).WithLogger(nil))
	if err != nil {
		return nil, fmt.Errorf("badger: open %s: %w", dir, err)
	}
	return &badgerDB{db: db}, nil
}

type badgerDB struct{ db *badger.DB }

// badgerRetries bounds the attempts of an Update that keeps conflicting.
const badgerRetries = 100

func (d *badgerDB) Close() error { return d.db.Close() }

func (d *badgerDB) InitThread(ctx context.Context, _, _ int) context.Context { return ctx }

func (d *badgerDB) CleanupThread(context.Context) {}

func (d *badgerDB) Read(_ context.Context, _, key string, fields []string) (map[string][]byte, error) {
	var rec map[string][]byte
	err := d.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(key))
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		rec, err = decodeRecord(v, fields)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, notFound("badger", "read", key)
	}
	if err != nil {
		return nil, fmt.Errorf("badger: read %q: %w", key, err)
	}
	return rec, nil
}

func (d *badgerDB) Scan(_ context.Context, _, startKey string, count int, fields []string) ([]map[string][]byte, error) {
	if count <= 0 {
		return nil, nil
	}
	out := make([]map[string][]byte, 0, count)
	err := d.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchSize = min(count, opts.PrefetchSize)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek([]byte(startKey)); it.Valid() && len(out) < count; it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			rec, err := decodeRecord(v, fields)
			if err != nil {
				return err
			}
			out = append(out, rec)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("badger: scan from %q: %w", startKey, err)
	}
	return out, nil
}

// Update reads, merges and writes in one transaction; badger aborts it
// with ErrConflict when a concurrent commit wrote the key, and does not
// retry by itself.
func (d *badgerDB) Update(_ context.Context, _, key string, values map[string][]byte) error {
	k := []byte(key)
	var err error
	for range badgerRetries {
		err = d.db.Update(func(txn *badger.Txn) error {
			item, err := txn.Get(k)
			if err != nil {
				return err
			}
			var rec []byte
			if err := item.Value(func(old []byte) error {
				rec, err = mergeRecord(old, values)
				return err
			}); err != nil {
				return err
			}
			return txn.Set(k, rec)
		})
		if !errors.Is(err, badger.ErrConflict) {
			break
		}
	}
	if errors.Is(err, badger.ErrKeyNotFound) {
		return notFound("badger", "update", key)
	}
	if err != nil {
		return fmt.Errorf("badger: update %q: %w", key, err)
	}
	return nil
}

func (d *badgerDB) Insert(_ context.Context, _, key string, values map[string][]byte) error {
	rec := encodeRecord(nil, values)
	if err := d.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(key), rec) }); err != nil {
		return fmt.Errorf("badger: insert %q: %w", key, err)
	}
	return nil
}

func (d *badgerDB) Delete(_ context.Context, _, key string) error {
	if err := d.db.Update(func(txn *badger.Txn) error { return txn.Delete([]byte(key)) }); err != nil {
		return fmt.Errorf("badger: delete %q: %w", key, err)
	}
	return nil
}
