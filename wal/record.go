package wal

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/klauspost/crc32"
)

// HeaderSize is the size of a record's frame header.
const HeaderSize = 9

// MaxRecord bounds a record's payload; a length above it is damage, not a
// record.
const MaxRecord = 512 << 20

// Record types used by the log itself. Types from TypeUser on are the
// caller's.
const (
	typeSegment byte = 1 // segment header: magic and segment number
	// TypeUser is the first type free for callers.
	TypeUser byte = 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorruption reports on-disk data that failed a check.
var ErrCorruption = errors.New("wal: corruption")

// errTorn marks a frame cut short by the end of the data.
var errTorn = errors.New("wal: torn record")

// typeCRC holds the checksum of each one-byte type, where every record's
// checksum starts: computing it per record would pass a stack byte to the
// checksum routine, which makes it escape (an allocation per record).
var typeCRC = func() (t [256]uint32) {
	for i := range t {
		t[i] = crc32.Update(0, castagnoli, []byte{byte(i)})
	}
	return t
}()

func checksum(typ byte, payload []byte) uint32 {
	return crc32.Update(typeCRC[typ], castagnoli, payload)
}

// AppendRecord appends the framed record to dst.
func AppendRecord(dst []byte, typ byte, payload []byte) []byte {
	h := Header(typ, payload)
	dst = append(dst, h[:]...)
	return append(dst, payload...)
}

// Header returns the frame header of a record: what AppendRecord writes
// before the payload, for a writer that sends a large payload on without
// copying it.
func Header(typ byte, payload []byte) [HeaderSize]byte {
	var h [HeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:8], checksum(typ, payload))
	h[8] = typ
	return h
}

// DecodeRecord parses the record at the start of b. It returns the type,
// the payload (aliasing b) and the frame's total size. A frame that runs
// past the end of b returns errTorn; a bad checksum or length returns
// ErrCorruption.
func DecodeRecord(b []byte) (typ byte, payload []byte, n int, err error) {
	if len(b) < HeaderSize {
		return 0, nil, 0, errTorn
	}
	length := binary.LittleEndian.Uint32(b[0:4])
	if length > MaxRecord {
		return 0, nil, 0, fmt.Errorf("record length %d: %w", length, ErrCorruption)
	}
	end := HeaderSize + int(length)
	if len(b) < end {
		return 0, nil, 0, errTorn
	}
	typ = b[8]
	payload = b[HeaderSize:end]
	if checksum(typ, payload) != binary.LittleEndian.Uint32(b[4:8]) {
		return 0, nil, 0, fmt.Errorf("record checksum mismatch: %w", ErrCorruption)
	}
	return typ, payload, end, nil
}

// validFrameAfter reports whether any offset of b holds a complete record
// with a valid checksum. Recovery uses it to tell a torn tail (nothing valid
// follows) from damage in the middle of the log.
func validFrameAfter(b []byte) bool {
	for i := 0; i+HeaderSize <= len(b); i++ {
		if !plausibleType(b[i+8]) || int(binary.LittleEndian.Uint32(b[i:i+4])) > len(b)-i-HeaderSize {
			continue // cheap filter before paying for a checksum
		}
		if _, _, _, err := DecodeRecord(b[i:]); err == nil {
			return true
		}
	}
	return false
}

// maxTypes bounds the caller's record types, so scanning for valid frames
// can skip most offsets without a checksum.
const maxTypes = 32

func plausibleType(t byte) bool {
	return t == typeSegment || (t >= TypeUser && t < TypeUser+maxTypes)
}
