package inmem

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/inmem-db/inmem/internal/coldfile"
	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/inmem-db/inmem/wal"
)

// FilesReport is what VerifyFiles found in a database directory: each
// snapshot, the WAL segments recovery may need, and every problem in them
// or in how they fit together.
type FilesReport struct {
	Snapshots []SnapshotFile // newest first
	// Segments are the WAL segments read: those from the oldest one a
	// snapshot (or, with none, the start of the log) still needs.
	Segments []uint64
	Records  int // WAL records read
	// FirstVersion and LastVersion bound the commit versions in the
	// segments read; 0 when they hold none.
	FirstVersion, LastVersion uint64
	// Notes are crash leftovers that Open repairs by itself: a torn tail of
	// the last segment holding records, a segment made ahead of its use and
	// left unfinished, a half-written snapshot. They are not problems.
	Notes    []FileProblem
	Problems []FileProblem
	// ColdFiles counts the cold tier's files checked, ColdRuns the runs
	// its manifest places in them.
	ColdFiles, ColdRuns int
}

// OK reports whether VerifyFiles found no problem.
func (r FilesReport) OK() bool { return len(r.Problems) == 0 }

// SnapshotFile describes one snapshot file.
type SnapshotFile struct {
	Name    string // file name in the database directory
	Version uint64 // the last commit it holds
	Segment uint64 // the first WAL segment after it
	Entries uint64 // entries, as counted against its trailer
	Runs    int    // runs with steps
	OK      bool   // every check passed (one that fails only the step counts still loads)
}

// FileProblem is one finding in a file of the database directory.
type FileProblem struct {
	File   string // relative to the directory: snap-....snap, wal/000003.log
	Offset int64  // byte offset in File; -1 for the file as a whole (one that is missing)
	What   string
}

// String names the file and the offset.
func (p FileProblem) String() string {
	if p.Offset < 0 {
		return p.File + ": " + p.What
	}
	return fmt.Sprintf("%s at offset %d: %s", p.File, p.Offset, p.What)
}

// VerifyFiles checks the files of the database in dir without recovering
// it or changing anything: every snapshot (not only the one Open would
// load) against its checksums, its trailer's entry count and its header's
// step counts; the WAL segments numbered without gaps from the oldest one
// still needed, the newest snapshot's start segment and the fallback
// snapshot's both on disk; every WAL record's checksum, with damage only
// where a crash can leave it (the end of a segment no segment holding
// records follows, or a segment made ahead and never written); and commit
// versions that continue from each snapshot's version one by one; every
// cold file, block by block, and that every run the cold tier's manifest
// names has its file. It holds
// the directory lock as Open does while it reads, so a database another
// handle has open is ErrLocked. Damage is reported in FilesReport.Problems,
// each naming the file and offset; the error is for a directory that
// cannot be read.
func VerifyFiles(dir string) (FilesReport, error) {
	return verifyFiles(vfs.OS, dir)
}

func verifyFiles(fs vfs.FS, dir string) (FilesReport, error) {
	var r FilesReport
	if err := isDatabase(fs, dir); err != nil {
		return r, fmt.Errorf("verify %s: %w", dir, err)
	}
	if _, err := fs.List(walDir(dir)); err != nil {
		return r, fmt.Errorf("verify %s: no wal/ directory: %w", dir, err)
	}
	lock, err := fs.Lock(filepath.Join(dir, lockName))
	if err != nil {
		if errors.Is(err, vfs.ErrLocked) {
			return r, fmt.Errorf("verify %s: %w", dir, ErrLocked)
		}
		return r, fmt.Errorf("verify %s: lock: %w", dir, err)
	}
	defer lock.Close()
	names, err := fs.List(dir)
	if err != nil {
		return r, fmt.Errorf("verify %s: %w", dir, err)
	}
	segs, err := wal.Segments(fs, walDir(dir))
	if err != nil {
		return r, fmt.Errorf("verify %s: %w", dir, err)
	}
	for _, n := range names {
		if strings.HasSuffix(n, ".snap.tmp") {
			r.Notes = append(r.Notes, FileProblem{File: n, Offset: -1, What: "a snapshot a crash left half written; Open removes it"})
		}
	}
	good, err := r.checkSnapshots(fs, dir)
	if err != nil {
		return r, err
	}
	if err := r.checkWAL(fs, dir, segs, good); err != nil {
		return r, err
	}
	r.checkCold(fs, dir)
	return r, nil
}

// checkCold reads every block of every cold file past the cache, checks
// its index and footer, and checks that every manifest entry (read by a
// read-only recovery) names a file that is there. A file no entry names
// is a crash's leftover, which Open removes: a note.
func (r *FilesReport) checkCold(fs vfs.FS, dir string) {
	cdir := filepath.Join(dir, coldDirName)
	names, _ := fs.List(cdir)
	present := map[uint64]bool{}
	for _, n := range names {
		id, ok := parseColdName(n)
		rel := coldDirName + "/" + n
		if !ok {
			r.Notes = append(r.Notes, FileProblem{File: rel, Offset: -1, What: "not a cold file (a crash's leftover); Open removes it"})
			continue
		}
		present[id] = true
		r.ColdFiles++
		cf, err := coldfile.Open(fs, filepath.Join(cdir, n), id, nil)
		if err == nil {
			err = cf.Verify()
			cf.Close()
		}
		if err != nil {
			off := int64(-1)
			what := err.Error()
			if ce := (*coldfile.CorruptError)(nil); errors.As(err, &ce) {
				off, what = ce.Offset, ce.What
			}
			r.Problems = append(r.Problems, FileProblem{File: rel, Offset: off, What: what})
		}
	}
	db, err := Open(dir, withFS(fs), WithReadOnly())
	if err != nil {
		return // the WAL and snapshot checks say why
	}
	defer db.Close()
	named := map[uint64]bool{}
	db.cold.mu.RLock()
	for _, ref := range db.cold.scopes {
		named[ref.file.id] = true
		if !present[ref.file.id] {
			r.Problems = append(r.Problems, FileProblem{File: coldDirName + "/" + coldFileName(ref.file.id), Offset: -1,
				What: fmt.Sprintf("missing: the manifest says it holds run %s", ref.run)})
		}
	}
	db.cold.mu.RUnlock()
	r.ColdRuns = len(db.cold.scopes)
	for id := range present {
		if !named[id] {
			r.Notes = append(r.Notes, FileProblem{File: coldDirName + "/" + coldFileName(id), Offset: -1,
				What: "named by no manifest entry (a crash's leftover, or runs deleted since); Open or the next compaction removes it"})
		}
	}
}

// checkSnapshots reads every snapshot and returns the metadata of those
// Open can load (their records and trailer check out), newest first.
func (r *FilesReport) checkSnapshots(fs vfs.FS, dir string) ([]snapMeta, error) {
	versions, err := snapshots(fs, dir)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", dir, err)
	}
	var good []snapMeta
	for _, v := range versions {
		name := snapshotName(v)
		var count uint64
		meta, err := readSnapshot(fs, filepath.Join(dir, name), func([]byte, uint64, []byte) error {
			count++
			return nil
		})
		if err != nil && !errors.Is(err, ErrCorruption) && !errors.Is(err, wal.ErrCorruption) {
			return nil, fmt.Errorf("verify %s: %w", dir, err)
		}
		sf := SnapshotFile{Name: name, Version: meta.version, Segment: meta.segment, Entries: count, Runs: len(meta.steps)}
		if err != nil {
			off, what := splitOffset(err)
			r.problem(name, off, what)
			r.Snapshots = append(r.Snapshots, sf)
			continue
		}
		n := len(r.Problems)
		if meta.version != v {
			r.problem(name, 0, fmt.Sprintf("header says version %d, the file name %d", meta.version, v))
		}
		r.checkStepCounts(name, meta)
		sf.OK = len(r.Problems) == n
		r.Snapshots = append(r.Snapshots, sf)
		// Open loads it all the same, so the WAL is checked against it.
		good = append(good, meta)
	}
	return good, nil
}

// checkStepCounts compares the step count of each run in the header (at
// offset 0) with the length of the run's step list: recovery restores
// both, and AsOf and Fork index the list by step number.
func (r *FilesReport) checkStepCounts(name string, meta snapMeta) {
	ids := make([]RunID, 0, len(meta.steps))
	for id := range meta.steps {
		ids = append(ids, id)
	}
	for id := range meta.logs {
		if _, ok := meta.steps[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b RunID) int { return strings.Compare(string(a[:]), string(b[:])) })
	for _, id := range ids {
		if n, m := meta.steps[id], int64(len(meta.logs[id])); n != m {
			r.problem(name, 0, fmt.Sprintf("header says run %s has %d steps, its step list has %d", id, n, m))
		}
	}
}

// checkWAL checks the segments recovery may read, given the snapshots Open
// can load (newest first): the newest is what Open loads, the next one its
// fallback if the newest ever fails.
func (r *FilesReport) checkWAL(fs vfs.FS, dir string, segs []uint64, good []snapMeta) error {
	present := map[uint64]bool{}
	for _, s := range segs {
		present[s] = true
	}
	var primary, fallback *snapMeta
	need := uint64(1)
	if len(good) > 0 {
		primary = &good[0]
		need = primary.segment
		if !present[primary.segment] {
			r.problem(segFile(primary.segment), -1, fmt.Sprintf("missing: snapshot %s continues in it, so Open fails", snapshotName(primary.version)))
		}
	}
	if len(good) > 1 {
		fallback = &good[1]
		need = min(need, fallback.segment)
		if !present[fallback.segment] {
			r.problem(segFile(fallback.segment), -1, fmt.Sprintf("missing: the fallback snapshot %s continues in it, so it cannot stand in for %s",
				snapshotName(fallback.version), snapshotName(primary.version)))
			// The log from the newest snapshot on is still checked.
			fallback, need = nil, primary.segment
		}
	}
	var todo []uint64
	for _, s := range segs {
		if s >= need {
			todo = append(todo, s)
		}
	}
	if primary == nil && len(todo) > 0 && todo[0] != 1 {
		r.problem(segFile(1), -1, fmt.Sprintf("missing: with no snapshot Open can load, the log must start at %s, not %s", wal.SegmentName(1), wal.SegmentName(todo[0])))
	}
	for i := 1; i < len(todo); i++ {
		if todo[i] != todo[i-1]+1 {
			r.problem(segFile(todo[i-1]+1), -1, fmt.Sprintf("missing: the log jumps from %s to %s", wal.SegmentName(todo[i-1]), wal.SegmentName(todo[i])))
		}
	}

	// Versions continue one by one from the fallback's (or the newest
	// snapshot's) version. Where the newest snapshot's segments start, the
	// log before must have reached exactly its version.
	var prev uint64
	base := "the start of the log"
	if fallback != nil {
		prev, base = fallback.version, "snapshot "+snapshotName(fallback.version)
	} else if primary != nil {
		prev, base = primary.version, "snapshot "+snapshotName(primary.version)
	}
	atPrimary := fallback == nil
	resync := false // after damage, the next version starts a new count
	for i, s := range todo {
		file := segFile(s)
		if !atPrimary && s >= primary.segment {
			atPrimary = true
			if prev != primary.version && !resync {
				r.problem(file, -1, fmt.Sprintf("snapshot %s holds commits up to version %d, but the log before %s ends at version %d",
					snapshotName(primary.version), primary.version, wal.SegmentName(s), prev))
			}
			prev, base, resync = primary.version, "snapshot "+snapshotName(primary.version), false
		}
		sr, err := wal.ScanSegment(fs, walDir(dir), s, func(off int64, typ byte, p []byte) error {
			if typ != engine.RecBatch && typ != engine.RecBatchTimed {
				r.problem(file, off, fmt.Sprintf("record type %d is not a commit", typ))
				return nil
			}
			if _, err := engine.DecodeBatch(typ, p, func(uint64, []byte, []byte) error { return nil }); err != nil {
				r.problem(file, off, err.Error())
				return nil
			}
			v := binary.LittleEndian.Uint64(p)
			switch {
			case resync:
				resync = false
			case v <= prev:
				r.problem(file, off, fmt.Sprintf("version %d after version %d: versions must increase", v, prev))
			case v != prev+1:
				r.problem(file, off, fmt.Sprintf("version %d after version %d (%s): versions %s missing", v, prev, base, versionRange(prev+1, v-1)))
			}
			prev = max(prev, v)
			base = fmt.Sprintf("%s at offset %d", file, off)
			if r.FirstVersion == 0 {
				r.FirstVersion = v
			}
			r.LastVersion = max(r.LastVersion, v)
			return nil
		})
		if err != nil {
			return fmt.Errorf("verify %s: %w", dir, err)
		}
		r.Segments = append(r.Segments, s)
		r.Records += sr.Records
		if sr.Bad == nil {
			continue
		}
		// Damage no valid frame follows is a crash's if no later segment
		// holds a record (a roll fsyncs a segment before writing to the
		// next), as Replay judges it.
		later := uint64(0)
		if sr.Torn {
			if later, err = wal.FirstWithRecords(fs, walDir(dir), todo[i+1:]); err != nil {
				return fmt.Errorf("verify %s: %w", dir, err)
			}
		}
		switch {
		case !sr.Torn:
			r.problem(file, sr.BadAt, sr.Bad.Error())
			resync = true
		case later != 0:
			r.problem(file, sr.BadAt, fmt.Sprintf("%v, but %s after it holds records", sr.Bad, wal.SegmentName(later)))
			resync = true
		case sr.Records > 0:
			r.Notes = append(r.Notes, FileProblem{File: file, Offset: sr.BadAt, What: "a write cut short by a crash; Open cuts the log off here"})
		default:
			r.Notes = append(r.Notes, FileProblem{File: file, Offset: sr.BadAt, What: "a segment made ahead of its use that a crash left unfinished, holding no record; Open replaces it"})
		}
	}
	if !atPrimary && !resync && prev != primary.version {
		// Every segment read is older than the newest snapshot's own one.
		r.problem(segFile(primary.segment), -1, fmt.Sprintf("snapshot %s holds commits up to version %d, but the log ends at version %d",
			snapshotName(primary.version), primary.version, prev))
	}
	return nil
}

func (r *FilesReport) problem(file string, off int64, what string) {
	r.Problems = append(r.Problems, FileProblem{File: file, Offset: off, What: what})
}

func segFile(n uint64) string { return "wal/" + wal.SegmentName(n) }

func versionRange(from, to uint64) string {
	if from == to {
		return strconv.FormatUint(from, 10)
	}
	return fmt.Sprintf("%d..%d", from, to)
}

// splitOffset takes the offset out of a snapshot reader's error
// ("snapshot PATH at offset N: what"), so the problem names it once.
func splitOffset(err error) (int64, string) {
	s := err.Error()
	_, rest, ok := strings.Cut(s, " at offset ")
	if !ok {
		return -1, s
	}
	num, what, ok := strings.Cut(rest, ": ")
	off, perr := strconv.ParseInt(num, 10, 64)
	if !ok || perr != nil {
		return -1, s
	}
	return off, what
}
