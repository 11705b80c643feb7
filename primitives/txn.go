package primitives

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Txn is a transaction as one primitive of one run or scope sees it. Keys
// are the primitive's own; the engine places them under the scope and the
// primitive's tag. Reads see the transaction's snapshot plus its own
// writes, and are recorded so that the commit fails if what was read
// changed.
type Txn interface {
	// Get returns the live value of key, which it neither keeps nor
	// changes. The slice is valid only until the transaction's next call:
	// copy it to keep it.
	Get(key []byte) ([]byte, bool)
	// Put buffers a write. The transaction owns key and value afterwards.
	Put(key, value []byte) error
	// PutIndex buffers a secondary-index entry: an empty value that Scan
	// finds but Get never does (the engine skips its point index for it).
	// Use it only for keys that are never read with Get. The transaction
	// owns key afterwards.
	PutIndex(key []byte) error
	// Delete buffers a delete. The transaction owns key afterwards.
	Delete(key []byte) error
	// Scan calls fn for each live key with prefix that sorts at or after
	// prefix+start (start nil: all of them), in key order, until fn returns
	// false. key is the whole key, prefix included. The whole prefix counts
	// as read. key and value are valid only during fn.
	Scan(prefix, start []byte, fn func(key, value []byte) bool)
	// Now is the database's clock.
	Now() time.Time
	// Scratch returns n bytes, not zeroed, that stay valid until the
	// transaction ends, for keys and values about to be handed to Put: a
	// transaction's writes then share a few allocations instead of one
	// each.
	Scratch(n int) []byte
}

func checkName(what, name string) error {
	if name == "" {
		return fmt.Errorf("empty %s: %w", what, ErrInvalidArgument)
	}
	if len(name) > MaxName {
		return fmt.Errorf("%s of %d bytes (max %d): %w", what, len(name), MaxName, ErrTooLarge)
	}
	return nil
}

func checkPayload(what string, b []byte) error {
	if len(b) > MaxPayload {
		return fmt.Errorf("%s of %d bytes (max %d): %w", what, len(b), MaxPayload, ErrTooLarge)
	}
	return nil
}

// key builds a key from a one-byte kind and parts.
func key(kind byte, parts ...[]byte) []byte {
	n := 1
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 1, n)
	k[0] = kind
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

// wkey is key built in the transaction's scratch memory, for keys that are
// written (a key only read is short-lived and stays on the heap).
func wkey(t Txn, kind byte, parts ...[]byte) []byte {
	n := 1
	for _, p := range parts {
		n += len(p)
	}
	k := t.Scratch(n)[:1]
	k[0] = kind
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

// scratch returns an empty slice with capacity n in t's scratch memory.
func scratch(t Txn, n int) []byte { return t.Scratch(n)[:0] }

// put64 writes v big-endian into b and returns it, for key parts that
// should not need an allocation of their own.
func put64(b *[8]byte, v uint64) []byte {
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

// appendLenPrefixed appends s preceded by its length as a uvarint (see
// lenPrefixed).
func appendLenPrefixed(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// lenPrefixed returns s preceded by its length as a uvarint, so a variable
// string inside a key cannot run into what follows it.
func lenPrefixed(s string) []byte {
	b := binary.AppendUvarint(make([]byte, 0, len(s)+2), uint64(len(s)))
	return append(b, s...)
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// decoder reads the fields of a value; the first failure sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = fmt.Errorf("malformed value: %w", ErrCorruption)
	}
}

func (d *decoder) u64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) fixed(n int) []byte {
	if d.err != nil || len(d.b) < n {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// done reports an error if bytes are left over or a read failed.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	return d.err
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// unixNano is t in nanoseconds, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromUnixNano inverts unixNano.
func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
