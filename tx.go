package inmem

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/keys"
	"github.com/inmem-db/inmem/skiplist"

	"github.com/inmem-db/inmem/occ"
)

// maxUpdateAttempts bounds how often Update re-runs a conflicting function.
const maxUpdateAttempts = 64

// Tx is a transaction over one run or shared scope, across all of its
// primitives. It reads the snapshot taken at Begin plus its own writes and
// buffers writes until Commit. A Tx is not safe for concurrent use; finish
// every Tx with Commit or Discard, after which every method returns
// ErrTxDone.
type Tx struct {
	db       *DB
	rs       *runState
	writable bool
	done     bool
	snapshot uint64
	gen      *engine.Generation // what the transaction reads (and prepares its writes in)
	pinned   bool               // a view's snapshot: not registered with the oracle
	clock    func() time.Time   // what "now" is for TTLs: the view's step time in a view

	reads    []uint64 // fingerprints of keys read (writable only)
	prefixes [][]byte // prefixes listed (writable only)
	writes   []engine.Write
	index    map[string]int // key -> writes index, once writes is long
	size     int

	// mem holds a writable transaction's first buffers, from txMemPool.
	mem *txMem
	// slab is the free rest of the memory alloc hands out: buffered keys
	// and values share a few allocations instead of one each.
	slab    []byte
	slabCap int
	getBuf  []byte // the key of a primitive's Get (see primTx.Get)

	kv KV

	// guard replaces rs as the commit guard when set (Runs.Delete).
	guard occ.Guard

	prims   [8]primTx // adapters by primitive tag
	events  Events
	state   State
	traces  Traces
	vectors Vectors

	// readErr is the first read that failed (a damaged cold file): every
	// primitive call that read through it, View, Update and Commit
	// return it, so no caller takes a failed read for a missing key.
	readErr error

	// vectorWrites is set by a write of a vector or collection: the commit
	// then brings built graphs up to it (applyVectorWrite).
	vectorWrites bool
}

// txMem is the memory a writable transaction starts with. It goes back to
// txMemPool when the transaction ends, so a step of an agent allocates
// little more than its Tx: everything buffered in it is copied into the
// arena and the WAL by Commit, and every read hands its caller a copy, so
// nothing refers to it once the transaction is done.
type txMem struct {
	writes [16]engine.Write // no growth for small transactions
	reads  [16]uint64
	ws     [16]occ.Write // what Commit hands the oracle
	slab   [4 << 10]byte
	getBuf [128]byte
}

var txMemPool = sync.Pool{New: func() any { return new(txMem) }}

// release hands the transaction's pooled memory back.
func (tx *Tx) release() {
	m := tx.mem
	if m == nil {
		return
	}
	tx.mem, tx.writes, tx.reads, tx.prefixes, tx.index = nil, nil, nil, nil, nil
	tx.slab, tx.getBuf = nil, nil
	clear(m.writes[:]) // writes too big for the slab are on the heap: let them go
	clear(m.ws[:])
	txMemPool.Put(m)
}

// alloc returns n bytes owned by the transaction, for the keys and values
// it buffers. They are not zeroed: the caller writes every byte. Nothing is ever handed out twice, so a slice stays valid for
// as long as anyone holds it; slabs double from slabMin to slabMax, and
// what would not fit a quarter of a slab gets its own allocation.
func (tx *Tx) alloc(n int) []byte {
	if n > len(tx.slab) {
		size := min(max(slabMin, 2*tx.slabCap), slabMax)
		if n > size/4 {
			return make([]byte, n)
		}
		tx.slab, tx.slabCap = make([]byte, size), size
	}
	b := tx.slab[:n:n]
	tx.slab = tx.slab[n:]
	return b
}

const (
	slabMin = 1 << 10
	slabMax = 64 << 10
)

const indexAfter = 32

// Begin starts a transaction. A read-only one (writable false) returns
// ErrReadOnly from every write.
func (r *Run) Begin(writable bool) (*Tx, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	if st := RunStatus(r.st.status.Load()); st == statusDeleted {
		return nil, fmt.Errorf("run %s: %w", r.st.id, ErrRunNotFound)
	} else if writable && st.Ended() {
		return nil, fmt.Errorf("run %s: %w", r.st.id, ErrRunEnded)
	}
	if writable && r.view != nil {
		return nil, fmt.Errorf("view of run %s at step %d: %w", r.st.id, r.view.step, ErrReadOnly)
	}
	tx := &Tx{db: r.db, rs: r.st, writable: writable, clock: r.db.opts.clock}
	if writable {
		m := txMemPool.Get().(*txMem)
		tx.mem, tx.writes, tx.reads = m, m.writes[:0], m.reads[:0]
		tx.slab, tx.slabCap, tx.getBuf = m.slab[:], len(m.slab), m.getBuf[:0]
	}
	if v := r.view; v != nil {
		// Any generation holds every version at or below what was visible
		// when the view was made (a retained run's history is never
		// reclaimed).
		tx.gen, tx.snapshot, tx.pinned, tx.clock = r.db.store.Current(), v.version, true, v.now
	} else {
		tx.gen, tx.snapshot = r.db.store.BeginAt()
	}
	tx.kv = KV{prim{tx: tx, tag: keys.TagKV}}
	return tx, nil
}

// Update runs fn in a read-write transaction and commits it. If the commit
// conflicts, fn runs again on a fresh snapshot (up to 64 times, with
// growing randomized backoff), so fn must not have effects outside tx. An
// error from fn discards the transaction and is returned as is.
func (r *Run) Update(fn func(tx *Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := r.updateOnce(fn)
		if !errors.Is(err, ErrConflict) || attempt+1 >= maxUpdateAttempts {
			return err
		}
		backoff(attempt)
	}
}

func (r *Run) updateOnce(fn func(tx *Tx) error) error {
	tx, err := r.Begin(true)
	if err != nil {
		return err
	}
	defer tx.Discard()
	if err := fn(tx); err != nil {
		if tx.readErr != nil {
			return tx.readErr
		}
		return err
	}
	return tx.Commit()
}

func backoff(attempt int) {
	if attempt < 3 {
		runtime.Gosched()
		return
	}
	limit := time.Microsecond << min(attempt, 10) // up to ~1ms
	time.Sleep(time.Duration(rand.Int64N(int64(limit))) + time.Microsecond)
}

// View runs fn in a read-only transaction.
func (r *Run) View(fn func(tx *Tx) error) error {
	tx, err := r.Begin(false)
	if err != nil {
		return err
	}
	defer tx.Discard()
	err = fn(tx)
	if tx.readErr != nil {
		return tx.readErr
	}
	return err
}

// KV returns the transaction's key-value primitive.
func (tx *Tx) KV() *KV { return &tx.kv }

// Writable reports whether the transaction may write.
func (tx *Tx) Writable() bool { return tx.writable }

// Discard ends the transaction without committing. It is a no-op after
// Commit or Discard, so it is safe to defer.
func (tx *Tx) Discard() {
	if tx.done {
		return
	}
	tx.done = true
	if !tx.pinned {
		tx.db.store.Oracle.End(tx.snapshot)
	}
	tx.release()
}

// Commit validates the transaction's reads and makes its writes visible
// atomically. It returns ErrConflict if something it read changed since its
// snapshot; then nothing was written. Committing a read-only transaction
// just ends it.
func (tx *Tx) Commit() error {
	if tx.done {
		return ErrTxDone
	}
	defer tx.Discard()
	_, err := tx.commit()
	return err
}

// commit is Commit's work: it puts the writes in key order, hands them
// with the read set to the store's one commit path (engine.Store.Commit), then
// updates what the run derives from the commit (its bookkeeping, its
// vector graphs).
func (tx *Tx) commit() (uint64, error) {
	if tx.db.closed.Load() {
		return 0, ErrClosed
	}
	if tx.readErr != nil {
		return 0, tx.readErr
	}
	if !tx.writable || len(tx.writes) == 0 {
		return 0, nil
	}
	s := tx.db.store
	if s.ReadOnly {
		return 0, engine.ErrReadOnlyDB
	}
	engine.SortWrites(tx.writes, tx.rs.scope) // the commit links them in key order
	var ws []occ.Write                        // the oracle copies them
	if m := tx.mem; m != nil && len(tx.writes) <= len(m.ws) {
		ws = m.ws[:len(tx.writes)]
	} else {
		ws = make([]occ.Write, len(tx.writes))
	}
	var g occ.Guard = tx.rs
	if tx.guard != nil {
		g = tx.guard
	} else {
		tx.rs.stampNow()
	}
	n := len(tx.writes)
	var offBuf [16]uint64
	offs := offBuf[:]
	if n > len(offBuf) {
		offs = make([]uint64, n)
	}
	var spBuf [16]skiplist.Splice
	sps := spBuf[:]
	if n > len(spBuf) {
		sps = make([]skiplist.Splice, n)
	}
	v, err := s.Commit(&tx.rs.Scope, tx.gen, tx.writes, nil, offs[:n], sps[:n],
		&occ.Txn{Snapshot: tx.snapshot, Reads: tx.reads, Prefixes: tx.prefixes, Writes: ws}, g, int64(tx.size))
	if v == 0 {
		return 0, err // refused: no version was taken
	}
	tx.rs.touchAfter(g)
	// A cluster node applied the vector writes with the record.
	if err == nil && tx.vectorWrites && tx.db.cluster == nil {
		for _, w := range tx.writes {
			if k, vi := tx.db.applyVectorWrite(w.Key, w.Val, v); vi != nil {
				tx.db.maybeVacuum(k, vi)
			}
		}
	}
	return v, err
}

// usable returns the error an operation on tx should fail with.
func (tx *Tx) usable(write bool) error {
	switch {
	case tx.done:
		return ErrTxDone
	case tx.db.closed.Load():
		return ErrClosed
	case write && !tx.writable:
		return ErrReadOnly
	}
	return nil
}

func (tx *Tx) find(key []byte) (int, bool) {
	if tx.index != nil {
		i, ok := tx.index[string(key)]
		return i, ok
	}
	for i := range tx.writes {
		if bytes.Equal(tx.writes[i].Key, key) {
			return i, true
		}
	}
	return 0, false
}

// put buffers a write; key and val are owned by tx from here on. A
// secondary-index entry says so in its value's header (engine.ScanOnly).
func (tx *Tx) put(key, val []byte) error {
	if i, ok := tx.find(key); ok {
		delta := len(val) - len(tx.writes[i].Val)
		if tx.size+delta > MaxTxSize {
			return fmt.Errorf("transaction over %d bytes: %w", MaxTxSize, ErrTooLarge)
		}
		tx.size += delta
		tx.writes[i].Val = val
		return nil
	}
	if tx.size+len(key)+len(val) > MaxTxSize {
		return fmt.Errorf("transaction over %d bytes: %w", MaxTxSize, ErrTooLarge)
	}
	tx.size += len(key) + len(val)
	tx.writes = append(tx.writes, engine.Write{Key: key, Val: val})
	if tx.index != nil {
		tx.index[string(key)] = len(tx.writes) - 1
	} else if len(tx.writes) > indexAfter {
		tx.index = make(map[string]int, 2*len(tx.writes))
		for i, w := range tx.writes {
			tx.index[string(w.Key)] = i
		}
	}
	return nil
}

// get reads key: the transaction's own write if any, else the snapshot.
// The result aliases memory the caller must copy.
func (tx *Tx) get(key []byte) ([]byte, bool) {
	if i, ok := tx.find(key); ok {
		return engine.DecodeValue(tx.writes[i].Val, tx.clock)
	}
	var fp uint64 // 0: getIn hashes the key itself
	if tx.writable {
		fp = engine.Fingerprint(key)
		tx.reads = append(tx.reads, fp)
	}
	v, _, ok, err := tx.db.getIn(tx.gen, tx.rs, key, fp, tx.snapshot, tx.clock)
	if err != nil {
		tx.failRead(err)
		return nil, false
	}
	return v, ok
}

// failRead records a read that failed; the first one is what the
// transaction reports.
func (tx *Tx) failRead(err error) {
	if tx.readErr == nil {
		tx.readErr = err
	}
}

// scan calls fn for each live key with prefix in the snapshot merged with
// the transaction's writes, in key order. version is 0 for the
// transaction's own writes.
func (tx *Tx) scan(prefix []byte, fn func(key, value []byte, version uint64) bool) {
	tx.scanFrom(prefix, prefix, fn)
}

// scanFrom is scan starting at the first key >= from, which must have
// prefix as a prefix. The whole prefix counts as read.
func (tx *Tx) scanFrom(prefix, from []byte, fn func(key, value []byte, version uint64) bool) {
	if tx.writable {
		tx.prefixes = append(tx.prefixes, append(tx.alloc(len(prefix))[:0], prefix...))
	}
	var mine []int
	for i := range tx.writes {
		if bytes.HasPrefix(tx.writes[i].Key, prefix) && bytes.Compare(tx.writes[i].Key, from) >= 0 {
			mine = append(mine, i)
		}
	}
	slices.SortFunc(mine, func(a, b int) int { return bytes.Compare(tx.writes[a].Key, tx.writes[b].Key) })
	clock := tx.clock
	// emitMine emits own writes sorting before limit (all if limit is nil)
	// and reports whether to go on.
	emitMine := func(limit []byte) bool {
		for len(mine) > 0 {
			w := tx.writes[mine[0]]
			if limit != nil && bytes.Compare(w.Key, limit) >= 0 {
				return true
			}
			mine = mine[1:]
			if v, live := engine.DecodeValue(w.Val, clock); live && !fn(w.Key, v, 0) {
				return false
			}
		}
		return true
	}
	stopped := false
	err := tx.db.scanIn(tx.gen, tx.rs, prefix, from, tx.snapshot, clock, func(k, v []byte, ver uint64) bool {
		if !emitMine(k) {
			stopped = true
			return false
		}
		if len(mine) > 0 && bytes.Equal(tx.writes[mine[0]].Key, k) {
			return true // shadowed by the transaction's own write, emitted next
		}
		if !fn(k, v, ver) {
			stopped = true
			return false
		}
		return true
	})
	if err != nil {
		tx.failRead(err)
		return
	}
	if !stopped {
		emitMine(nil)
	}
}
