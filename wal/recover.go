package wal

import (
	"fmt"
	"log/slog"

	"github.com/inmem-db/inmem/internal/vfs"
)

// RecoverResult describes what Recover read.
type RecoverResult struct {
	Segments int   // segment files read
	Records  int   // caller records delivered
	Bytes    int64 // bytes of valid log read
	// Last is the number of the last segment kept (0 if none), and
	// LastWithRecords that of the last one holding records (0 if none). A
	// caller about to write after them fsyncs both first: what it read may
	// sit only in the page cache, written by a process that died.
	Last, LastWithRecords uint64
	// Next is the number a new segment written after these should get:
	// Last+1, which may be the number of a segment holding no record that a
	// crash left unfinished (being prepared ahead): the new one replaces it.
	Next uint64
	// Torn is set when a damaged record at the end of segment
	// LastWithRecords, with no record in any segment after it, was cut off
	// at TornAt.
	Torn   bool
	TornAt int64
}

// Recover reads the segments in dir numbered from on, in order, and calls fn
// for every caller record. The payload passed to fn is only valid during
// the call.
//
// Damage that no valid frame follows, in a segment that no segment
// holding records follows, is what a crash leaves: in a segment holding
// records it is a torn tail, truncated away (and logged); in one holding
// none (see ScanResult.Empty) it is a segment left unfinished, which the
// caller replaces (Next) and after which every segment, holding no record
// either, is removed. Any other damage returns an error wrapping
// ErrCorruption that names the file and offset, after the records before
// it were delivered.
func Recover(fs vfs.FS, dir string, from uint64, logger *slog.Logger, fn func(typ byte, payload []byte) error) (RecoverResult, error) {
	return scanLog(fs, dir, from, logger, fn, true)
}

// Read is Recover for a reader that must not change the log, perhaps one
// another process is writing: a torn tail is read as the log's end and not
// cut off, and a segment left unfinished is skipped, not removed. What a
// writer is in the middle of writing can look like damage that is not at
// the end (a segment it rolled away from, read before the roll): a reader
// that gets ErrCorruption from a live log reads it again.
func Read(fs vfs.FS, dir string, from uint64, fn func(typ byte, payload []byte) error) (RecoverResult, error) {
	return scanLog(fs, dir, from, nil, fn, false)
}

// scanLog is Recover, and Read when write is false.
func scanLog(fs vfs.FS, dir string, from uint64, logger *slog.Logger, fn func(typ byte, payload []byte) error, write bool) (RecoverResult, error) {
	var res RecoverResult
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
	for i := 1; i < len(todo); i++ {
		if todo[i] != todo[i-1]+1 {
			return res, fmt.Errorf("wal: segment %s missing before %s: %w", SegmentName(todo[i-1]+1), SegmentName(todo[i]), ErrCorruption)
		}
	}
	keep := len(todo) // todo[:keep] stay; todo[keep] is replaced, the rest go
	for i, n := range todo {
		sr, err := ScanSegment(fs, dir, n, func(_ int64, typ byte, p []byte) error { return fn(typ, p) })
		res.Records += sr.Records
		res.Bytes += sr.Bytes
		if err != nil {
			return res, err
		}
		res.Segments++
		if sr.Records > 0 {
			res.LastWithRecords = n
		}
		if sr.Bad == nil {
			continue
		}
		path := segmentPath(dir, n)
		if !sr.Torn {
			return res, fmt.Errorf("wal: %s at offset %d: %w", path, sr.BadAt, sr.Bad)
		}
		later, err := FirstWithRecords(fs, dir, todo[i+1:])
		if err != nil {
			return res, err
		}
		if later != 0 {
			// The segment was rolled away from, so fsynced whole: this is
			// no write a crash cut short.
			return res, fmt.Errorf("wal: %s at offset %d: %w (%s after it holds records)", path, sr.BadAt, sr.Bad, SegmentName(later))
		}
		switch {
		case sr.Records > 0:
			if write {
				if err := cutTorn(fs, path, sr.BadAt, logger); err != nil {
					return res, err
				}
			}
			res.Torn, res.TornAt = true, sr.BadAt
		case keep == len(todo):
			keep = i
		}
	}
	if keep > 0 {
		res.Last = todo[keep-1]
		res.Next = res.Last + 1
	} else if len(todo) > 0 {
		res.Next = todo[0]
	}
	// Highest first, so that a crash part way leaves no gap.
	for j := len(todo) - 1; write && j > keep; j-- {
		path := segmentPath(dir, todo[j])
		if err := fs.Remove(path); err != nil {
			return res, fmt.Errorf("wal: remove unused %s: %w", path, err)
		}
	}
	return res, nil
}

// cutTorn truncates a segment at off, where its torn tail starts.
func cutTorn(fs vfs.FS, path string, off int64, logger *slog.Logger) error {
	if logger != nil {
		logger.Warn("wal: cutting torn tail", "file", path, "offset", off)
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
