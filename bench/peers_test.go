package bench

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"unsafe"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/btree"
	"github.com/inmem-db/inmem"
	bolt "go.etcd.io/bbolt"
)

// The peers of the workload benchmarks, behind one small interface so that
// every workload runs the same loop over each of them. The interface call
// costs a few nanoseconds, the same for every peer.
//
// Names, which are the last element of every sub-benchmark name (the
// table command groups by it):
//
//	inmem          OpenInMemory
//	inmem-batched  Open, default durability (Batched 100ms / 1000 commits)
//	inmem-strict   Open with Strict durability (fsync before Commit returns)
//	badger-mem     badger v4, InMemory
//	badger-disk    badger v4 on disk, SyncWrites off (the default)
//	badger-sync    badger v4 on disk, SyncWrites on
//	bbolt          bbolt, default: fsync at every commit
//	bbolt-nosync   bbolt with NoSync: writes reach the OS, no fsync
//	bbolt-batch    bbolt, writes through db.Batch (concurrent writers share a commit)
//	btree          google/btree degree 32 under a sync.RWMutex
//	sqlite         modernc.org/sqlite, WAL, synchronous=NORMAL (fsync at checkpoints)
//	sqlite-full    the same with synchronous=FULL (fsync at every commit)
//
// badger-disk, bbolt-nosync and sqlite lose the last commits when the
// machine fails but not when the process does, as inmem-batched may lose
// its last 100ms: they are its peers. badger-sync, bbolt and sqlite-full
// are inmem-strict's.

// errNotFound is what every store's get returns for an absent key.
var errNotFound = errors.New("not found")

// store is one database under a workload: single-operation transactions
// and a bulk load.
type store interface {
	// put writes key in a transaction of its own.
	put(key, val []byte) error
	// get returns a copy of key's value the caller owns, or errNotFound.
	get(key []byte) ([]byte, error)
	// scan calls fn for each key with prefix in key order, in one read
	// transaction, with a copy of the value.
	scan(prefix []byte, fn func(k, v []byte)) error
	// load writes keys [0, n) with val, in large transactions.
	load(n int, key func(i int) []byte, val []byte) error
	close() error
}

// opener opens a fresh, empty store in dir (which it may ignore).
type opener struct {
	name string
	open func(dir string) (store, error)
}

var (
	openInmemStore        = opener{"inmem", func(string) (store, error) { return newInmemStore(inmem.OpenInMemory()) }}
	openInmemBatchedStore = opener{"inmem-batched", func(dir string) (store, error) { return newInmemStore(inmem.Open(dir)) }}
	openInmemStrictStore  = opener{"inmem-strict", func(dir string) (store, error) {
		return newInmemStore(inmem.Open(dir, inmem.WithDurability(inmem.Strict())))
	}}
	openBadgerMem  = opener{"badger-mem", func(string) (store, error) { return newBadgerStore(badger.DefaultOptions("").WithInMemory(true)) }}
	openBadgerDisk = opener{"badger-disk", func(dir string) (store, error) { return newBadgerStore(badger.DefaultOptions(dir)) }}
	openBadgerSync = opener{"badger-sync", func(dir string) (store, error) {
		return newBadgerStore(badger.DefaultOptions(dir).WithSyncWrites(true))
	}}
	openBolt       = opener{"bbolt", func(dir string) (store, error) { return newBoltStore(dir, false) }}
	openBoltNoSync = opener{"bbolt-nosync", func(dir string) (store, error) { return newBoltStore(dir, true) }}
	openBoltBatch  = opener{"bbolt-batch", func(dir string) (store, error) {
		s, err := newBoltStore(dir, false)
		if err != nil {
			return nil, err
		}
		return boltBatchStore{s.(*boltStore)}, nil
	}}
	openBTree      = opener{"btree", func(string) (store, error) { return newBTreeStore(), nil }}
	openSQLite     = opener{"sqlite", func(dir string) (store, error) { return newSQLiteStore(dir, "NORMAL") }}
	openSQLiteFull = opener{"sqlite-full", func(dir string) (store, error) { return newSQLiteStore(dir, "FULL") }}
)

// ---- inmem -----------------------------------------------------------------

type inmemStore struct {
	db  *inmem.DB
	run *inmem.Run
	kv  *inmem.KV
}

func newInmemStore(db *inmem.DB, err error) (store, error) {
	if err != nil {
		return nil, err
	}
	run, err := db.BeginRun()
	if err != nil {
		db.Close()
		return nil, err
	}
	return &inmemStore{db: db, run: run, kv: run.KV()}, nil
}

// str views b as a string without copying; inmem copies what it is handed.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func (s *inmemStore) put(key, val []byte) error { return s.kv.Put(str(key), val) }

func (s *inmemStore) get(key []byte) ([]byte, error) {
	v, err := s.kv.Get(str(key))
	if errors.Is(err, inmem.ErrNotFound) {
		return nil, errNotFound
	}
	return v, err
}

func (s *inmemStore) scan(prefix []byte, fn func(k, v []byte)) error {
	return s.kv.Scan(str(prefix), func(k string, v []byte) bool {
		fn(unsafe.Slice(unsafe.StringData(k), len(k)), v)
		return true
	})
}

func (s *inmemStore) load(n int, key func(int) []byte, val []byte) error {
	for lo := 0; lo < n; lo += dbBatch {
		if err := s.run.Update(func(tx *inmem.Tx) error {
			for i := lo; i < min(lo+dbBatch, n); i++ {
				if err := tx.KV().Put(str(key(i)), val); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

func (s *inmemStore) close() error { return s.db.Close() }

// ---- badger ----------------------------------------------------------------

type badgerStore struct{ db *badger.DB }

func newBadgerStore(opts badger.Options) (store, error) {
	db, err := badger.Open(opts.WithLogger(nil))
	if err != nil {
		return nil, err
	}
	return &badgerStore{db}, nil
}

func (s *badgerStore) put(key, val []byte) error {
	return s.db.Update(func(txn *badger.Txn) error { return txn.Set(key, val) })
}

func (s *badgerStore) get(key []byte) ([]byte, error) {
	var v []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, errNotFound
	}
	return v, err
}

func (s *badgerStore) scan(prefix []byte, fn func(k, v []byte)) error {
	return s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			item := it.Item()
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			fn(item.Key(), v)
		}
		return nil
	})
}

func (s *badgerStore) load(n int, key func(int) []byte, val []byte) error {
	wb := s.db.NewWriteBatch()
	for i := 0; i < n; i++ {
		if err := wb.Set(key(i), val); err != nil {
			return err
		}
	}
	return wb.Flush()
}

func (s *badgerStore) close() error { return s.db.Close() }

// ---- bbolt -----------------------------------------------------------------

var boltBucket = []byte("kv")

type boltStore struct{ db *bolt.DB }

func newBoltStore(dir string, noSync bool) (store, error) {
	db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o600, &bolt.Options{NoSync: noSync, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(boltBucket)
		return err
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &boltStore{db}, nil
}

// bbolt keeps the key and value slices it is handed until the transaction
// ends; these are not mutated before then.
func (s *boltStore) put(key, val []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(boltBucket).Put(key, val) })
}

func (s *boltStore) get(key []byte) ([]byte, error) {
	var v []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(boltBucket).Get(key); b != nil {
			v = append(make([]byte, 0, len(b)), b...)
			return nil
		}
		return errNotFound
	})
	return v, err
}

func (s *boltStore) scan(prefix []byte, fn func(k, v []byte)) error {
	return s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(boltBucket).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			fn(k, append(make([]byte, 0, len(v)), v...))
		}
		return nil
	})
}

func (s *boltStore) load(n int, key func(int) []byte, val []byte) error {
	const perTx = 50_000
	for lo := 0; lo < n; lo += perTx {
		if err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(boltBucket)
			b.FillPercent = 1 // keys arrive in order: pack the pages
			for i := lo; i < min(lo+perTx, n); i++ {
				if err := b.Put(key(i), val); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

func (s *boltStore) close() error { return s.db.Close() }

// boltBatchStore puts through db.Batch, which coalesces concurrent callers
// into one transaction and one fsync.
type boltBatchStore struct{ *boltStore }

func (s boltBatchStore) put(key, val []byte) error {
	return s.db.Batch(func(tx *bolt.Tx) error { return tx.Bucket(boltBucket).Put(key, val) })
}

// ---- btree + RWMutex ---------------------------------------------------------

// btreeStore is what a hand-rolled store would be: an ordered in-memory
// map under a reader-writer lock, no durability, no transactions.
type btreeStore struct {
	mu sync.RWMutex
	t  *btree.BTreeG[btreeItem]
}

type btreeItem struct {
	key string
	val []byte
}

func newBTreeStore() *btreeStore {
	return &btreeStore{t: btree.NewG(32, func(a, b btreeItem) bool { return a.key < b.key })}
}

func (s *btreeStore) put(key, val []byte) error {
	it := btreeItem{key: string(key), val: append([]byte(nil), val...)}
	s.mu.Lock()
	s.t.ReplaceOrInsert(it)
	s.mu.Unlock()
	return nil
}

func (s *btreeStore) get(key []byte) ([]byte, error) {
	s.mu.RLock()
	it, ok := s.t.Get(btreeItem{key: str(key)})
	var out []byte
	if ok {
		out = append(make([]byte, 0, len(it.val)), it.val...)
	}
	s.mu.RUnlock()
	if !ok {
		return nil, errNotFound
	}
	return out, nil
}

func (s *btreeStore) scan(prefix []byte, fn func(k, v []byte)) error {
	p := str(prefix)
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.t.AscendGreaterOrEqual(btreeItem{key: p}, func(it btreeItem) bool {
		if len(it.key) < len(p) || it.key[:len(p)] != p {
			return false
		}
		fn(unsafe.Slice(unsafe.StringData(it.key), len(it.key)), append(make([]byte, 0, len(it.val)), it.val...))
		return true
	})
	return nil
}

func (s *btreeStore) load(n int, key func(int) []byte, val []byte) error {
	for i := 0; i < n; i++ {
		if err := s.put(key(i), val); err != nil {
			return err
		}
	}
	return nil
}

func (s *btreeStore) close() error { return nil }

// ---- SQLite ----------------------------------------------------------------

// sqliteStore is one table (key TEXT PRIMARY KEY, value BLOB) WITHOUT
// ROWID, so the key is the table's only B-tree, with statements prepared
// once.
type sqliteStore struct {
	db                   *sql.DB
	putSt, getSt, scanSt *sql.Stmt
}

func newSQLiteStore(dir, synchronous string) (store, error) {
	dsn := "file:" + filepath.Join(dir, "kv.db") + "?_pragma=journal_mode(WAL)&_pragma=synchronous(" + synchronous +
		")&_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// A pool as wide as the machine: WAL lets readers run beside the one
	// writer; the writers queue on busy_timeout.
	db.SetMaxOpenConns(max(2, runtime.GOMAXPROCS(0)))
	db.SetMaxIdleConns(max(2, runtime.GOMAXPROCS(0)))
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID`); err != nil {
		db.Close()
		return nil, err
	}
	s := &sqliteStore{db: db}
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&s.putSt, `INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`},
		{&s.getSt, `SELECT value FROM kv WHERE key = ?`},
		{&s.scanSt, `SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key`},
	} {
		if *p.st, err = db.Prepare(p.q); err != nil {
			db.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *sqliteStore) put(key, val []byte) error {
	_, err := s.putSt.Exec(key, val)
	return err
}

func (s *sqliteStore) get(key []byte) ([]byte, error) {
	var v []byte
	err := s.getSt.QueryRow(key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	return v, err
}

// prefixEnd is the smallest key greater than every key with prefix (the
// prefixes here never end in 0xff).
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	end[len(end)-1]++
	return end
}

func (s *sqliteStore) scan(prefix []byte, fn func(k, v []byte)) error {
	rows, err := s.scanSt.Query(prefix, prefixEnd(prefix))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		fn(k, v)
	}
	return rows.Err()
}

func (s *sqliteStore) load(n int, key func(int) []byte, val []byte) error {
	const perTx = 50_000
	for lo := 0; lo < n; lo += perTx {
		tx, err := s.db.Begin()
		if err != nil {
			return err
		}
		st := tx.Stmt(s.putSt)
		for i := lo; i < min(lo+perTx, n); i++ {
			if _, err := st.Exec(key(i), val); err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func (s *sqliteStore) close() error {
	for _, st := range []*sql.Stmt{s.putSt, s.getSt, s.scanSt} {
		st.Close()
	}
	return s.db.Close()
}

// ---- datasets --------------------------------------------------------------

// A dataset is a store holding dbKeyCount keys with dbValue, built once
// per process and shared by the read and mixed benchmarks (and by every
// -count run), in a directory removed when the process ends.
type dataset struct {
	once sync.Once
	s    store
	dir  string
	err  error
}

var (
	datasetsMu sync.Mutex
	datasets   = map[string]*dataset{}
)

// loadDataset returns o's dataset, building it on first use.
func loadDataset(b *testing.B, o opener) store {
	b.Helper()
	dbLoadKeys()
	datasetsMu.Lock()
	d := datasets[o.name]
	if d == nil {
		d = &dataset{}
		datasets[o.name] = d
	}
	datasetsMu.Unlock()
	d.once.Do(func() {
		if d.dir, d.err = os.MkdirTemp("", "inmem-bench-"+o.name+"-"); d.err != nil {
			return
		}
		if d.s, d.err = o.open(d.dir); d.err != nil {
			return
		}
		d.err = d.s.load(dbKeyCount, dbKeyBytes, dbValue)
	})
	if d.err != nil {
		b.Fatalf("%s dataset: %v", o.name, d.err)
	}
	return d.s
}

// closeDatasets closes every dataset and removes its files.
func closeDatasets() {
	datasetsMu.Lock()
	defer datasetsMu.Unlock()
	for name, d := range datasets {
		if d.s != nil {
			if err := d.s.close(); err != nil {
				fmt.Fprintf(os.Stderr, "%s dataset: close: %v\n", name, err)
			}
		}
		if d.dir != "" {
			os.RemoveAll(d.dir)
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	closeDatasets()
	os.Exit(code)
}
