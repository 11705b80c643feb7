// Package wal is the write-ahead log: numbered segment files of framed,
// checksummed records, written with group commit.
//
// A record on disk is
//
//	length uint32 LE | crc uint32 LE | type uint8 | payload[length]
//
// where crc is CRC-32C (Castagnoli) over type and payload. Segments are
// named 000001.log, 000002.log, ... and each starts with a header record
// naming its own number, so a segment renamed or copied out of order is
// detected.
//
// Group commit: Append copies a record into an in-memory buffer under the
// ordering lock (no I/O there) and returns the group that will carry it. One
// syncer goroutine swaps the buffer out, writes it, and fsyncs according to
// the mode, so every fsync covers everything appended while the previous one
// ran. In Strict mode a committer waits for its group's fsync; the ordering
// lock is never held across a write or an fsync.
//
// Invariants:
//   - Records reach the file in Append order, so a crash leaves a prefix.
//   - A group's waiters are released only after the write and (Strict) the
//     fsync of every record in it returned nil.
//   - The first write or fsync error poisons the log: that group and every
//     later Append fail with the error; nothing after it is acknowledged.
//   - Reading back, a damaged record at the very end of the last segment is a
//     torn write from a crash and is cut off; any other damage, or damage
//     followed by a valid record anywhere after it, is ErrCorruption naming
//     the file and offset.
//
// ScanSegment reads one segment with the same checks but changes nothing,
// leaving the verdict on damage to the caller, so a database can be
// verified without being recovered.
package wal
