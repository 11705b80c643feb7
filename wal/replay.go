package wal

import (
	"fmt"
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

func replaySegment(fs vfs.FS, dir string, n uint64, last bool, logger *slog.Logger, res *ReplayResult, fn func(byte, []byte) error) error {
	sr, err := ScanSegment(fs, dir, n, func(_ int64, typ byte, p []byte) error { return fn(typ, p) })
	res.Records += sr.Records
	res.Bytes += sr.Bytes
	if err != nil || sr.Bad == nil {
		return err
	}
	path := segmentPath(dir, n)
	// Only the end of the last segment can be a torn write, and only if
	// nothing valid follows the damage.
	if last && sr.Torn {
		return cutTorn(fs, path, n, sr.BadAt, logger, res)
	}
	return fmt.Errorf("wal: %s at offset %d: %w", path, sr.BadAt, sr.Bad)
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
