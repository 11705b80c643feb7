package inmem

import (
	"encoding/binary"
	"fmt"

	"github.com/inmem-db/inmem/wal"
)

// recBatch is the WAL record of one committed transaction:
//
//	version uint64 LE | count uvarint | (keyLen uvarint key valLen uvarint value)*
//
// Values are stored exactly as in the engine (header included), so replay
// reinserts the same bytes at the same version.
const recBatch = wal.TypeUser

// appendBatchEntry appends one write; the value is the concatenation of
// its parts.
func appendBatchEntry(dst, key []byte, val ...[]byte) []byte {
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

// decodeBatch calls fn for each write of an encoded batch. key and value
// alias b.
func decodeBatch(b []byte, fn func(version uint64, key, value []byte) error) error {
	if len(b) < 8 {
		return fmt.Errorf("batch of %d bytes: %w", len(b), ErrCorruption)
	}
	version := binary.LittleEndian.Uint64(b)
	b = b[8:]
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return fmt.Errorf("batch count: %w", ErrCorruption)
	}
	b = b[k:]
	for i := uint64(0); i < n; i++ {
		key, rest, err := readChunk(b)
		if err != nil {
			return err
		}
		val, rest, err := readChunk(rest)
		if err != nil {
			return err
		}
		b = rest
		if err := fn(version, key, val); err != nil {
			return err
		}
	}
	if len(b) != 0 {
		return fmt.Errorf("batch has %d trailing bytes: %w", len(b), ErrCorruption)
	}
	return nil
}

func readChunk(b []byte) (chunk, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, fmt.Errorf("batch entry length: %w", ErrCorruption)
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}
