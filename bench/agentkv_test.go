package bench

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/inmem-db/inmem"
	"github.com/inmem-db/inmem/primitives"
	bolt "go.etcd.io/bbolt"
)

// The agent step on a key-value peer: what an application would write to
// keep an agent's event log, KV, step counter and spans in badger, bbolt
// or a btree, in one transaction of that store. The layout is the
// simplest that keeps the same guarantees as inmem's step:
//
//	r|evhead             seq (8) | hash of the last event (32)
//	r|ev|seq             type, payload, time, prev hash, hash
//	r|kv|key             value
//	r|cell|steps         version (8) | value
//	r|spanseq            next span id (8)
//	r|span|id            parent, kind, start, end, status, name, input, output, attrs (JSON)
//	r|spanp|parent|id    (empty): the span tree's index
//
// where r is the 16-byte run ID. Three reads (event head, cell, span
// counter) and seven writes per step; inmem also indexes events by type
// and spans by kind, name and start time, which this layout does not.

// kvTxn is one read-write transaction of a key-value peer.
type kvTxn interface {
	// get returns key's value, valid until the transaction ends, or
	// errNotFound.
	get(key []byte) ([]byte, error)
	// set writes key; key and val stay unchanged until the transaction
	// ends (bbolt keeps them until then).
	set(key, val []byte) error
}

// txStore is a store that runs read-write transactions.
type txStore interface {
	update(fn func(t kvTxn) error) error
}

type badgerTxn struct{ txn *badger.Txn }

func (t badgerTxn) get(key []byte) ([]byte, error) {
	item, err := t.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

func (t badgerTxn) set(key, val []byte) error { return t.txn.Set(key, val) }

func (s *badgerStore) update(fn func(kvTxn) error) error {
	return s.db.Update(func(txn *badger.Txn) error { return fn(badgerTxn{txn}) })
}

type boltTxn struct{ b *bolt.Bucket }

func (t boltTxn) get(key []byte) ([]byte, error) {
	if v := t.b.Get(key); v != nil {
		return v, nil
	}
	return nil, errNotFound
}

func (t boltTxn) set(key, val []byte) error { return t.b.Put(key, val) }

func (s *boltStore) update(fn func(kvTxn) error) error {
	return s.db.Update(func(tx *bolt.Tx) error { return fn(boltTxn{tx.Bucket(boltBucket)}) })
}

// btreeTxn holds the write lock for the whole step. It has no rollback: a
// step that failed half way would leave half its writes (the benchmark's
// steps do not fail).
type btreeTxn struct{ s *btreeStore }

func (t btreeTxn) get(key []byte) ([]byte, error) {
	if it, ok := t.s.t.Get(btreeItem{key: str(key)}); ok {
		return it.val, nil
	}
	return nil, errNotFound
}

func (t btreeTxn) set(key, val []byte) error {
	t.s.t.ReplaceOrInsert(btreeItem{key: string(key), val: append([]byte(nil), val...)})
	return nil
}

func (s *btreeStore) update(fn func(kvTxn) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn(btreeTxn{s})
}

// kvAgent runs agent steps on a txStore for one run.
type kvAgent struct {
	s       txStore
	run     []byte
	version uint64 // the step cell's version, as the caller's CAS expects it
	root    uint64 // the root span every step's span hangs under
}

// key is the run's prefix, a tag and the parts, in a fresh slice: bbolt
// keeps a key until its transaction ends.
func (a *kvAgent) key(tag string, parts ...[]byte) []byte {
	n := len(a.run) + 1 + len(tag)
	for _, p := range parts {
		n += 1 + len(p)
	}
	k := make([]byte, 0, n)
	k = append(append(append(k, a.run...), '|'), tag...)
	for _, p := range parts {
		k = append(append(k, '|'), p...)
	}
	return k
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func newKVAgent(s store) (*kvAgent, error) {
	ts, ok := s.(txStore)
	if !ok {
		return nil, fmt.Errorf("%T runs no transactions", s)
	}
	a := &kvAgent{s: ts, run: fill(16, 17), version: 1, root: 1}
	err := ts.update(func(t kvTxn) error {
		cell := append(be64(1), make([]byte, 8)...)
		if err := t.set(a.key("cell", []byte(stepCell)), cell); err != nil {
			return err
		}
		if err := t.set(a.key("span", be64(a.root)), []byte("agent")); err != nil {
			return err
		}
		return t.set(a.key("spanseq"), be64(a.root+1))
	})
	return a, err
}

// step is BenchmarkAgentStep's transaction: append the event (chained
// from the head read in the transaction), put the KV value, CAS the step
// cell on the version the previous step returned, record the span.
func (a *kvAgent) step(key []byte, now time.Time, val []byte) error {
	err := a.s.update(func(t kvTxn) error {
		var seq uint64
		var prev [32]byte
		switch head, err := t.get(a.key("evhead")); {
		case errors.Is(err, errNotFound):
		case err != nil:
			return err
		default:
			seq = binary.BigEndian.Uint64(head) + 1
			copy(prev[:], head[8:])
		}
		evTime := time.Unix(0, now.UnixNano())
		hash := primitives.EventHash(seq, stepEventType, stepPayload, evTime, prev)
		ev := make([]byte, 0, 2+len(stepEventType)+len(stepPayload)+8+64)
		ev = append(append(append(ev, byte(len(stepEventType))), stepEventType...), stepPayload...)
		ev = binary.BigEndian.AppendUint64(ev, uint64(evTime.UnixNano()))
		ev = append(append(ev, prev[:]...), hash[:]...)
		if err := t.set(a.key("ev", be64(seq)), ev); err != nil {
			return err
		}
		if err := t.set(a.key("evhead"), append(be64(seq), hash[:]...)); err != nil {
			return err
		}

		if err := t.set(a.key("kv", key), stepKVValue); err != nil {
			return err
		}

		ck := a.key("cell", []byte(stepCell))
		cell, err := t.get(ck)
		if err != nil {
			return err
		}
		if v := binary.BigEndian.Uint64(cell); v != a.version {
			return fmt.Errorf("cell %s: version %d, want %d: %w", stepCell, v, a.version, inmem.ErrVersionMismatch)
		}
		if err := t.set(ck, append(be64(a.version+1), val...)); err != nil {
			return err
		}

		sq, err := t.get(a.key("spanseq"))
		if err != nil {
			return err
		}
		id := binary.BigEndian.Uint64(sq)
		if err := t.set(a.key("spanseq"), be64(id+1)); err != nil {
			return err
		}
		sp := llmSpan(inmem.SpanID(a.root), now)
		attrs, err := json.Marshal(sp.Attrs)
		if err != nil {
			return err
		}
		rec := make([]byte, 0, 40+len(sp.Name)+len(sp.Input)+len(sp.Output)+len(attrs)+16)
		rec = binary.BigEndian.AppendUint64(rec, a.root)
		rec = append(rec, byte(sp.Kind))
		rec = binary.BigEndian.AppendUint64(rec, uint64(sp.Start.UnixNano()))
		rec = binary.BigEndian.AppendUint64(rec, uint64(sp.End.UnixNano()))
		for _, f := range [][]byte{[]byte(sp.Status), []byte(sp.Name), sp.Input, sp.Output, attrs} {
			rec = binary.AppendUvarint(rec, uint64(len(f)))
			rec = append(rec, f...)
		}
		if err := t.set(a.key("span", be64(id)), rec); err != nil {
			return err
		}
		return t.set(a.key("spanp", be64(a.root), be64(id)), []byte{})
	})
	if err == nil {
		a.version++
	}
	return err
}

// events counts the run's events: the benchmark checks every step landed.
func (a *kvAgent) events() (uint64, error) {
	var n uint64
	err := a.s.update(func(t kvTxn) error {
		head, err := t.get(a.key("evhead"))
		if err != nil {
			return err
		}
		n = binary.BigEndian.Uint64(head) + 1
		return nil
	})
	return n, err
}
