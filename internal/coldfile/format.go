package coldfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/crc32"

	"github.com/inmem-db/inmem/internal/errs"
)

const (
	magic       = "INMEMCLD"
	format      = 1
	footerSize  = 8 + 4 + 8 + 8 + 8 + 4
	blockTail   = 1 + 4 // codec and CRC after a block's bytes
	maxBlockLen = 64 << 20
)

// Codec is how a block's entries are compressed.
type Codec uint8

// The codecs; the byte is stored with every block, so a file may mix them.
const (
	CodecNone Codec = iota
	CodecS2
	CodecZstd
)

// DefaultCodec is zstd. Measured on agent steps (BenchmarkCodecs: JSON-like
// text of a Zipf vocabulary in the engine's key and value layout), a file
// is 0.27x the entries' raw bytes with zstd and 0.38x with S2 (0.82x
// uncompressed, from shared key prefixes alone), while reading a block
// back costs about 70 us against 46 us: well inside a cache miss's budget,
// and the files are what the cold tier keeps for ever.
const DefaultCodec = CodecZstd

func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecS2:
		return "s2"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("Codec(%d)", uint8(c))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendCRC appends the CRC-32C of dst[start:], as every part of a file
// ends.
func appendCRC(dst []byte, start int) []byte {
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// checkCRC checks that b ends with the CRC-32C of what comes before it,
// and returns that.
func checkCRC(b []byte, what string) ([]byte, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%s shorter than its checksum", what)
	}
	body := b[:len(b)-4]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(b[len(b)-4:]); got != want {
		return nil, fmt.Errorf("%s checksum %08x, want %08x", what, got, want)
	}
	return body, nil
}

// zstd's encoder and decoder are safe for concurrent EncodeAll/DecodeAll
// and costly to make: one of each for the process.
var (
	zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxBlockLen))
)

// compare orders entries as the skiplist does: key ascending, then
// version descending.
func compare(ka []byte, va uint64, kb []byte, vb uint64) int {
	if c := bytes.Compare(ka, kb); c != 0 {
		return c
	}
	switch {
	case va > vb:
		return -1
	case va < vb:
		return 1
	}
	return 0
}

// appendEntry appends one entry, its key sharing a prefix with prev.
func appendEntry(dst, prev, key []byte, version uint64, value []byte) []byte {
	shared := 0
	for shared < len(prev) && shared < len(key) && prev[shared] == key[shared] {
		shared++
	}
	dst = binary.AppendUvarint(dst, uint64(shared))
	dst = binary.AppendUvarint(dst, uint64(len(key)-shared))
	dst = append(dst, key[shared:]...)
	dst = binary.AppendUvarint(dst, version)
	dst = binary.AppendUvarint(dst, uint64(len(value)))
	return append(dst, value...)
}

// sealBlock compresses raw with codec and appends the block (with its
// codec byte and CRC) to dst.
func sealBlock(dst, raw []byte, codec Codec) []byte {
	start := len(dst)
	switch codec {
	case CodecS2:
		dst = append(dst, s2.Encode(nil, raw)...)
	case CodecZstd:
		dst = zenc.EncodeAll(raw, dst)
	default:
		dst = append(dst, raw...)
	}
	dst = append(dst, byte(codec))
	return appendCRC(dst, start)
}

// CorruptError is a failed check of a cold file: where, and what. It
// wraps errs.ErrCorruption.
type CorruptError struct {
	Path   string
	Offset int64
	What   string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("cold file %s at offset %d: %s: %v", e.Path, e.Offset, e.What, errs.ErrCorruption)
}

func (e *CorruptError) Unwrap() error { return errs.ErrCorruption }

// errCorrupt is a failed check at off in the file.
func errCorrupt(path string, off int64, what string, args ...any) error {
	return &CorruptError{Path: path, Offset: off, What: fmt.Sprintf(what, args...)}
}

// openBlock checks a block's CRC and returns its decompressed entries.
func openBlock(b []byte) ([]byte, error) {
	if len(b) < blockTail {
		return nil, errors.New("block shorter than its trailer")
	}
	if _, err := checkCRC(b, "block"); err != nil {
		return nil, err
	}
	body, codec := b[:len(b)-blockTail], Codec(b[len(b)-blockTail])
	switch codec {
	case CodecNone:
		return body, nil
	case CodecS2:
		n, err := s2.DecodedLen(body)
		if err != nil {
			return nil, fmt.Errorf("s2: %v", err)
		}
		if n > maxBlockLen {
			return nil, fmt.Errorf("block of %d bytes decompressed", n)
		}
		out, err := s2.Decode(make([]byte, n), body)
		if err != nil {
			return nil, fmt.Errorf("s2: %v", err)
		}
		return out, nil
	case CodecZstd:
		out, err := zdec.DecodeAll(body, nil)
		if err != nil {
			return nil, fmt.Errorf("zstd: %v", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown codec %d", codec)
}

// entry is one decoded entry; key is the iterator's buffer (valid until
// its next move), value aliases the block.
type entry struct {
	key     []byte
	version uint64
	value   []byte
}

// restartEvery is how many entries apart a block's restart points are: an
// entry at a restart point shares no prefix, so a seek binary-searches the
// restart points and decodes at most this many entries after one.
const restartEvery = 16

// appendRestarts ends a block's entries with its restart offsets and
// their count.
func appendRestarts(dst []byte, restarts []uint32) []byte {
	for _, r := range restarts {
		dst = binary.LittleEndian.AppendUint32(dst, r)
	}
	return binary.LittleEndian.AppendUint32(dst, uint32(len(restarts)))
}

// blockIter walks the entries of a decompressed block. Keys are decoded
// into two buffers in turn (the previous key is the next one's prefix and
// the order check's other side), so a walk allocates nothing once they
// have grown.
type blockIter struct {
	data     []byte // the entries
	restarts []byte // restart offsets, 4 bytes each
	off      int
	ri       int // the next restart point to reach
	started  bool
	bufs     [2][]byte
	flip     int
	cur      entry
	err      error
}

// parseBlock splits a decompressed block into its entries and restart
// points and checks the restart points: the first at 0, increasing,
// inside the entries, one at least when there are entries.
func parseBlock(b []byte) (blockIter, error) {
	if len(b) < 4 {
		return blockIter{}, errors.New("block shorter than its restart count")
	}
	n := binary.LittleEndian.Uint32(b[len(b)-4:])
	if uint64(n)*4 > uint64(len(b)-4) {
		return blockIter{}, fmt.Errorf("%d restart points in a block of %d bytes", n, len(b))
	}
	data := b[:len(b)-4-int(n)*4]
	rs := b[len(data) : len(b)-4]
	if (n == 0) != (len(data) == 0) {
		return blockIter{}, fmt.Errorf("%d restart points for %d bytes of entries", n, len(data))
	}
	prev := -1
	for i := 0; i < int(n); i++ {
		r := int(binary.LittleEndian.Uint32(rs[4*i:]))
		if (i == 0 && r != 0) || r <= prev || r >= len(data) {
			return blockIter{}, fmt.Errorf("restart point %d at %d", i, r)
		}
		prev = r
	}
	return blockIter{data: data, restarts: rs}, nil
}

func (it *blockIter) restart(i int) int { return int(binary.LittleEndian.Uint32(it.restarts[4*i:])) }

func (it *blockIter) numRestarts() int { return len(it.restarts) / 4 }

// seekRestart positions the iterator at the last restart point whose key
// sorts before (key, version) (the first one if none does): the target's
// place is at most restartEvery entries after it.
func (it *blockIter) seekRestart(key []byte, version uint64) {
	n := it.numRestarts()
	i := sort.Search(n, func(i int) bool {
		k, v, ok := it.keyAt(it.restart(i))
		return !ok || compare(k, v, key, version) >= 0
	})
	it.off, it.ri, it.started = 0, 0, false
	if i > 0 {
		it.off, it.ri = it.restart(i-1), i-1
	}
}

// keyAt decodes the key and version of the entry at a restart point (which
// shares no prefix); ok is false if it does not decode (next reports why).
func (it *blockIter) keyAt(off int) ([]byte, uint64, bool) {
	b := it.data[off:]
	shared, n := binary.Uvarint(b)
	if n <= 0 || shared != 0 {
		return nil, 0, false
	}
	b = b[n:]
	unshared, n := binary.Uvarint(b)
	if n <= 0 || unshared > uint64(len(b)-n) {
		return nil, 0, false
	}
	key := b[n : n+int(unshared)]
	v, m := binary.Uvarint(b[n+int(unshared):])
	return key, v, m > 0
}

// next decodes the next entry into it.cur; false at the end or on a
// malformed entry (it.err set).
func (it *blockIter) next() bool {
	if it.off >= len(it.data) || it.err != nil {
		return false
	}
	b := it.data[it.off:]
	fail := func(what string) bool {
		it.err = fmt.Errorf("entry at block offset %d: %s", it.off, what)
		return false
	}
	atRestart := it.ri < it.numRestarts() && it.off == it.restart(it.ri)
	if it.ri < it.numRestarts() && it.off > it.restart(it.ri) {
		return fail("a restart point inside an entry")
	}
	shared, n := binary.Uvarint(b)
	if n <= 0 || shared > uint64(len(it.cur.key)) || (atRestart && shared != 0) || (!it.started && shared != 0) {
		return fail("shared prefix length")
	}
	b = b[n:]
	unshared, n := binary.Uvarint(b)
	if n <= 0 || unshared > uint64(len(b)-n) {
		return fail("key length")
	}
	b = b[n:]
	buf := append(append(it.bufs[it.flip][:0], it.cur.key[:shared]...), b[:unshared]...)
	it.bufs[it.flip] = buf
	b = b[unshared:]
	version, n := binary.Uvarint(b)
	if n <= 0 {
		return fail("version")
	}
	b = b[n:]
	vlen, n := binary.Uvarint(b)
	if n <= 0 || vlen > uint64(len(b)-n) {
		return fail("value length")
	}
	b = b[n:]
	if it.started && compare(it.cur.key, it.cur.version, buf, version) >= 0 {
		return fail("out of order")
	}
	if atRestart {
		it.ri++
	}
	it.started = true
	it.flip ^= 1
	it.cur = entry{key: buf, version: version, value: b[:vlen:vlen]}
	it.off = len(it.data) - len(b) + int(vlen)
	return true
}

// indexEntry locates one block and says where it ends in the order.
type indexEntry struct {
	lastKey     []byte
	lastVersion uint64
	off, length int64
}

func appendIndex(dst []byte, idx []indexEntry) []byte {
	start := len(dst)
	dst = binary.AppendUvarint(dst, uint64(len(idx)))
	for _, e := range idx {
		dst = binary.AppendUvarint(dst, uint64(len(e.lastKey)))
		dst = append(dst, e.lastKey...)
		dst = binary.AppendUvarint(dst, e.lastVersion)
		dst = binary.AppendUvarint(dst, uint64(e.off))
		dst = binary.AppendUvarint(dst, uint64(e.length))
	}
	return appendCRC(dst, start)
}

// decodeIndex checks and decodes an index whose blocks must lie, in order
// and without gaps, in the file's first end bytes.
func decodeIndex(b []byte, end int64) ([]indexEntry, error) {
	b, err := checkCRC(b, "index")
	if err != nil {
		return nil, err
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errors.New("index count")
	}
	b = b[k:]
	idx := make([]indexEntry, 0, n)
	var next int64
	for i := uint64(0); i < n; i++ {
		kl, k := binary.Uvarint(b)
		if k <= 0 || kl > uint64(len(b)-k) {
			return nil, fmt.Errorf("index entry %d: key length", i)
		}
		key := b[k : k+int(kl)]
		b = b[k+int(kl):]
		var vals [3]uint64
		for j := range vals {
			v, k := binary.Uvarint(b)
			if k <= 0 {
				return nil, fmt.Errorf("index entry %d: field %d", i, j)
			}
			vals[j], b = v, b[k:]
		}
		e := indexEntry{lastKey: key, lastVersion: vals[0], off: int64(vals[1]), length: int64(vals[2])}
		if vals[1] != uint64(next) || vals[2] < blockTail || vals[2] > maxBlockLen || e.off+e.length > end {
			return nil, fmt.Errorf("index entry %d: block at %d of %d bytes", i, vals[1], vals[2])
		}
		if i > 0 && compare(idx[i-1].lastKey, idx[i-1].lastVersion, key, e.lastVersion) >= 0 {
			return nil, fmt.Errorf("index entry %d: out of order", i)
		}
		next = e.off + e.length
		idx = append(idx, e)
	}
	if len(b) != 0 || next != end {
		return nil, fmt.Errorf("index covers %d of %d bytes of blocks", next, end)
	}
	return idx, nil
}

// footer is the file's fixed-size end.
type footer struct {
	indexOff, indexLen int64
	entries            uint64
}

func (f footer) append(dst []byte) []byte {
	start := len(dst)
	dst = append(dst, magic...)
	dst = binary.LittleEndian.AppendUint32(dst, format)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(f.indexOff))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(f.indexLen))
	dst = binary.LittleEndian.AppendUint64(dst, f.entries)
	return appendCRC(dst, start)
}

// decodeFooter checks the footer of a file of size bytes.
func decodeFooter(b []byte, size int64) (footer, error) {
	var f footer
	if len(b) != footerSize {
		return f, errors.New("file shorter than a footer")
	}
	if _, err := checkCRC(b, "footer"); err != nil {
		return f, err
	}
	if string(b[:8]) != magic {
		return f, errors.New("not a cold file")
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != format {
		return f, fmt.Errorf("format %d, this build reads %d", v, format)
	}
	f.indexOff = int64(binary.LittleEndian.Uint64(b[12:]))
	f.indexLen = int64(binary.LittleEndian.Uint64(b[20:]))
	f.entries = binary.LittleEndian.Uint64(b[28:])
	if f.indexOff < 0 || f.indexLen < 4 || f.indexOff+f.indexLen != size-footerSize {
		return f, fmt.Errorf("index at %d of %d bytes in a file of %d", f.indexOff, f.indexLen, size)
	}
	return f, nil
}
