package primitives

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"
)

// Event is one entry of a run's append-only event log.
type Event struct {
	Seq      uint64 // 0-based, gapless
	Type     string
	Payload  []byte
	Time     time.Time
	PrevHash [32]byte // Hash of the previous event; all zero for seq 0
	Hash     [32]byte // SHA-256 over seq, type, payload, time and PrevHash
}

// ChainReport is the result of verifying an event log's hash chain.
type ChainReport struct {
	OK       bool   // every event's hash and link checked out
	Len      uint64 // events checked
	FirstBad uint64 // the first event that failed, when !OK
	Reason   string // what failed, when !OK
}

const (
	evHead  = 'h' // -> len (8) | hash of the last event (32)
	evEntry = 'e' // + seq (8) -> event value
	evType  = 't' // + len-prefixed type + seq (8) -> empty
)

// evHeadKey is the head's key for reads (Get does not keep or change it).
var evHeadKey = []byte{evHead}

// EventHash computes an event's chain hash: SHA-256 over the big-endian
// seq, the length-prefixed type and payload, the time in Unix nanoseconds
// and the previous hash.
func EventHash(seq uint64, typ string, payload []byte, t time.Time, prev [32]byte) [32]byte {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], uint64(len(typ)))
	h.Write(b[:])
	h.Write([]byte(typ))
	binary.BigEndian.PutUint64(b[:], uint64(len(payload)))
	h.Write(b[:])
	h.Write(payload)
	binary.BigEndian.PutUint64(b[:], uint64(unixNano(t)))
	h.Write(b[:])
	h.Write(prev[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// eventHead reads the log's length and last hash.
func eventHead(t Txn) (uint64, [32]byte, error) {
	var last [32]byte
	v, ok := t.Get(evHeadKey)
	if !ok {
		return 0, last, nil
	}
	if len(v) != 40 {
		return 0, last, fmt.Errorf("event log head: %w", ErrCorruption)
	}
	copy(last[:], v[8:])
	return binary.BigEndian.Uint64(v), last, nil
}

// AppendEvent appends an event at the next sequence number.
func AppendEvent(t Txn, typ string, payload []byte) (Event, error) {
	if err := checkName("event type", typ); err != nil {
		return Event{}, err
	}
	if err := checkPayload("event payload", payload); err != nil {
		return Event{}, err
	}
	n, prev, err := eventHead(t)
	if err != nil {
		return Event{}, err
	}
	now := fromUnixNano(t.Now().UnixNano()) // what a reader will decode
	e := Event{Seq: n, Type: typ, Payload: clone(payload), Time: now, PrevHash: prev}
	e.Hash = EventHash(n, typ, payload, now, prev)
	var nb [8]byte
	seq := put64(&nb, n)
	if err := t.Put(wkey(t, evEntry, seq), appendEvent(scratch(t, eventSize(&e)), &e)); err != nil {
		return Event{}, err
	}
	ik := append(scratch(t, 1+binary.MaxVarintLen64+len(typ)+8), evType)
	if err := t.PutIndex(append(appendLenPrefixed(ik, typ), seq...)); err != nil {
		return Event{}, err
	}
	head := binary.BigEndian.AppendUint64(scratch(t, 40), n+1)
	if err := t.Put(wkey(t, evHead), append(head, e.Hash[:]...)); err != nil {
		return Event{}, err
	}
	if len(e.Payload) == 0 {
		e.Payload = nil
	}
	return e, nil
}

// encodeEvent: time (8) | prev (32) | hash (32) | type | payload.
func encodeEvent(e *Event) []byte { return appendEvent(make([]byte, 0, eventSize(e)), e) }

// eventSize bounds the encoded size of e.
func eventSize(e *Event) int { return 72 + binary.MaxVarintLen64 + len(e.Type) + len(e.Payload) }

// appendEvent appends e encoded as encodeEvent does.
func appendEvent(b []byte, e *Event) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(unixNano(e.Time)))
	b = append(b, e.PrevHash[:]...)
	b = append(b, e.Hash[:]...)
	b = appendString(b, e.Type)
	return append(b, e.Payload...)
}

// DecodeEvent decodes an event value stored for seq.
func DecodeEvent(seq uint64, v []byte) (Event, error) {
	d := decoder{b: v}
	e := Event{Seq: seq}
	e.Time = fromUnixNano(int64(d.u64()))
	copy(e.PrevHash[:], d.fixed(32))
	copy(e.Hash[:], d.fixed(32))
	e.Type = string(d.bytes())
	if d.err != nil {
		return Event{}, fmt.Errorf("event %d: %w", seq, d.err)
	}
	if len(d.b) > 0 {
		e.Payload = clone(d.b)
	}
	return e, nil
}

// GetEvent returns the event at seq, or ErrNotFound.
func GetEvent(t Txn, seq uint64) (Event, error) {
	v, ok := t.Get(key(evEntry, be64(seq)))
	if !ok {
		return Event{}, fmt.Errorf("event %d: %w", seq, ErrNotFound)
	}
	return DecodeEvent(seq, v)
}

// EventLen returns the number of events.
func EventLen(t Txn) (uint64, error) {
	n, _, err := eventHead(t)
	return n, err
}

// RangeEvents returns the events with from <= seq < to, in order. A range
// past the end is cut at the end; from > to is ErrInvalidArgument.
func RangeEvents(t Txn, from, to uint64) ([]Event, error) {
	if from > to {
		return nil, fmt.Errorf("event range [%d, %d): %w", from, to, ErrInvalidArgument)
	}
	var out []Event
	var err error
	t.Scan([]byte{evEntry}, be64(from), func(k, v []byte) bool {
		seq := binary.BigEndian.Uint64(k[1:])
		if seq >= to {
			return false
		}
		var e Event
		if e, err = DecodeEvent(seq, v); err != nil {
			return false
		}
		out = append(out, e)
		return true
	})
	return out, err
}

// EventsByType returns the events of type typ, in order, through the type
// index.
func EventsByType(t Txn, typ string) ([]Event, error) {
	if err := checkName("event type", typ); err != nil {
		return nil, err
	}
	prefix := key(evType, lenPrefixed(typ))
	var seqs []uint64
	t.Scan(prefix, nil, func(k, _ []byte) bool {
		if len(k) == len(prefix)+8 {
			seqs = append(seqs, binary.BigEndian.Uint64(k[len(prefix):]))
		}
		return true
	})
	out := make([]Event, 0, len(seqs))
	for _, s := range seqs {
		e, err := GetEvent(t, s)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// ScanEvents calls fn with each event whose seq is at least from, in
// order, until fn returns false. Each event is decoded as the scan reaches
// it, so stopping early reads no more; fn may use t. An event that does
// not decode ends the scan with its error.
func ScanEvents(t Txn, from uint64, fn func(Event) bool) error {
	var err error
	t.Scan([]byte{evEntry}, be64(from), func(k, v []byte) bool {
		var e Event
		if e, err = DecodeEvent(binary.BigEndian.Uint64(k[1:]), v); err != nil {
			return false
		}
		return fn(e)
	})
	return err
}

// ScanEventsByType is EventsByType calling fn with each event in turn,
// until fn returns false: each event is read from the log when the index
// scan reaches it, not after the whole index has been read.
func ScanEventsByType(t Txn, typ string, fn func(Event) bool) error {
	if err := checkName("event type", typ); err != nil {
		return err
	}
	prefix := key(evType, lenPrefixed(typ))
	var err error
	t.Scan(prefix, nil, func(k, _ []byte) bool {
		if len(k) != len(prefix)+8 {
			return true // as EventsByType: not an entry of this type
		}
		var e Event
		if e, err = GetEvent(t, binary.BigEndian.Uint64(k[len(prefix):])); err != nil {
			return false
		}
		return fn(e)
	})
	return err
}

// VerifyEvents recomputes the hash chain from seq 0 and checks every link,
// the sequence numbering and the head. The report names the first bad
// event; the error is only for a log that cannot be read at all.
func VerifyEvents(t Txn) (ChainReport, error) {
	n, last, err := eventHead(t)
	if err != nil {
		return ChainReport{}, err
	}
	rep := ChainReport{OK: true}
	var prev [32]byte
	next := uint64(0)
	bad := func(seq uint64, why string) {
		rep.OK, rep.FirstBad, rep.Reason = false, seq, why
	}
	t.Scan([]byte{evEntry}, nil, func(k, v []byte) bool {
		if len(k) != 9 {
			bad(next, "malformed event key")
			return false
		}
		seq := binary.BigEndian.Uint64(k[1:])
		if seq != next {
			bad(next, fmt.Sprintf("event %d missing (next stored is %d)", next, seq))
			return false
		}
		e, err := DecodeEvent(seq, v)
		if err != nil {
			bad(seq, err.Error())
			return false
		}
		if e.PrevHash != prev {
			bad(seq, "previous hash does not match the previous event")
			return false
		}
		if EventHash(seq, e.Type, e.Payload, e.Time, e.PrevHash) != e.Hash {
			bad(seq, "hash does not match the event's contents")
			return false
		}
		prev = e.Hash
		next++
		rep.Len = next
		return true
	})
	if rep.OK && next != n {
		// The first event the head and the log disagree on.
		bad(min(n, next), fmt.Sprintf("head says %d events, found %d", n, next))
	}
	if rep.OK && !bytes.Equal(prev[:], last[:]) {
		bad(max(n, 1)-1, "head hash does not match the last event")
	}
	return rep, nil
}
