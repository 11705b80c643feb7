package inmem

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// RunID identifies a run. It is a UUIDv7 (RFC 9562): the first 48 bits are
// the creation time in Unix milliseconds, so IDs sort by creation time. IDs
// made by one DB are strictly increasing even within a millisecond.
type RunID [16]byte

// IsZero reports whether id is the zero ID, which no run has.
func (id RunID) IsZero() bool { return id == RunID{} }

// Compare orders IDs bytewise, which for UUIDv7 is creation order: -1, 0
// or +1.
func (id RunID) Compare(other RunID) int { return bytes.Compare(id[:], other[:]) }

// String returns the canonical 8-4-4-4-12 hex form.
func (id RunID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], id[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], id[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], id[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], id[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], id[10:16])
	return string(b[:])
}

// Time returns the creation time encoded in the ID.
func (id RunID) Time() time.Time {
	ms := int64(binary.BigEndian.Uint64(append([]byte{0, 0}, id[:6]...)))
	return time.UnixMilli(ms)
}

// MarshalText implements encoding.TextMarshaler.
func (id RunID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *RunID) UnmarshalText(b []byte) error {
	p, err := ParseRunID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// ParseRunID parses the canonical form written by String.
func ParseRunID(s string) (RunID, error) {
	var id RunID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, fmt.Errorf("run id %q: want 8-4-4-4-12 hex: %w", s, ErrInvalidArgument)
	}
	b := []byte(s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36])
	if _, err := hex.Decode(id[:], b); err != nil {
		return RunID{}, fmt.Errorf("run id %q: %v: %w", s, err, ErrInvalidArgument)
	}
	return id, nil
}

// idGen makes UUIDv7s, using the 12-bit rand_a field as a counter within a
// millisecond (RFC 9562 section 6.2, method 1) so IDs are monotonic.
type idGen struct {
	mu      sync.Mutex
	lastMS  int64
	counter uint16
}

func (g *idGen) next(now time.Time) RunID {
	var id RunID
	_, _ = rand.Read(id[6:]) // crypto/rand.Read never fails
	g.mu.Lock()
	ms := now.UnixMilli()
	if ms <= g.lastMS {
		ms = g.lastMS
		g.counter++
		if g.counter >= 1<<12 {
			ms++
			g.counter = 0
		}
	} else {
		g.counter = uint16(binary.BigEndian.Uint16(id[6:8]) & 0x3ff) // random start, room to count
	}
	g.lastMS = ms
	c := g.counter
	g.mu.Unlock()
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(ms))
	copy(id[0:6], ts[2:8])
	id[6] = 0x70 | byte(c>>8)
	id[7] = byte(c)
	id[8] = 0x80 | id[8]&0x3f
	return id
}
