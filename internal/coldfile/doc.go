// Package coldfile is the file format of the cold tier: an immutable,
// checksummed file of versioned entries (key, version, stored value),
// sorted as the engine's skiplist sorts them (key ascending, version
// descending), in compressed blocks with a block index, so a point read at
// a snapshot touches one block.
//
// Layout:
//
//	block* | index | footer
//	block:  compressed(entry* | restart u32* | restarts u32) | codec u8 | crc32c u32 (of the compressed bytes and the codec)
//	entry:  shared uvarint | unshared uvarint | key[shared:] | version uvarint | valueLen uvarint | value
//	index:  count uvarint | (lastKeyLen uvarint lastKey lastVersion uvarint offset uvarint length uvarint)* | crc32c u32
//	footer: magic "INMEMCLD" | format u32 | indexOffset u64 | indexLength u64 | entries u64 | crc32c u32   (36 bytes, little endian)
//
// A block's keys share prefixes with the previous key of the block (runs'
// keys share a long scope prefix), except at a restart point, every 16th
// entry, which shares nothing: a seek binary-searches a block's restart
// points and decodes at most 16 entries. The index holds each block's last
// (key, version): the first block whose last entry sorts at or after a
// target holds the target's place. A block a point read needs gets a
// point index (pointtable.go: an open-addressed table of each key to its
// versions, in one allocation), built before a cache takes it, so a warm
// point read is a hash probe that touches a slot, a record and the value;
// the cache counts the index in the block's cost. A reader keeps a
// pointer to each block the cache returned to it and reads it again
// without the cache's lookup; the cache drops blocks through Block.Drop,
// which clears that pointer, so what readers reach stays within the
// cache's bytes. A scan reads each block it loads from the file together
// with the next one (one wait for the disk where a range crosses blocks).
//
// Files: format.go (blocks, index, footer, codecs), writer.go (Writer),
// reader.go (Reader, Block, Iter, Verify), pointtable.go (a block's point
// index), cache.go (Cache, the ristretto-backed BlockCache).
//
// Invariants:
//   - A file is written once, to a temporary name, fsynced, renamed into
//     place and its directory fsynced (Writer.Finish): a file under its
//     final name is complete. Nothing writes to it again.
//   - Every byte read back is checked: the footer and the index by their
//     CRC-32C before anything is served, a block by its CRC before it is
//     decompressed, and decoded entries must be well formed and in order.
//     A failed check is an error wrapping errs.ErrCorruption that names
//     the file and the offset; never wrong data, never a panic.
//   - Entries are added in the skiplist's order, each (key, version) once;
//     the writer refuses anything else.
//   - A block a cache holds never changes, its cost included: a point read
//     of a block a scan loaded sets an indexed copy in its place.
//   - A reader keeps a block only while its cache holds it (one reader a
//     block; Drop and keep order their atomics so that either clears).
package coldfile
