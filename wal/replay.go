package wal

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"

	"github.com/inmem-db/inmem/internal/vfs"
)

// ReplayResult describes what Replay read.
type ReplayResult struct {
	Segments int    // segment files read
	Records  int    // caller records delivered
	Bytes    int64  // bytes of valid log read
	Last     uint64 // number of the last segment read (0 if none)
	// Next is the number a new segment written after these should get:
	// Last+1, or the number of a last segment that was removed as torn.
	Next uint64
	// Torn is set when a damaged record at the very end of the last segment
	// was cut off, at TornAt in segment Last.
	Torn   bool
	TornAt int64
}

// Replay reads the segments in dir numbered from on, in order, and calls fn
// for every caller record. The payload passed to fn is only valid during
// the call. A torn tail of the last segment is truncated away (and logged);
// any other damage returns an error wrapping ErrCorruption that names the
// file and offset, after the records before it were delivered.
func Replay(fs vfs.FS, dir string, from uint64, logger *slog.Logger, fn func(typ byte, payload []byte) error) (ReplayResult, error) {
	var res ReplayResult
	segs, err := Segments(fs, dir)
	if err != nil {
		return res, fmt.Errorf("wal: list %s: %w", dir, err)
	}
	var todo []uint64
	for _, n := range segs {
		if n >= from {
			todo = append(todo, n)
		}
	}
	res.Next = max(from, 1)
	if from > 1 && (len(todo) == 0 || todo[0] != from) {
		// The snapshot says its commits continue in segment from.
		return res, fmt.Errorf("wal: segment %s missing: %w", SegmentName(from), ErrCorruption)
	}
	for i, n := range todo {
		if i > 0 && n != todo[i-1]+1 {
			return res, fmt.Errorf("wal: segment %s missing before %s: %w", SegmentName(todo[i-1]+1), SegmentName(n), ErrCorruption)
		}
		last := i == len(todo)-1
		if err := replaySegment(fs, dir, n, last, logger, &res, fn); err != nil {
			return res, err
		}
		res.Segments++
		res.Last = n
		res.Next = n + 1
		if res.Torn && res.TornAt == 0 {
			res.Next = n // the torn segment was removed: reuse its number
		}
	}
	return res, nil
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

func replaySegment(fs vfs.FS, dir string, n uint64, last bool, logger *slog.Logger, res *ReplayResult, fn func(byte, []byte) error) error {
	path := segmentPath(dir, n)
	f, err := fs.Open(path)
	if err != nil {
		return fmt.Errorf("wal: open %s: %w", path, err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return fmt.Errorf("wal: stat %s: %w", path, err)
	}
	w := &segmentWindow{f: f, buf: make([]byte, 0, max(HeaderSize, min(replayChunk, size)))}
	pos := 0 // in w.buf
	for {
		if pos, err = w.fill(pos, HeaderSize); err != nil {
			return fmt.Errorf("wal: read %s: %w", path, err)
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
				return fmt.Errorf("wal: read %s: %w", path, err)
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
			// Only the end of the last segment can be a torn write, and only
			// if nothing valid follows the damage.
			if last {
				after, rerr := w.rest(off + 1)
				if rerr != nil {
					return fmt.Errorf("wal: read %s: %w", path, rerr)
				}
				if !validFrameAfter(after) {
					return cutTorn(fs, path, n, off, logger, res)
				}
			}
			return fmt.Errorf("wal: %s at offset %d: %w", path, off, asCorruption(derr))
		}
		if off > 0 {
			if err := fn(typ, payload); err != nil {
				return fmt.Errorf("wal: %s at offset %d: %w", path, off, err)
			}
			res.Records++
		}
		pos += size
		res.Bytes += int64(size)
	}
	if w.base+int64(pos) == 0 {
		if last {
			// A segment created but never given its header: a crash right
			// after creating it.
			return cutTorn(fs, path, n, 0, logger, res)
		}
		return fmt.Errorf("wal: %s is empty: %w", path, ErrCorruption)
	}
	return nil
}

func asCorruption(err error) error {
	if err == errTorn {
		return fmt.Errorf("record cut short before the end of the log: %w", ErrCorruption)
	}
	return err
}

// cutTorn truncates the last segment at off, where its torn tail starts.
func cutTorn(fs vfs.FS, path string, n uint64, off int64, logger *slog.Logger, res *ReplayResult) error {
	if logger != nil {
		logger.Warn("wal: cutting torn tail", "file", path, "offset", off)
	}
	res.Torn, res.TornAt, res.Last = true, off, n
	if off == 0 {
		// Not even the header survived: the segment never held a record.
		if err := fs.Remove(path); err != nil {
			return fmt.Errorf("wal: remove torn %s: %w", path, err)
		}
		return nil
	}
	f, err := fs.OpenAppend(path)
	if err != nil {
		return fmt.Errorf("wal: open %s: %w", path, err)
	}
	if err := f.Truncate(off); err != nil {
		f.Close()
		return fmt.Errorf("wal: truncate %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("wal: sync %s: %w", path, err)
	}
	return f.Close()
}
