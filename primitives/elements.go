package primitives

import "encoding/binary"

// The functions below tell which element of a primitive a stored key (the
// primitive's own key, as Txn sees it) is the record of: history lists the
// elements each step wrote, and diffs compare runs element by element.
// Heads, counters and secondary-index entries are no element's record.

// EventOfKey returns the seq of the event whose record k is.
func EventOfKey(k []byte) (uint64, bool) {
	if len(k) != 9 || k[0] != evEntry {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[1:]), true
}

// CellOfKey returns the name of the cell whose record k is.
func CellOfKey(k []byte) (string, bool) {
	if len(k) < 2 || k[0] != cellEntry {
		return "", false
	}
	return string(k[1:]), true
}

// SpanOfKey returns the ID of the span whose record k is.
func SpanOfKey(k []byte) (SpanID, bool) {
	if len(k) != 9 || k[0] != spanEntry {
		return 0, false
	}
	return SpanID(binary.BigEndian.Uint64(k[1:])), true
}

// EventKey is the key of the record of event seq.
func EventKey(seq uint64) []byte { return key(evEntry, be64(seq)) }
