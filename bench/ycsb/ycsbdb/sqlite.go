package ycsbdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/magiconair/properties"
	"github.com/pingcap/go-ycsb/pkg/ycsb"
	_ "modernc.org/sqlite" // the "sqlite" driver
)

// SQLiteCreator opens modernc.org/sqlite in the file ycsb.db of the
// DirProperty directory, in WAL mode with synchronous=NORMAL: a commit
// appends to the WAL without an fsync, which happens at checkpoints. One
// table, (key TEXT PRIMARY KEY, value BLOB), with every statement prepared
// once. It is a rowid table, the key's index pointing into it: WITHOUT
// ROWID would keep whole records in the interior pages of its B-tree,
// which with YCSB's 1 KB records fit three to a page, and measured two to
// three times slower here.
type SQLiteCreator struct{}

// Create implements ycsb.DBCreator.
func (SQLiteCreator) Create(p *properties.Properties) (ycsb.DB, error) {
	dir, err := dirOf(p)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "ycsb.db")
	db, err := sql.Open("sqlite", "file:"+path+
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// As many connections as the machine runs threads: WAL lets readers
	// run beside the writer.
	n := max(2, runtime.GOMAXPROCS(0))
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB)`); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: create table: %w", err), db.Close())
	}
	d := &sqliteDB{db: db}
	for _, s := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&d.get, `SELECT value FROM kv WHERE key = ?`},
		{&d.scan, `SELECT value FROM kv WHERE key >= ? ORDER BY key LIMIT ?`},
		{&d.put, `INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`},
		{&d.update, `UPDATE kv SET value = ? WHERE key = ?`},
		{&d.del, `DELETE FROM kv WHERE key = ?`},
	} {
		if *s.st, err = db.Prepare(s.q); err != nil {
			return nil, errors.Join(fmt.Errorf("sqlite: prepare %q: %w", s.q, err), d.Close())
		}
	}
	return d, nil
}

// sqliteDB runs one writer at a time, under wmu: SQLite allows one writer
// anyway, and a second one waiting on the busy handler sleeps for
// milliseconds where a mutex wakes it at once. It also makes Update's read
// and write atomic without an explicit transaction: no other write can
// come between them.
type sqliteDB struct {
	db                          *sql.DB
	wmu                         sync.Mutex
	get, scan, put, update, del *sql.Stmt
}

func (d *sqliteDB) Close() error {
	var errs []error
	for _, st := range []*sql.Stmt{d.get, d.scan, d.put, d.update, d.del} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(append(errs, d.db.Close())...)
}

func (d *sqliteDB) InitThread(ctx context.Context, _, _ int) context.Context { return ctx }

func (d *sqliteDB) CleanupThread(context.Context) {}

func (d *sqliteDB) Read(ctx context.Context, _, key string, fields []string) (map[string][]byte, error) {
	var v []byte
	err := d.get.QueryRowContext(ctx, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("sqlite", "read", key)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: read %q: %w", key, err)
	}
	return decodeRecord(v, fields)
}

func (d *sqliteDB) Scan(ctx context.Context, _, startKey string, count int, fields []string) ([]map[string][]byte, error) {
	if count <= 0 {
		return nil, nil
	}
	rows, err := d.scan.QueryContext(ctx, startKey, count)
	if err != nil {
		return nil, fmt.Errorf("sqlite: scan from %q: %w", startKey, err)
	}
	out := make([]map[string][]byte, 0, count)
	for rows.Next() {
		var v []byte
		if err = rows.Scan(&v); err != nil {
			break
		}
		var rec map[string][]byte
		if rec, err = decodeRecord(v, fields); err != nil {
			break
		}
		out = append(out, rec)
	}
	if err = errors.Join(err, rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("sqlite: scan from %q: %w", startKey, err)
	}
	return out, nil
}

func (d *sqliteDB) Update(ctx context.Context, _, key string, values map[string][]byte) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	var old []byte
	err := d.get.QueryRowContext(ctx, key).Scan(&old)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("sqlite", "update", key)
	}
	if err != nil {
		return fmt.Errorf("sqlite: update %q: %w", key, err)
	}
	rec, err := mergeRecord(old, values)
	if err == nil {
		_, err = d.update.ExecContext(ctx, rec, key)
	}
	if err != nil {
		return fmt.Errorf("sqlite: update %q: %w", key, err)
	}
	return nil
}

func (d *sqliteDB) Insert(ctx context.Context, _, key string, values map[string][]byte) error {
	rec := encodeRecord(nil, values)
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if _, err := d.put.ExecContext(ctx, key, rec); err != nil {
		return fmt.Errorf("sqlite: insert %q: %w", key, err)
	}
	return nil
}

func (d *sqliteDB) Delete(ctx context.Context, _, key string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if _, err := d.del.ExecContext(ctx, key); err != nil {
		return fmt.Errorf("sqlite: delete %q: %w", key, err)
	}
	return nil
}
