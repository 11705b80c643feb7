package ycsbdb

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrNotFound is wrapped by every binding's error for an absent record.
var ErrNotFound = errors.New("record not found")

// DirProperty names the go-ycsb property holding the directory a binding
// keeps its files in. It must exist; the binding does not remove it.
const DirProperty = "ycsbdb.dir"

// A record is encoded as a sequence of fields, each
//
//	uvarint(len(name)) name uvarint(len(value)) value
//
// in no particular order. YCSB's records are ten fields of 100 bytes, so
// this costs about 2% over the values and needs no schema.

// encodeRecord appends the encoding of values to dst.
func encodeRecord(dst []byte, values map[string][]byte) []byte {
	n := 0
	for f, v := range values {
		n += 2*binary.MaxVarintLen32 + len(f) + len(v)
	}
	if cap(dst)-len(dst) < n {
		dst = append(make([]byte, 0, len(dst)+n), dst...)
	}
	for f, v := range values {
		dst = appendField(dst, f, v)
	}
	return dst
}

func appendField[S string | []byte](dst []byte, name S, value []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(name)))
	dst = append(dst, name...)
	dst = binary.AppendUvarint(dst, uint64(len(value)))
	return append(dst, value...)
}

// nextField splits the first field off b.
func nextField(b []byte) (name, value, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return nil, nil, nil, errors.New("record: truncated field name")
	}
	name, b = b[k:k+int(n)], b[k+int(n):]
	n, k = binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return nil, nil, nil, errors.New("record: truncated field value")
	}
	return name, b[k : k+int(n)], b[k+int(n):], nil
}

// decodeRecord returns the fields of b named in fields (every field when
// fields is empty). The values alias b, which the caller must own.
func decodeRecord(b []byte, fields []string) (map[string][]byte, error) {
	out := make(map[string][]byte, max(len(fields), 10))
	for len(b) > 0 {
		name, value, rest, err := nextField(b)
		if err != nil {
			return nil, err
		}
		b = rest
		if len(fields) == 0 {
			out[string(name)] = value
		} else if f, ok := wanted(fields, name); ok {
			out[f] = value
		}
	}
	return out, nil
}

// wanted returns the element of fields equal to name: as the map key it
// costs no allocation, where string(name) would.
func wanted(fields []string, name []byte) (string, bool) {
	for _, f := range fields {
		if f == string(name) {
			return f, true
		}
	}
	return "", false
}

// mergeRecord returns a new encoding: old with the fields in values
// replaced or added, as YCSB's Update asks.
func mergeRecord(old []byte, values map[string][]byte) ([]byte, error) {
	n := len(old)
	for f, v := range values {
		n += 2*binary.MaxVarintLen32 + len(f) + len(v)
	}
	out := make([]byte, 0, n)
	seen := 0
	for b := old; len(b) > 0; {
		name, value, rest, err := nextField(b)
		if err != nil {
			return nil, err
		}
		b = rest
		if v, ok := values[string(name)]; ok {
			value = v
			seen++
		}
		out = appendField(out, name, value)
	}
	if seen < len(values) {
		for f, v := range values {
			if !hasField(old, f) {
				out = appendField(out, f, v)
			}
		}
	}
	return out, nil
}

// hasField reports whether the (valid) encoding b has a field name.
func hasField(b []byte, name string) bool {
	for len(b) > 0 {
		f, _, rest, err := nextField(b)
		if err != nil {
			return false
		}
		if string(f) == name {
			return true
		}
		b = rest
	}
	return false
}

// copyDecode decodes a copy of b: for values that stay the database's.
func copyDecode(b []byte, fields []string) (map[string][]byte, error) {
	return decodeRecord(append([]byte(nil), b...), fields)
}

// notFound is the error of an operation on an absent record.
func notFound(db, op, key string) error {
	return fmt.Errorf("%s: %s %q: %w", db, op, key, ErrNotFound)
}
