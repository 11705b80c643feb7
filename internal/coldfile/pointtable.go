package coldfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math/bits"
)

// pointTable is a block's point index: each key of the block to its
// versions, newest first. It is two flat arrays, so a warm point read
// touches a slot, one record (the key and its versions, adjacent) and the
// value, where a Go map of strings to slices touched a control word, a
// slot, the key's bytes and the slice's array apart from each other.
//
// slots is open-addressed at a load of at most one half: a slot is 0
// (empty) or tag<<32 | (offset of a record in recs + 1), the tag being the
// high half of the key's hash, so a probe compares keys only when the tags
// agree. A record is keyLen u32 | versions u32 | key | versions x
// (version u64 | value offset u32 | value length u32), little endian; the
// value offsets are into the block's entries. Keys are stored without the
// prefix every key of the block shares.
type pointTable struct {
	prefix []byte
	mask   uint64 // slots - 1
	buf    []byte // the slots (8 bytes each), then the records: one allocation, few pages
	recs   []byte // buf past the slots
}

const (
	recHeader  = 8
	recVersion = 16
)

var pointSeed = maphash.MakeSeed()

// size is what the table takes in memory.
func (t *pointTable) size() int64 {
	return int64(len(t.prefix)) + int64(len(t.buf))
}

// build indexes every entry of the block blk walks (unpositioned) into
// the empty t; last is the block's last key (the file's index has it).
func (t *pointTable) build(blk blockIter, last []byte) error {
	it := blk
	if !it.next() {
		return it.err
	}
	// Keys are sorted: what the first and last share, all share.
	n := 0
	for n < len(last) && n < len(it.cur.key) && last[n] == it.cur.key[n] {
		n++
	}
	prefix := bytes.Clone(it.cur.key[:n])
	// An entry is about a restartEvery-th of the block per restart point;
	// a record takes a header, a key and a version.
	entries := restartEvery * blk.numRestarts()
	recs := make([]byte, 0, entries*(recHeader+recVersion+16))
	starts := make([]uint32, 0, entries)
	cur := -1 // the record of the key being indexed
	for ok := true; ok; ok = it.next() {
		if !bytes.HasPrefix(it.cur.key, prefix) {
			return fmt.Errorf("entry at block offset %d: key outside the block's range", it.off)
		}
		suffix := it.cur.key[len(prefix):]
		if cur < 0 || !bytes.Equal(recKey(recs[cur:]), suffix) {
			cur = len(recs)
			starts = append(starts, uint32(cur))
			recs = binary.LittleEndian.AppendUint32(recs, uint32(len(suffix)))
			recs = binary.LittleEndian.AppendUint32(recs, 0)
			recs = append(recs, suffix...)
		}
		n := binary.LittleEndian.Uint32(recs[cur+4:])
		binary.LittleEndian.PutUint32(recs[cur+4:], n+1)
		recs = binary.LittleEndian.AppendUint64(recs, it.cur.version)
		recs = binary.LittleEndian.AppendUint32(recs, uint32(it.off-len(it.cur.value)))
		recs = binary.LittleEndian.AppendUint32(recs, uint32(len(it.cur.value)))
	}
	if it.err != nil {
		return it.err
	}
	nslots := 1 << bits.Len(uint(2*len(starts)))
	buf := make([]byte, 8*nslots+len(recs))
	copy(buf[8*nslots:], recs)
	mask := uint64(nslots - 1)
	for _, s := range starts {
		h := maphash.Bytes(pointSeed, recKey(recs[s:]))
		i := h & mask
		for binary.LittleEndian.Uint64(buf[8*i:]) != 0 {
			i = (i + 1) & mask
		}
		binary.LittleEndian.PutUint64(buf[8*i:], h&^(1<<32-1)|uint64(s+1))
	}
	t.prefix, t.mask, t.buf, t.recs = prefix, mask, buf, buf[8*nslots:]
	return nil
}

// recKey is the key of the record rec starts with.
func recKey(rec []byte) []byte {
	n := binary.LittleEndian.Uint32(rec)
	return rec[recHeader : recHeader+n]
}

// get returns where the newest version of key at or below snapshot lies
// in the block's entries.
func (t *pointTable) get(key []byte, snapshot uint64) (off, n int, version uint64, ok bool) {
	if len(t.buf) == 0 || !bytes.HasPrefix(key, t.prefix) {
		return 0, 0, 0, false
	}
	suffix := key[len(t.prefix):]
	h := maphash.Bytes(pointSeed, suffix)
	tag := h &^ (1<<32 - 1)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := binary.LittleEndian.Uint64(t.buf[8*i:])
		if s == 0 {
			return 0, 0, 0, false
		}
		if s&^(1<<32-1) != tag {
			continue
		}
		rec := t.recs[uint32(s)-1:]
		if !bytes.Equal(recKey(rec), suffix) {
			continue
		}
		vs := rec[recHeader+len(suffix):]
		for range binary.LittleEndian.Uint32(rec[4:]) {
			v := binary.LittleEndian.Uint64(vs)
			if v <= snapshot {
				return int(binary.LittleEndian.Uint32(vs[8:])), int(binary.LittleEndian.Uint32(vs[12:])), v, true
			}
			vs = vs[recVersion:]
		}
		return 0, 0, 0, false
	}
}
