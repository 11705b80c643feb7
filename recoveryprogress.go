package inmem

import (
	"math/bits"
	"path/filepath"

	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/inmem-db/inmem/wal"
)

// recoveryProgress measures recovery in bytes read of the snapshot being
// loaded and of the WAL replayed after it, for WithRecoveryProgress. The
// total comes from file sizes before each file is read, so done never goes
// back; the total grows only when a damaged snapshot sends recovery to an
// older one. A nil *recoveryProgress does nothing, so recovery calls it
// unconditionally.
type recoveryProgress struct {
	fn    func(done, total int64)
	fs    vfs.FS
	dir   string
	done  int64
	total int64
	end   int64 // done once the file being read is read
	shown int64 // percent last reported; -1 before the first report
}

func newRecoveryProgress(fn func(done, total int64), fs vfs.FS, dir string) *recoveryProgress {
	if fn == nil {
		return nil
	}
	return &recoveryProgress{fn: fn, fs: fs, dir: dir, shown: -1}
}

// snapshot starts the reading of the snapshot at path: what is left is the
// file and the WAL from the segment its header names.
func (p *recoveryProgress) snapshot(path string) {
	if p == nil {
		return
	}
	p.advance(p.end)
	size := fileSize(p.fs, path)
	p.end = p.done + size
	p.total = p.end + p.walBytes(snapshotSegment(p.fs, path))
	p.report(true)
}

// entries wraps a snapshot entry callback to count each entry's encoded
// size as read.
func (p *recoveryProgress) entries(fn func(key []byte, version uint64, value []byte) error) func(key []byte, version uint64, value []byte) error {
	if p == nil {
		return fn
	}
	return func(key []byte, version uint64, value []byte) error {
		n := uvarintLen(uint64(len(key))) + len(key) + uvarintLen(version) + uvarintLen(uint64(len(value))) + len(value)
		p.advance(min(p.end, p.done+int64(n)))
		return fn(key, version, value)
	}
}

// wal starts the replay of the WAL from segment from on.
func (p *recoveryProgress) wal(from uint64) {
	if p == nil {
		return
	}
	p.advance(p.end)
	p.total = p.done + p.walBytes(from)
	p.end = p.total
	p.report(true)
}

// record counts one replayed WAL record of n payload bytes.
func (p *recoveryProgress) record(n int) {
	if p != nil {
		p.advance(min(p.end, p.done+int64(wal.HeaderSize+n)))
	}
}

// finish reports everything read: segment headers and torn tails are not
// records, so the count by records stops a little short.
func (p *recoveryProgress) finish() {
	if p != nil {
		p.advance(p.total)
	}
}

func (p *recoveryProgress) advance(done int64) {
	if done > p.done {
		p.done = done
		p.report(false)
	}
}

// report calls fn when the percent changed (or always, when the total
// did), so a large recovery costs about a hundred calls.
func (p *recoveryProgress) report(totalChanged bool) {
	if p.total <= 0 {
		return // nothing to read
	}
	pct := p.done * 100 / p.total
	if pct == p.shown && !totalChanged {
		return
	}
	p.shown = pct
	p.fn(p.done, p.total)
}

// walBytes is the size of the WAL segments numbered from on.
func (p *recoveryProgress) walBytes(from uint64) int64 {
	segs, err := wal.Segments(p.fs, walDir(p.dir))
	if err != nil {
		return 0
	}
	var n int64
	for _, s := range segs {
		if s >= from {
			n += fileSize(p.fs, filepath.Join(walDir(p.dir), wal.SegmentName(s)))
		}
	}
	return n
}

// fileSize is the size of the file at path, or 0 if it cannot be read:
// progress is an estimate and must not fail recovery.
func fileSize(fs vfs.FS, path string) int64 {
	f, err := fs.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n, err := f.Size()
	if err != nil {
		return 0
	}
	return n
}

// snapshotSegment reads only the header of the snapshot at path and
// returns the first WAL segment after it, or 1 if the header is unreadable.
func snapshotSegment(fs vfs.FS, path string) uint64 {
	meta, _, err := readSnapHeader(fs, path)
	if err != nil {
		return 1
	}
	return meta.segment
}

func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }
