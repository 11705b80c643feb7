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
// ran. The buffer is a list of 1 MiB blocks that the syncer recycles and
// tops up outside the lock, so an append never copies what is already
// buffered, however large a slow fsync lets the backlog grow. In Strict mode a committer waits for its group's fsync; the ordering
// lock is never held across a write or an fsync.
//
// Segments are prepared ahead: while one is written, a goroutine of its
// own creates the next, writes its header, reserves its space
// (vfs.File.Preallocate, which leaves the file's size alone) and fsyncs it
// and the directory, so a roll on the syncer only fsyncs the full segment
// and switches. A preparation that failed is retried by the roll that
// needs it; only that error counts. Close removes the unused segment.
//
// Invariants:
//   - Records reach the file in Append order, so a crash leaves a prefix.
//   - A group's waiters are released only after the write and (Strict) the
//     fsync of every record in it returned nil.
//   - The first write or fsync error poisons the log: that group and every
//     later Append fail with the error; nothing after it is acknowledged. A
//     failed preparation poisons nothing until a roll fails to make the
//     segment itself.
//   - A segment is fsynced before anything is written to the next, and a
//     segment's header and name are durable before anything is written to
//     it. So after a crash, segments holding records form a complete
//     prefix but for the end of the last of them, and only segments holding
//     no record (prepared, perhaps unfinished) may follow it.
//   - Reading back, damage that no valid frame follows, in a segment that
//     no segment holding records follows, is a crash's: a torn tail of the
//     last segment with records is cut off, an unfinished segment holding
//     none is replaced by the next log (Recover's Next) and any after it
//     removed. Any other damage is ErrCorruption naming the file and
//     offset.
//
// ScanSegment reads one segment with the same checks but changes nothing,
// leaving the verdict on damage to the caller, so a database can be
// verified without being recovered.
package wal
