package coldfile

import (
	"encoding/binary"
	"testing"

	"github.com/klauspost/crc32"
	"github.com/stretchr/testify/require"

	"github.com/inmem-db/inmem/internal/errs"
	"github.com/inmem-db/inmem/internal/vfs"
)

// The checks behind the checksums: input whose CRC is right but whose
// content is not what a writer writes (a bug, another format) is refused
// by the decoders, each check on its own.

func uv(xs ...uint64) []byte {
	var b []byte
	for _, x := range xs {
		b = binary.AppendUvarint(b, x)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func withCRC(b []byte) []byte {
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func TestMalformedBlocks(t *testing.T) {
	good := appendEntry(nil, nil, []byte("ab"), 5, []byte("v"))
	for name, raw := range map[string][]byte{
		"shared beyond the previous key": uv(1, 1, 'a', 1, 0),
		"shared beyond a previous key":   cat(good, uv(3, 0, 4, 0)),
		"key beyond the block":           uv(0, 9, 'a'),
		"unterminated key length":        {0, 0x80},
		"no version":                     uv(0, 1, 'a'),
		"no value length":                uv(0, 1, 'a', 3),
		"value beyond the block":         uv(0, 1, 'a', 3, 4, 'x'),
		"keys out of order":              cat(good, appendEntry(nil, []byte("ab"), []byte("aa"), 9, nil)),
		"a (key, version) twice":         cat(good, appendEntry(nil, []byte("ab"), []byte("ab"), 5, nil)),
		"versions ascending":             cat(good, appendEntry(nil, []byte("ab"), []byte("ab"), 6, nil)),
	} {
		b, err := openBlock(sealBlock(nil, appendRestarts(raw, []uint32{0}), CodecNone))
		require.NoError(t, err, name)
		it, err := parseBlock(b)
		require.NoError(t, err, name)
		for it.next() {
		}
		require.Error(t, it.err, name)
	}
	// The restart points: where they may be, and what must be at them.
	second := cat(good, appendEntry(nil, nil, []byte("b"), 1, nil))
	for name, raw := range map[string][]byte{
		"no restart count":           {1, 2},
		"more restarts than bytes":   cat(good, []byte{0, 0, 0, 0}, binary.LittleEndian.AppendUint32(nil, 9)),
		"the first not at 0":         appendRestarts(good, []uint32{1}),
		"restarts not increasing":    appendRestarts(second, []uint32{0, 0}),
		"a restart past the entries": appendRestarts(good, []uint32{0, uint32(len(good))}),
		"entries without a restart":  appendRestarts(good, nil),
		"a restart without entries":  appendRestarts(nil, []uint32{0}),
	} {
		_, err := parseBlock(raw)
		require.Error(t, err, name)
	}
	for name, raw := range map[string][]byte{
		"a restart inside an entry": appendRestarts(second, []uint32{0, 2}),
		"a restart on a shared key": appendRestarts(cat(good, appendEntry(nil, []byte("ab"), []byte("ac"), 1, nil)), []uint32{0, uint32(len(good))}),
	} {
		it, err := parseBlock(raw)
		require.NoError(t, err, name)
		for it.next() {
		}
		require.Error(t, it.err, name)
	}
	// What a writer writes decodes: a key sharing all of the previous one
	// but a shorter length is fine, and the last entry ends the block.
	raw := cat(good, appendEntry(nil, []byte("ab"), []byte("ab"), 4, []byte("w")), appendEntry(nil, []byte("ab"), []byte("b"), 1, nil))
	b, err := openBlock(sealBlock(nil, appendRestarts(raw, []uint32{0}), CodecNone))
	require.NoError(t, err)
	it, err := parseBlock(b)
	require.NoError(t, err)
	n := 0
	for it.next() {
		n++
	}
	require.NoError(t, it.err)
	require.Equal(t, 3, n)

	_, err = openBlock([]byte{1, 2, 3, 4})
	require.Error(t, err, "shorter than a trailer")
	_, err = openBlock(withCRC([]byte{'x', 9}))
	require.ErrorContains(t, err, "codec")
	_, err = openBlock(withCRC(append([]byte{0xff, 0xff}, byte(CodecS2))))
	require.ErrorContains(t, err, "s2")
	_, err = openBlock(withCRC(append([]byte{0xff, 0xff}, byte(CodecZstd))))
	require.ErrorContains(t, err, "zstd")
	huge := append(binary.AppendUvarint(nil, maxBlockLen+1), 0)
	_, err = openBlock(withCRC(append(huge, byte(CodecS2))))
	require.Error(t, err, "an S2 block that would decompress past the limit")
}

func TestMalformedIndexes(t *testing.T) {
	entry := func(key string, ver, off, length uint64) []byte {
		return cat(uv(uint64(len(key))), []byte(key), uv(ver, off, length))
	}
	two := cat(entry("a", 3, 0, 40), entry("b", 1, 40, 10))
	good := withCRC(cat(uv(2), two))
	idx, err := decodeIndex(good, 50)
	require.NoError(t, err)
	require.Len(t, idx, 2)
	for name, c := range map[string]struct {
		raw []byte
		end int64
	}{
		"count beyond the index":  {cat(uv(1000), two), 50},
		"unterminated count":      {[]byte{0x80}, 50},
		"key beyond the index":    {cat(uv(1), uv(9), []byte("a")), 50},
		"missing fields":          {cat(uv(1), uv(1), []byte("a"), uv(3)), 50},
		"a gap before a block":    {cat(uv(1), entry("a", 3, 1, 49)), 50},
		"blocks overlap":          {cat(uv(2), entry("a", 3, 0, 40), entry("b", 1, 39, 11)), 50},
		"a block under its tail":  {cat(uv(1), entry("a", 3, 0, blockTail-1)), blockTail - 1},
		"a block over the limit":  {cat(uv(1), entry("a", 3, 0, maxBlockLen+1)), maxBlockLen + 1},
		"a block past the end":    {cat(uv(1), entry("a", 3, 0, 60)), 50},
		"out of order":            {cat(uv(2), entry("b", 3, 0, 40), entry("a", 1, 40, 10)), 50},
		"blocks short of the end": {cat(uv(2), two), 60},
		"trailing bytes":          {cat(uv(2), two, []byte{0}), 50},
		"no blocks, some bytes":   {uv(0), 10},
	} {
		_, err := decodeIndex(withCRC(c.raw), c.end)
		require.Error(t, err, name)
	}
	_, err = decodeIndex([]byte{1, 2, 3}, 0)
	require.Error(t, err, "shorter than a checksum")
	idx, err = decodeIndex(withCRC(uv(0)), 0)
	require.NoError(t, err, "an empty file has an empty index")
	require.Empty(t, idx)
	idx, err = decodeIndex(withCRC(cat(uv(1), entry("a", 3, 0, blockTail))), blockTail)
	require.NoError(t, err, "a block of its trailer alone")
	require.Len(t, idx, 1)
}

func TestMalformedFooters(t *testing.T) {
	size := int64(100)
	ok := footer{indexOff: 50, indexLen: size - footerSize - 50, entries: 7}
	f, err := decodeFooter(ok.append(nil), size)
	require.NoError(t, err)
	require.Equal(t, ok, f)
	for name, b := range map[string][]byte{
		"another magic":         withCRC(cat([]byte("INMEMSNP"), ok.append(nil)[8:footerSize-4])),
		"another format":        withCRC(cat([]byte(magic), binary.LittleEndian.AppendUint32(nil, format+1), ok.append(nil)[12:footerSize-4])),
		"index before 0":        footer{indexOff: -1, indexLen: size - footerSize + 1}.append(nil),
		"index under 4 bytes":   footer{indexOff: size - footerSize - 3, indexLen: 3}.append(nil),
		"index short of footer": footer{indexOff: 10, indexLen: 10}.append(nil),
		"index over the footer": footer{indexOff: 50, indexLen: size - footerSize - 49}.append(nil),
		"short":                 ok.append(nil)[:footerSize-1],
	} {
		_, err := decodeFooter(b, size)
		require.Error(t, err, name)
	}
	// A file too short for a footer is damage, not a panic.
	fs := vfs.NewMemFS(1)
	for _, n := range []int{0, footerSize - 1, footerSize, footerSize + 3} {
		writeRaw(t, fs, "short.cold", make([]byte, n))
		_, err := Open(fs, "short.cold", 1, nil)
		require.ErrorIs(t, err, errs.ErrCorruption, "%d bytes", n)
	}
	// The smallest file a writer makes: no entries.
	w, err := Create(fs, "empty.cold", CodecS2)
	require.NoError(t, err)
	n, err := w.Finish()
	require.NoError(t, err)
	r, err := Open(fs, "empty.cold", 1, nil)
	require.NoError(t, err)
	require.Equal(t, n, r.Size())
	require.Zero(t, r.Blocks())
	require.NoError(t, r.Verify())
	_, _, found, err := r.Get([]byte("a"), 1)
	require.NoError(t, err)
	require.False(t, found)
	require.NoError(t, r.Close())
}

// assemble builds a file from blocks of raw entries, with the index's last
// entries and the footer's count given, every checksum right.
func assemble(blocks [][]byte, lasts []indexEntry, entries uint64) []byte {
	var file []byte
	var idx []indexEntry
	for i, raw := range blocks {
		off := int64(len(file))
		var rs []uint32
		if len(raw) > 0 {
			rs = []uint32{0}
		}
		file = sealBlock(file, appendRestarts(raw, rs), CodecNone)
		idx = append(idx, indexEntry{lastKey: lasts[i].lastKey, lastVersion: lasts[i].lastVersion, off: off, length: int64(len(file)) - off})
	}
	ix := appendIndex(nil, idx)
	return footer{indexOff: int64(len(file)), indexLen: int64(len(ix)), entries: entries}.append(append(file, ix...))
}

// TestVerifyFindsInconsistentFiles: Verify checks what no checksum can: a
// block that does not end where the index says, blocks out of order with
// each other, an empty block, and an entry count that is not the blocks'.
func TestVerifyFindsInconsistentFiles(t *testing.T) {
	e := func(k string, v uint64) []byte { return appendEntry(nil, nil, []byte(k), v, []byte("v")) }
	last := func(k string, v uint64) indexEntry { return indexEntry{lastKey: []byte(k), lastVersion: v} }
	good := assemble([][]byte{e("a", 1), e("c", 1)}, []indexEntry{last("a", 1), last("c", 1)}, 2)
	fs := vfs.NewMemFS(1)
	writeRaw(t, fs, "g.cold", good)
	r, err := Open(fs, "g.cold", 1, nil)
	require.NoError(t, err)
	require.NoError(t, r.Verify())
	require.NoError(t, r.Close())
	for name, file := range map[string][]byte{
		"a block ends elsewhere":  assemble([][]byte{e("a", 1), e("c", 1)}, []indexEntry{last("b", 1), last("c", 1)}, 2),
		"blocks overlap in order": assemble([][]byte{e("b", 1), e("a", 1)}, []indexEntry{last("b", 1), last("c", 1)}, 2),
		"an empty block":          assemble([][]byte{e("a", 1), {}}, []indexEntry{last("a", 1), last("c", 1)}, 1),
		"a count that is not so":  assemble([][]byte{e("a", 1), e("c", 1)}, []indexEntry{last("a", 1), last("c", 1)}, 3),
	} {
		writeRaw(t, fs, "bad.cold", file)
		r, err := Open(fs, "bad.cold", 1, nil)
		require.NoError(t, err, name)
		err = r.Verify()
		require.ErrorIs(t, err, errs.ErrCorruption, name)
		require.ErrorContains(t, err, "bad.cold", name)
		require.NoError(t, r.Close())
	}
}
