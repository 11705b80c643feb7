package inmem

import (
	"time"

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
	out := make([]byte, p.prefixLen()+len(k))
	p.keyIn(out, k)
	return out
}

func (p *primTx) Get(k []byte) ([]byte, bool) { return p.tx.get(p.key(k)) }

func (p *primTx) Put(k, v []byte) error {
	if err := p.tx.usable(true); err != nil {
		return err
	}
	// Key and value share one allocation; the value gets the one-byte
	// header of a live value without expiry.
	n := p.prefixLen() + len(k)
	buf := make([]byte, n+1+len(v))
	p.keyIn(buf, k)
	copy(buf[n+1:], v)
	return p.tx.put(buf[:n:n], buf[n:])
}

func (p *primTx) PutIndex(k []byte) error {
	if err := p.tx.usable(true); err != nil {
		return err
	}
	n := p.prefixLen() + len(k)
	buf := make([]byte, n+1) // a live, empty value
	p.keyIn(buf, k)
	return p.tx.putEntry(buf[:n:n], buf[n:], true)
}

func (p *primTx) Delete(k []byte) error {
	if err := p.tx.usable(true); err != nil {
		return err
	}
	return p.tx.put(p.key(k), []byte{flagTombstone})
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
		return fn(tx.prim(h.tag))
	}
	if err := h.run.usable(); err != nil {
		return err
	}
	if write {
		return h.run.Update(func(tx *Tx) error { return fn(tx.prim(h.tag)) })
	}
	return h.run.View(func(tx *Tx) error { return fn(tx.prim(h.tag)) })
}
