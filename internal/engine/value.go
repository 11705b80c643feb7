package engine

import (
	"encoding/binary"
	"time"
)

// Stored values carry a one-byte header so deletes and TTLs are versions
// like any other write, and a secondary-index entry says what it is
// wherever its value goes (the WAL, a snapshot, a copy):
//
//	flags [expiry unix-nanos, 8 bytes big-endian, if FlagExpires] user-value
const (
	FlagTombstone byte = 1 << 0
	FlagExpires   byte = 1 << 1
	// FlagScanOnly marks a secondary-index entry (see ScanOnly). Readers
	// that predate it ignore it: the value reads the same.
	FlagScanOnly byte = 1 << 2
)

// ScanOnly reports whether val (as stored) is a secondary-index entry's:
// found by scans, never by a point read, so every list it is linked into
// (by a commit, by recovery, by a reclaim's copy) keeps it out of the point
// index. Entries written before the flag existed are indexed, as they were.
func ScanOnly(val []byte) bool { return len(val) > 0 && val[0]&FlagScanOnly != 0 }

// Tombstone is the stored value of a delete. Shared by every delete:
// buffered values are never changed in place.
var Tombstone = []byte{FlagTombstone}

// MaxValueHeader is the largest header EncodeHeader writes.
const MaxValueHeader = 9

// EncodeHeader writes the header for a value into dst and returns its length.
func EncodeHeader(dst *[MaxValueHeader]byte, tombstone bool, expires int64) []byte {
	var f byte
	if tombstone {
		f |= FlagTombstone
	}
	if expires != 0 {
		f |= FlagExpires
		binary.BigEndian.PutUint64(dst[1:], uint64(expires))
		dst[0] = f
		return dst[:9]
	}
	dst[0] = f
	return dst[:1]
}

// DecodeValue splits a stored value. live is false for a tombstone or a
// value expired by clock's time. A malformed value (never written by this
// package) reads as absent rather than panicking. clock is only called for
// values with an expiry.
func DecodeValue(b []byte, clock func() time.Time) (user []byte, live bool) {
	if len(b) == 0 {
		return nil, false
	}
	f := b[0]
	if f&FlagTombstone != 0 {
		return nil, false
	}
	if f&FlagExpires != 0 {
		if len(b) < 9 {
			return nil, false
		}
		if clock().UnixNano() >= int64(binary.BigEndian.Uint64(b[1:9])) {
			return nil, false
		}
		return b[9:], true
	}
	return b[1:], true
}
