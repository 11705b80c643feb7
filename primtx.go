package inmem

import (
	"time"

	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/keys"
	"github.com/inmem-db/inmem/primitives"
)

// primTx adapts a Tx to primitives.Txn for one primitive (tag) of the
// transaction's run or scope: it prefixes keys with scope | tag and wraps
// values in the value header.
type primTx struct {
	tx  *Tx
	tag byte
}

// prim returns the transaction's adapter for one primitive; adapters live
// in the Tx, so handing one out allocates nothing.
func (tx *Tx) prim(tag byte) *primTx {
	p := &tx.prims[tag%byte(len(tx.prims))]
	p.tx, p.tag = tx, tag
	return p
}

func (p *primTx) prefixLen() int { return len(p.tx.rs.scope) + 1 }

// keyIn copies scope | tag | k into the start of buf, which must be large
// enough, and returns the key's length.
func (p *primTx) keyIn(buf, k []byte) int {
	n := copy(buf, p.tx.rs.scope)
	buf[n] = p.tag
	return n + 1 + copy(buf[n+1:], k)
}

func (p *primTx) key(k []byte) []byte {
	out := p.tx.alloc(p.prefixLen() + len(k))
	p.keyIn(out, k)
	return out
}

func (p *primTx) Scratch(n int) []byte { return p.tx.alloc(n) }

// Get builds the full key in a buffer reused by every Get of the
// transaction: get keeps nothing of the key, and a query that reads many
// entries should not leave one key behind per entry.
func (p *primTx) Get(k []byte) ([]byte, bool) {
	n := p.prefixLen() + len(k)
	if cap(p.tx.getBuf) < n {
		p.tx.getBuf = make([]byte, n, max(n, 64))
	}
	buf := p.tx.getBuf[:n]
	p.keyIn(buf, k)
	return p.tx.get(buf)
}

func (p *primTx) Put(k, v []byte) error {
	if err := p.tx.usable(true); err != nil {
		return err
	}
	// Key and value share one allocation; the value gets the one-byte
	// header of a live value without expiry.
	n := p.prefixLen() + len(k)
	buf := p.tx.alloc(n + 1 + len(v))
	p.keyIn(buf, k)
	p.derives()
	buf[n] = 0 // the header of a live value without expiry
	copy(buf[n+1:], v)
	return p.tx.put(buf[:n:n], buf[n:])
}

func (p *primTx) PutIndex(k []byte) error {
	if err := p.tx.usable(true); err != nil {
		return err
	}
	n := p.prefixLen() + len(k)
	buf := p.tx.alloc(n + 1)
	buf[n] = engine.FlagScanOnly // a live, empty value, kept out of the point index
	p.keyIn(buf, k)
	return p.tx.put(buf[:n:n], buf[n:])
}

func (p *primTx) Delete(k []byte) error {
	if err := p.tx.usable(true); err != nil {
		return err
	}
	p.derives()
	return p.tx.put(p.key(k), engine.Tombstone)
}

// derives marks the transaction's commit as one to apply to the vector
// graphs when p writes vectors.
func (p *primTx) derives() {
	if p.tag == keys.TagVector {
		p.tx.vectorWrites = true
	}
}

func (p *primTx) Scan(prefix, start []byte, fn func(k, v []byte) bool) {
	full := p.key(prefix)
	from := full
	if len(start) > 0 {
		from = append(append(make([]byte, 0, len(full)+len(start)), full...), start...)
	}
	base := p.prefixLen()
	p.tx.scanFrom(full, from, func(k, v []byte, _ uint64) bool { return fn(k[base:], v) })
}

func (p *primTx) Now() time.Time { return p.tx.clock() }

// prim is what every primitive handle holds: the run it belongs to and,
// when obtained from a Tx, that transaction.
type prim struct {
	run *Run
	tx  *Tx
	tag byte
}

// do runs fn against the handle's transaction, or, for a handle from a
// run, in a transaction of its own: read-write (retried on conflict) when
// write is set, a read-only snapshot otherwise.
func (h prim) do(write bool, fn func(t primitives.Txn) error) error {
	if tx := h.tx; tx != nil {
		if err := tx.usable(write); err != nil {
			return err
		}
		err := fn(tx.prim(h.tag))
		if tx.readErr != nil {
			return tx.readErr
		}
		return err
	}
	if err := h.run.usable(); err != nil {
		return err
	}
	if write {
		return h.run.Update(func(tx *Tx) error { return fn(tx.prim(h.tag)) })
	}
	return h.run.View(func(tx *Tx) error { return fn(tx.prim(h.tag)) })
}
