package engine

import (
	"encoding/binary"
	"fmt"

	"github.com/inmem-db/inmem/internal/errs"
)

// BatchHeader is the size of the fixed part of a RecBatchTimed record.
const BatchHeader = 16

// AppendBatchEntry appends one write; the value is the concatenation of
// its parts.
func AppendBatchEntry(dst, key []byte, val ...[]byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	n := 0
	for _, p := range val {
		n += len(p)
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	for _, p := range val {
		dst = append(dst, p...)
	}
	return dst
}

// DecodeBatch calls fn for each write of an encoded batch of record type
// typ (RecBatch or RecBatchTimed) and returns the batch's step time. key
// and value alias b.
func DecodeBatch(typ byte, b []byte, fn func(version uint64, key, value []byte) error) (int64, error) {
	hdr := 8
	if typ == RecBatchTimed {
		hdr = BatchHeader
	}
	if len(b) < hdr {
		return 0, fmt.Errorf("batch of %d bytes: %w", len(b), errs.ErrCorruption)
	}
	version := binary.LittleEndian.Uint64(b)
	var t int64
	if typ == RecBatchTimed {
		t = int64(binary.LittleEndian.Uint64(b[8:]))
	}
	b = b[hdr:]
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return 0, fmt.Errorf("batch count: %w", errs.ErrCorruption)
	}
	b = b[k:]
	for i := uint64(0); i < n; i++ {
		key, rest, err := ReadChunk(b)
		if err != nil {
			return 0, err
		}
		val, rest, err := ReadChunk(rest)
		if err != nil {
			return 0, err
		}
		b = rest
		if err := fn(version, key, val); err != nil {
			return 0, err
		}
	}
	if len(b) != 0 {
		return 0, fmt.Errorf("batch has %d trailing bytes: %w", len(b), errs.ErrCorruption)
	}
	return t, nil
}

// ReadChunk splits a uvarint-length-prefixed chunk off b (the framing of
// a batch's keys and values, and of snapshot entries).
func ReadChunk(b []byte) (chunk, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, fmt.Errorf("batch entry length: %w", errs.ErrCorruption)
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}
