package wal

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/inmem-db/inmem/internal/vfs"
)

// ScanResult describes what ScanSegment read of one segment.
type ScanResult struct {
	Records int   // caller records delivered
	Bytes   int64 // bytes of valid records, the segment header included
	// Bad is the first damage found (wrapping ErrCorruption), at offset
	// BadAt; nil if the whole segment checks out. Nothing at or after BadAt
	// was delivered.
	Bad   error
	BadAt int64
	// Torn says no valid record follows the damage: in a segment followed
	// only by Empty ones that is a write a crash cut short, which Recover
	// cuts off; anywhere else it is corruption all the same.
	Torn bool
}

// Empty reports whether the segment holds no record: none was read, and
// no valid frame follows the damage, if any. That is a segment holding its
// header only, or what a crash left of it: one prepared ahead, or rolled
// to, and never written to.
func (r ScanResult) Empty() bool { return r.Records == 0 && (r.Bad == nil || r.Torn) }

// FirstWithRecords returns the first of the segments segs of dir (in the
// order given) that is not Empty, or 0 if every one is. Damage at the end
// of a segment can be a write a crash cut short only if no later segment
// holds a record: a roll fsyncs a segment before anything is written to
// the next.
func FirstWithRecords(fs vfs.FS, dir string, segs []uint64) (uint64, error) {
	for _, n := range segs {
		sr, err := ScanSegment(fs, dir, n, func(int64, byte, []byte) error { return nil })
		if err != nil {
			return 0, err
		}
		if !sr.Empty() {
			return n, nil
		}
	}
	return 0, nil
}

// ScanSegment reads segment n of dir front to back without changing it,
// checking every frame and the segment's own header, and calls fn with the
// offset, type and payload of each caller record (the payload is only valid
// during the call). Damage stops the scan and is described in the result,
// not returned: whether it is a torn tail to cut or corruption depends on
// where the segment is in the log, which the caller knows. The error is for
// a file that cannot be read, or an error of fn, naming file and offset.
func ScanSegment(fs vfs.FS, dir string, n uint64, fn func(off int64, typ byte, payload []byte) error) (ScanResult, error) {
	var res ScanResult
	path := segmentPath(dir, n)
	f, err := fs.Open(path)
	if err != nil {
		return res, fmt.Errorf("wal: open %s: %w", path, err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return res, fmt.Errorf("wal: stat %s: %w", path, err)
	}
	w := &segmentWindow{f: f, buf: make([]byte, 0, max(HeaderSize, min(replayChunk, size)))}
	pos := 0 // in w.buf
	for {
		if pos, err = w.fill(pos, HeaderSize); err != nil {
			return res, fmt.Errorf("wal: read %s: %w", path, err)
		}
		if pos == len(w.buf) {
			break // end of the segment
		}
		if len(w.buf)-pos >= HeaderSize {
			// The whole frame, or as much of it as the file has.
			// A damaged length can claim far more than the file holds.
			need := HeaderSize + int64(binary.LittleEndian.Uint32(w.buf[pos:]))
			need = min(need, size-(w.base+int64(pos)))
			if pos, err = w.fill(pos, int(need)); err != nil {
				return res, fmt.Errorf("wal: read %s: %w", path, err)
			}
		}
		off := w.base + int64(pos)
		typ, payload, size, derr := DecodeRecord(w.buf[pos:])
		if derr == nil && off == 0 {
			if typ != typeSegment {
				derr = fmt.Errorf("segment does not start with its header: %w", ErrCorruption)
			} else {
				derr = checkSegmentHeader(payload, n)
			}
		} else if derr == nil && typ == typeSegment {
			derr = fmt.Errorf("segment header inside a segment: %w", ErrCorruption)
		}
		if derr != nil {
			after, rerr := w.rest(off + 1)
			if rerr != nil {
				return res, fmt.Errorf("wal: read %s: %w", path, rerr)
			}
			res.Bad, res.BadAt, res.Torn = asCorruption(derr), off, !validFrameAfter(after)
			return res, nil
		}
		if off > 0 {
			if err := fn(off, typ, payload); err != nil {
				return res, fmt.Errorf("wal: %s at offset %d: %w", path, off, err)
			}
			res.Records++
		}
		pos += size
		res.Bytes += int64(size)
	}
	if w.base+int64(pos) == 0 {
		// Created but never given its header: a crash while it was being
		// prepared, if no segment after it holds records.
		res.Bad, res.BadAt, res.Torn = fmt.Errorf("segment is empty: %w", ErrCorruption), 0, true
	}
	return res, nil
}

func asCorruption(err error) error {
	if err == errTorn {
		return fmt.Errorf("record cut short before the end of the log: %w", ErrCorruption)
	}
	return err
}

// replayChunk is how much of a segment replay holds in memory at a time:
// reading a whole segment into one fresh buffer costs a page fault per page
// of it, a reused window does not.
const replayChunk = 4 << 20

// segmentWindow reads a segment front to back through a reused buffer.
type segmentWindow struct {
	f    vfs.File
	buf  []byte
	base int64 // file offset of buf[0]
	eof  bool
}

// fill makes at least need bytes from buf[start:] available, unless the
// file ends first. It may move the data to the front of buf: base changes.
func (w *segmentWindow) fill(start, need int) (int, error) {
	if len(w.buf)-start >= need || w.eof {
		return start, nil
	}
	if start > 0 {
		n := copy(w.buf, w.buf[start:])
		w.buf = w.buf[:n]
		w.base += int64(start)
		start = 0
	}
	if need > cap(w.buf) {
		nb := make([]byte, len(w.buf), need)
		copy(nb, w.buf)
		w.buf = nb
	}
	for len(w.buf) < need && !w.eof {
		n, err := w.f.Read(w.buf[len(w.buf):cap(w.buf)])
		w.buf = w.buf[:len(w.buf)+n]
		if err == io.EOF {
			w.eof = true
		} else if err != nil {
			return start, err
		}
	}
	return start, nil
}

// rest returns the file's bytes from offset off to its end.
func (w *segmentWindow) rest(off int64) ([]byte, error) {
	size, err := w.f.Size()
	if err != nil || size <= off {
		return nil, err
	}
	b := make([]byte, size-off)
	n, err := w.f.ReadAt(b, off)
	if err == io.EOF {
		err = nil
	}
	return b[:n], err
}
