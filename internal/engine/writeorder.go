package engine

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// Write is one write of a commit: an encoded key and its stored value.
type Write struct {
	Key []byte // encoded
	Val []byte // header + user value
	ord uint64 // sort word, set by SortWrites
}

// SortWrites puts a commit's writes in key order, which linking them
// needs. Nearly every key of a transaction starts with its scope (the
// encoded namespace and run, 20 to 30 bytes), so a full comparison spends
// most of its time on bytes that are equal. When every key has scope as a
// prefix, each write is first given the 8 bytes after it as a big-endian
// integer (short tails padded with zeros), and writes are compared by that
// integer, in full only when it ties. Zero padding keeps the order: a key
// whose tail ends early sorts before every longer key with the same first
// bytes, and ties go to the full comparison.
func SortWrites(ws []Write, scope []byte) {
	if len(ws) < 2 {
		return
	}
	n := len(scope)
	for i := range ws {
		if !bytes.HasPrefix(ws[i].Key, scope) {
			n = 0
			break
		}
	}
	for i := range ws {
		ws[i].ord = orderWord(ws[i].Key[n:])
	}
	if len(ws) > 16 {
		slices.SortFunc(ws, func(a, b Write) int { return comparePending(&a, &b) })
		return
	}
	// Insertion sort: a transaction has a handful of writes, often nearly
	// in order already.
	for i := 1; i < len(ws); i++ {
		for j := i; j > 0 && comparePending(&ws[j-1], &ws[j]) > 0; j-- {
			ws[j-1], ws[j] = ws[j], ws[j-1]
		}
	}
}

// orderWord is the first 8 bytes of b as a big-endian integer, zero padded.
func orderWord(b []byte) uint64 {
	if len(b) >= 8 {
		return binary.BigEndian.Uint64(b)
	}
	var w [8]byte
	copy(w[:], b)
	return binary.BigEndian.Uint64(w[:])
}

func comparePending(a, b *Write) int {
	switch {
	case a.ord < b.ord:
		return -1
	case a.ord > b.ord:
		return 1
	}
	return bytes.Compare(a.Key, b.Key)
}
