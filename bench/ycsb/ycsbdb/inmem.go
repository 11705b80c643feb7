package ycsbdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/inmem-db/inmem"
	"github.com/magiconair/properties"
	"github.com/pingcap/go-ycsb/pkg/ycsb"
)

// InmemCreator opens inmem in the DirProperty directory with its default
// durability (Batched: the WAL is fsynced every 100 ms or 1000 commits).
// The records live in one long-lived scope, the shared scope of namespace
// {App: "ycsb"}, as an agent's long-term memory would.
type InmemCreator struct{}

// Create implements ycsb.DBCreator.
func (InmemCreator) Create(p *properties.Properties) (ycsb.DB, error) {
	dir, err := dirOf(p)
	if err != nil {
		return nil, err
	}
	db, err := inmem.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("inmem: open %s: %w", dir, err)
	}
	scope := db.Shared(inmem.Namespace{App: "ycsb"})
	return &inmemDB{db: db, scope: scope, kv: scope.KV()}, nil
}

type inmemDB struct {
	db    *inmem.DB
	scope *inmem.Run
	kv    *inmem.KV
}

func (d *inmemDB) Close() error { return d.db.Close() }

func (d *inmemDB) InitThread(ctx context.Context, _, _ int) context.Context { return ctx }

func (d *inmemDB) CleanupThread(context.Context) {}

// Read needs no transaction: a Get outside one reads a snapshot, and the
// value it returns is a copy the caller owns.
func (d *inmemDB) Read(_ context.Context, _, key string, fields []string) (map[string][]byte, error) {
	v, err := d.kv.Get(key)
	if errors.Is(err, inmem.ErrNotFound) {
		return nil, notFound("inmem", "read", key)
	}
	if err != nil {
		return nil, fmt.Errorf("inmem: read %q: %w", key, err)
	}
	return decodeRecord(v, fields)
}

// Scan reads startKey itself and then the keys after it, in one read-only
// transaction so that both see the same snapshot: ListAfter starts after
// its cursor, and YCSB's scan starts at startKey.
func (d *inmemDB) Scan(_ context.Context, _, startKey string, count int, fields []string) ([]map[string][]byte, error) {
	if count <= 0 {
		return nil, nil
	}
	out := make([]map[string][]byte, 0, count)
	err := d.scope.View(func(tx *inmem.Tx) error {
		out = out[:0]
		kv := tx.KV()
		v, err := kv.Get(startKey)
		switch {
		case err == nil:
			rec, err := decodeRecord(v, fields)
			if err != nil {
				return err
			}
			out = append(out, rec)
		case !errors.Is(err, inmem.ErrNotFound):
			return err
		}
		rest := count - len(out)
		if rest == 0 {
			return nil // a limit of 0 would list every key after startKey
		}
		entries, err := kv.ListAfter("", startKey, rest)
		if err != nil {
			return err
		}
		for _, e := range entries {
			rec, err := decodeRecord(e.Value, fields)
			if err != nil {
				return err
			}
			out = append(out, rec)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("inmem: scan from %q: %w", startKey, err)
	}
	return out, nil
}

// Update reads, merges and writes in one transaction, which Run.Update
// runs again if a concurrent commit changed the record meanwhile.
func (d *inmemDB) Update(_ context.Context, _, key string, values map[string][]byte) error {
	err := d.scope.Update(func(tx *inmem.Tx) error {
		kv := tx.KV()
		old, err := kv.Get(key)
		if errors.Is(err, inmem.ErrNotFound) {
			return notFound("inmem", "update", key)
		}
		if err != nil {
			return err
		}
		rec, err := mergeRecord(old, values)
		if err != nil {
			return err
		}
		return kv.Put(key, rec)
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("inmem: update %q: %w", key, err)
	}
	return err
}

// Insert is a blind write: its own one-operation transaction.
func (d *inmemDB) Insert(_ context.Context, _, key string, values map[string][]byte) error {
	if err := d.kv.Put(key, encodeRecord(nil, values)); err != nil {
		return fmt.Errorf("inmem: insert %q: %w", key, err)
	}
	return nil
}

func (d *inmemDB) Delete(_ context.Context, _, key string) error {
	if err := d.kv.Delete(key); err != nil {
		return fmt.Errorf("inmem: delete %q: %w", key, err)
	}
	return nil
}
