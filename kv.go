package inmem

import (
	"fmt"
	"iter"
	"runtime"
	"strings"
	"time"

	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/keys"
)

// Entry is a key-value pair as listed by KV.List.
type Entry struct {
	Key   string
	Value []byte
	// Version is the commit version that wrote the value; 0 for a value
	// the listing transaction itself wrote and has not committed.
	Version uint64
}

// KV is the key-value primitive of a run, shared scope or transaction.
// Through a run each call is its own transaction; through Tx.KV the calls
// join that transaction.
//
// It holds a prim like the other primitives' handles, but its point reads
// and one-write puts do not go through prim.do: a Get reads the store at a
// snapshot and a Put commits through engine.Store.PutBlind, with no transaction
// object, which is what keeps both free of heap allocations.
type KV struct{ h prim }

// KV returns the run's key-value primitive.
func (r *Run) KV() *KV { return &r.kv }

// keyBufSize is the stack buffer for encoding keys on the hot paths; longer
// keys fall back to the heap.
const keyBufSize = 192

func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("empty key: %w", ErrInvalidArgument)
	}
	if len(key) > MaxKeySize {
		return fmt.Errorf("key of %d bytes (max %d): %w", len(key), MaxKeySize, ErrTooLarge)
	}
	return nil
}

func checkValue(value []byte) error {
	if len(value) > MaxValueSize {
		return fmt.Errorf("value of %d bytes (max %d): %w", len(value), MaxValueSize, ErrTooLarge)
	}
	return nil
}

func (rs *runState) kvKey(dst []byte, key string) []byte {
	dst = append(dst, rs.scope...)
	dst = append(dst, keys.TagKV)
	return append(dst, key...)
}

func clone(b []byte) []byte {
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

// Get returns the value of key, or ErrNotFound if it is absent, deleted or
// expired.
func (kv *KV) Get(key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	var buf [keyBufSize]byte
	if tx := kv.h.tx; tx != nil {
		if err := tx.usable(false); err != nil {
			return nil, err
		}
		v, ok := tx.get(tx.rs.kvKey(buf[:0], key))
		if tx.readErr != nil {
			return nil, tx.readErr
		}
		if !ok {
			return nil, ErrNotFound
		}
		return clone(v), nil
	}
	r := kv.h.run
	if err := r.usable(); err != nil {
		return nil, err
	}
	g, snap := r.db.store.ReadAt()
	if r.layered() {
		// A view or a fork: the same single read, at the view's version
		// and through the fork's layers; still no transaction.
		clock := r.db.opts.clock
		if v := r.view; v != nil {
			snap, clock = v.version, v.now
		}
		v, _, ok, err := r.db.getIn(g, r.st, r.st.kvKey(buf[:0], key), 0, snap, clock)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, ErrNotFound
		}
		out := clone(v)
		runtime.KeepAlive(g) // v aliases g's memory until copied
		return out, nil
	}
	v, _, ok := g.Get(r.st.kvKey(buf[:0], key), snap, r.db.opts.clock)
	if !ok {
		return nil, ErrNotFound
	}
	out := clone(v)
	runtime.KeepAlive(g)
	return out, nil
}

// Put sets key to value.
func (kv *KV) Put(key string, value []byte) error {
	return kv.write(key, value, false, 0)
}

// PutTTL sets key to value until ttl has passed (by the database's clock);
// after that the key reads as absent.
func (kv *KV) PutTTL(key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("ttl %v: must be positive: %w", ttl, ErrInvalidArgument)
	}
	var clock func() time.Time
	if kv.h.tx != nil {
		clock = kv.h.tx.db.opts.clock
	} else {
		clock = kv.h.run.db.opts.clock
	}
	return kv.write(key, value, false, clock().Add(ttl).UnixNano())
}

// Delete removes key. Deleting an absent key is not an error.
func (kv *KV) Delete(key string) error {
	return kv.write(key, nil, true, 0)
}

func (kv *KV) write(key string, value []byte, tombstone bool, expires int64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkValue(value); err != nil {
		return err
	}
	var hdr [engine.MaxValueHeader]byte
	h := engine.EncodeHeader(&hdr, tombstone, expires)
	if tx := kv.h.tx; tx != nil {
		if err := tx.usable(true); err != nil {
			return err
		}
		kn := len(tx.rs.scope) + 1 + len(key)
		buf := tx.alloc(kn + len(h) + len(value))
		k := tx.rs.kvKey(buf[:0:kn], key)
		val := buf[kn:]
		copy(val[copy(val, h):], value)
		return tx.put(k, val)
	}
	r := kv.h.run
	if err := r.usable(); err != nil {
		return err
	}
	if r.view != nil {
		return fmt.Errorf("view of run %s at step %d: %w", r.st.id, r.view.step, ErrReadOnly)
	}
	var buf [keyBufSize]byte
	r.st.stampNow()
	if _, err := r.db.store.PutBlind(&r.st.Scope, r.st.kvKey(buf[:0], key), h, value, r.st); err != nil {
		return err
	}
	r.st.touchAfter(r.st)
	return nil
}

// List returns the live entries whose key starts with prefix, in key order.
// An empty prefix lists every key.
func (kv *KV) List(prefix string) ([]Entry, error) {
	var out []Entry
	err := kv.scan(prefix, func(k string, v []byte, ver uint64) bool {
		out = append(out, Entry{Key: k, Value: v, Version: ver})
		return true
	})
	return out, err
}

// Scan calls fn for each live key with prefix, in key order, until fn
// returns false. The value passed to fn is fn's to keep.
func (kv *KV) Scan(prefix string, fn func(key string, value []byte) bool) error {
	if fn == nil {
		return fmt.Errorf("scan: nil function: %w", ErrInvalidArgument)
	}
	return kv.scan(prefix, func(k string, v []byte, _ uint64) bool { return fn(k, v) })
}

func (kv *KV) scan(prefix string, fn func(key string, value []byte, version uint64) bool) error {
	return kv.scanFrom(prefix, "", fn)
}

// scanFrom is scan starting at the first key >= from; a from that does not
// sort after prefix starts at prefix.
func (kv *KV) scanFrom(prefix, from string, fn func(key string, value []byte, version uint64) bool) error {
	if len(prefix) > MaxKeySize {
		return fmt.Errorf("prefix of %d bytes (max %d): %w", len(prefix), MaxKeySize, ErrTooLarge)
	}
	var rs *runState
	if kv.h.tx != nil {
		if err := kv.h.tx.usable(false); err != nil {
			return err
		}
		rs = kv.h.tx.rs
	} else {
		if err := kv.h.run.usable(); err != nil {
			return err
		}
		rs = kv.h.run.st
	}
	if from <= prefix {
		from = prefix
	} else if !strings.HasPrefix(from, prefix) {
		return nil // from sorts after every key with prefix
	}
	p := rs.kvKey(nil, prefix)
	start := p
	if len(from) > len(prefix) {
		start = rs.kvKey(nil, from)
	}
	base := len(rs.scope) + 1
	var cb copyBuf
	emit := func(k, v []byte, ver uint64) bool { return fn(cb.string(k[base:]), cb.bytes(v), ver) }
	if kv.h.tx != nil {
		kv.h.tx.scanFrom(p, start, emit)
		return nil
	}
	// The generation first, then whether the run is frozen: a run found
	// not frozen after the generation was taken has its versions in it
	// (a reclaim drops a frozen run's versions only after the freeze is
	// applied). The other order listed nothing when a freeze and a
	// reclaim fell between the two.
	g, snap := kv.h.run.db.store.ReadAt()
	if kv.h.run.layered() {
		return kv.h.run.View(func(tx *Tx) error {
			tx.scanFrom(p, start, emit)
			return nil
		})
	}
	g.ScanFrom(p, start, snap, kv.h.run.db.opts.clock, emit)
	runtime.KeepAlive(g)
	return nil
}

// Entries returns the live entries whose key starts with prefix, in key
// order, as a sequence for range:
//
//	for e, err := range kv.Entries("ticket/") {
//		if err != nil {
//			return err
//		}
//		use(e.Key, e.Value)
//	}
//
// Entries are read one at a time from the snapshot taken when the loop
// starts, so the loop may stop early (break or return) without reading the
// rest, and a long loop keeps that snapshot's memory alive until it ends.
// An error (ErrClosed, ErrTooLarge for a long prefix, ...) is yielded once,
// with a zero Entry, and ends the sequence. Through Tx.KV the reads join
// the transaction, and the whole prefix counts as read, as for List.
func (kv *KV) Entries(prefix string) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		stopped := false
		var ended error
		err := kv.scan(prefix, func(k string, v []byte, ver uint64) bool {
			if stopped = !yield(Entry{Key: k, Value: v, Version: ver}, nil); stopped {
				return false
			}
			if kv.h.tx != nil && kv.h.tx.done {
				// The loop body committed or discarded the transaction
				// the scan reads through, whose buffers are released.
				ended = ErrTxDone
				return false
			}
			return true
		})
		if err == nil {
			err = ended
		}
		if err != nil && !stopped {
			yield(Entry{}, err)
		}
	}
}

// ListAfter is List for one page: at most limit live entries (0: no
// limit) whose key starts with prefix and sorts after after, in key order.
// To page through a prefix, pass "" first and then the last key returned,
// until a page comes back shorter than limit. Each page is its own read,
// so a key written between pages shows up if it sorts after the cursor.
// A negative limit is ErrInvalidArgument.
func (kv *KV) ListAfter(prefix, after string, limit int) ([]Entry, error) {
	if limit < 0 {
		return nil, fmt.Errorf("list limit %d: %w", limit, ErrInvalidArgument)
	}
	if len(after) > MaxKeySize {
		return nil, fmt.Errorf("list cursor of %d bytes (max %d): %w", len(after), MaxKeySize, ErrTooLarge)
	}
	from := ""
	if after != "" {
		from = after + "\x00" // the least key after it
	}
	var out []Entry
	err := kv.scanFrom(prefix, from, func(k string, v []byte, ver uint64) bool {
		out = append(out, Entry{Key: k, Value: v, Version: ver})
		return limit == 0 || len(out) < limit
	})
	return out, err
}
