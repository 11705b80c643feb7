package inmem

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/inmem-db/inmem/internal/coldfile"
	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/keys"
	"github.com/inmem-db/inmem/internal/vfs"
)

// The cold tier: the whole history of ended runs, moved out of the arena
// into immutable files under DIR/cold/ (format: internal/coldfile), many
// runs to a file. The manifest, which scope lives in which file up to
// which version, is a record per frozen run in the system scope
// (keys.TagCold), committed through the one commit path, so the WAL and
// snapshots carry it and recovery derives the tier from it (apply.go).
//
// Reads of a frozen scope go to its file instead of the arena
// (readthrough.go); everything of the scope at or below the record's
// version is there, and reclaim drops it from the arena once the record
// is applied. The order that keeps a crash harmless: the file is complete
// and its directory synced before the record is committed; a file no
// record names is an orphan, removed at the next writable open; a file a
// compaction replaced is removed only once the records that moved its runs
// are durable.

const coldDirName = "cold"

// coldRecord is a frozen run's manifest entry.
type coldRecord struct {
	File    uint64 // the file's number: cold/<number>.cold
	Version uint64 // every version of the scope at or below it is in the file
	Scope   []byte // the run's scope (a deleted run's scope may still be a fork's base)
	Bytes   int64  // bytes of the scope's entries in the file, before compression
	Size    int64  // the file's size
	Runs    int    // runs the file was written with
}

// coldRef is where a frozen scope's history lives.
type coldRef struct {
	run     RunID
	file    *coldFile
	version uint64
	bytes   int64
	at      uint64 // the version of the manifest entry
	scope   []byte
	// span is the file's blocks holding the scope, found on first read:
	// a point read searches those, not the whole file's index.
	span atomic.Pointer[[2]int]
}

// coldTier holds the files and the manifest as applied. It exists for
// every database with a directory (read-only ones read cold runs too).
type coldTier struct {
	fs        vfs.FS
	dir       string
	cacheSize int64

	cacheMu sync.Mutex
	cache   atomic.Pointer[coldfile.Cache] // made by the first read
	closed  bool                           // guarded by cacheMu: no cache after close

	openMu sync.Mutex
	open   []*coldFile // files opened, oldest first (see opened)

	mu     sync.RWMutex
	files  map[uint64]*coldFile
	scopes map[string]*coldRef // by scope
	byRun  map[RunID]string    // run -> its scope in scopes
	next   uint64              // the highest file number seen
	made   bool                // the directory is known to exist
}

func newColdTier(fs vfs.FS, dir string, cacheSize int64) *coldTier {
	return &coldTier{
		fs: fs, dir: filepath.Join(dir, coldDirName), cacheSize: cacheSize,
		files: map[uint64]*coldFile{}, scopes: map[string]*coldRef{}, byRun: map[RunID]string{},
	}
}

// coldFile is one file of the tier, opened on first read. Reads count
// themselves in refs; a file no manifest entry names any more is closed
// and removed once its last read ends.
type coldFile struct {
	tier *coldTier
	id   uint64
	path string
	// Guarded by the tier's mu: what the manifest says of the file.
	size int64 // bytes on disk
	runs int   // runs it was written with
	live int   // manifest entries naming it

	mu      sync.Mutex
	r       *coldfile.Reader
	err     error // why it could not be opened (damage is reported per read, not at Open)
	refs    int
	retired bool // named by no manifest entry: removed when refs reach 0
	removed bool
}

func coldFileName(id uint64) string { return fmt.Sprintf("%016x.cold", id) }

// file returns the tier's file with that number, known or not yet.
// t.mu is held.
func (t *coldTier) fileLocked(id uint64) *coldFile {
	f := t.files[id]
	if f == nil {
		f = &coldFile{tier: t, id: id, path: filepath.Join(t.dir, coldFileName(id))}
		t.files[id] = f
		t.next = max(t.next, id)
	}
	return f
}

// lookup returns where scope's history lives, or nil for a hot scope.
func (t *coldTier) lookup(scope []byte) *coldRef {
	if t == nil {
		return nil
	}
	t.mu.RLock()
	ref := t.scopes[string(scope)]
	t.mu.RUnlock()
	return ref
}

// blockCache returns the tier's block cache, made on first use (it runs
// goroutines: a database that never reads a cold block has none).
func (t *coldTier) blockCache() (*coldfile.Cache, error) {
	if c := t.cache.Load(); c != nil {
		return c, nil
	}
	t.cacheMu.Lock()
	defer t.cacheMu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	if c := t.cache.Load(); c != nil {
		return c, nil
	}
	c, err := coldfile.NewCache(t.cacheSize)
	if err != nil {
		return nil, err
	}
	t.cache.Store(c)
	return c, nil
}

// acquire opens the file if needed and counts a read in flight; release
// ends it.
func (f *coldFile) acquire() (*coldfile.Reader, error) {
	f.mu.Lock()
	if f.removed {
		f.mu.Unlock()
		return nil, fmt.Errorf("cold file %s: removed by a compaction: %w", f.path, errColdMoved)
	}
	opened := false
	if f.r == nil && f.err == nil {
		cache, err := f.tier.blockCache()
		if err == nil {
			f.r, err = coldfile.Open(f.tier.fs, f.path, f.id, cache)
			if errors.Is(err, fs.ErrNotExist) {
				// The manifest names it durably: a file gone is damage.
				err = fmt.Errorf("cold file %s, which the manifest names, is missing: %w", f.path, ErrCorruption)
			}
		}
		if err != nil {
			f.mu.Unlock()
			if errors.Is(err, ErrCorruption) {
				f.mu.Lock()
				f.err = err // damage stays; anything else (out of descriptors) is tried again
				f.mu.Unlock()
			}
			return nil, err
		}
		opened = true
	}
	if f.err != nil {
		f.mu.Unlock()
		return nil, f.err
	}
	f.refs++
	r := f.r
	f.mu.Unlock()
	if opened {
		f.tier.opened(f)
	}
	return r, nil
}

// maxOpenColdFiles bounds the cold files a database keeps open (a file
// descriptor and its block index each): beyond it, the longest open file
// that no read holds is closed, and opened again when read.
const maxOpenColdFiles = 256

// opened records that f was opened and closes idle files beyond
// maxOpenColdFiles, oldest opened first.
func (t *coldTier) opened(f *coldFile) {
	t.openMu.Lock()
	defer t.openMu.Unlock()
	t.open = append(t.open, f)
	if len(t.open) <= maxOpenColdFiles {
		return
	}
	keep := t.open[:0]
	excess := len(t.open) - maxOpenColdFiles
	for _, g := range t.open {
		if excess > 0 && g != f && g.closeIdle() {
			excess--
			continue
		}
		keep = append(keep, g)
	}
	clear(t.open[len(keep):])
	t.open = keep
}

// closeIdle closes the file's reader if no read holds it, reporting
// whether the file is closed now.
func (f *coldFile) closeIdle() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.r == nil {
		return true
	}
	if f.refs > 0 {
		return false
	}
	f.r.Close()
	f.r = nil
	return true
}

func (f *coldFile) release() {
	f.mu.Lock()
	f.refs--
	done := f.refs == 0 && f.retired && !f.removed
	if done {
		f.removed = true
	}
	f.mu.Unlock()
	if done {
		f.remove()
	}
}

// retire marks a file no manifest entry names: it goes once no read holds it.
func (f *coldFile) retire() {
	f.mu.Lock()
	f.retired = true
	done := f.refs == 0 && !f.removed
	if done {
		f.removed = true
	}
	f.mu.Unlock()
	if done {
		f.remove()
	}
}

func (f *coldFile) remove() {
	f.mu.Lock()
	r := f.r
	f.r = nil
	f.mu.Unlock()
	if r != nil {
		r.Close()
	}
	f.tier.fs.Remove(f.path) // a leftover is an orphan, removed at the next open
}

// errColdMoved is what a read gets that took a file a compaction has just
// replaced: it reads again through the new manifest entry.
var errColdMoved = fmt.Errorf("cold file moved")

// get reads key at snapshot from the scope's file. The value aliases a
// block, which is never changed once read.
func (ref *coldRef) get(key []byte, snapshot uint64) ([]byte, uint64, bool, error) {
	r, err := ref.file.acquire()
	if err != nil {
		return nil, 0, false, err
	}
	defer ref.file.release()
	sp := ref.span.Load()
	if sp == nil {
		lo, hi := r.Span(ref.scope)
		sp = &[2]int{lo, hi}
		ref.span.Store(sp)
	}
	return r.GetIn(sp[0], sp[1], key, min(snapshot, ref.version))
}

// applyColdRecord brings the tier up to the manifest entry of run id
// written at version v (nil: its tombstone). The live path calls it after
// the commit, recovery for each entry in a snapshot or the WAL.
func (db *DB) applyColdRecord(id RunID, rec *coldRecord, v uint64) {
	t := db.cold
	if t == nil {
		return
	}
	t.mu.Lock()
	var old *coldRef
	if scope, ok := t.byRun[id]; ok {
		old = t.scopes[scope]
		delete(t.scopes, scope)
		delete(t.byRun, id)
	}
	var ref *coldRef
	if rec != nil {
		f := t.fileLocked(rec.File)
		f.size, f.runs = rec.Size, rec.Runs
		f.live++
		ref = &coldRef{run: id, file: f, version: rec.Version, bytes: rec.Bytes, at: v, scope: rec.Scope}
		t.scopes[string(rec.Scope)] = ref
		t.byRun[id] = string(rec.Scope)
	}
	if old != nil {
		old.file.live-- // at 0, the next compaction removes it
	}
	t.mu.Unlock()
	db.runsMu.RLock()
	rs := db.runs[id]
	db.runsMu.RUnlock()
	if rs != nil {
		rs.cold.Store(ref)
		db.dropVectors(rs.scope) // built again from the file on first search
		if ref != nil {
			rs.Log.Seal() // an ended run takes no more steps
		}
	}
}

// coldGraphs bounds the vector graphs of frozen scopes kept in memory:
// each is built from its cold file on first search, and the least
// recently searched goes when more are built.
const coldGraphs = 16

// touchColdGraph records a search of a frozen scope's graph and forgets
// the least recently searched beyond coldGraphs.
func (db *DB) touchColdGraph(k vecIndexKey) {
	db.vecMu.Lock()
	defer db.vecMu.Unlock()
	lru := slices.DeleteFunc(db.coldGraphs, func(x vecIndexKey) bool { return x == k })
	lru = append(lru, k)
	for len(lru) > coldGraphs {
		delete(db.vecs, lru[0])
		lru = lru[1:]
	}
	db.coldGraphs = lru
}

// coldRecordKey is where run id's manifest entry lives in the system scope.
func (db *DB) coldRecordKey(id RunID) []byte {
	return keys.AppendKey(nil, db.system.scope, keys.TagCold, id[:])
}

// isColdRecordKey reports whether key is a manifest entry, returning the run.
func (db *DB) isColdRecordKey(key []byte) (RunID, bool) {
	s := db.system.scope
	if len(key) != len(s)+1+len(RunID{}) || string(key[:len(s)]) != string(s) || key[len(s)] != keys.TagCold {
		return RunID{}, false
	}
	return RunID(key[len(s)+1:]), true
}

// decodeColdRecord decodes a stored manifest entry (header included); nil
// for its tombstone.
func decodeColdRecord(val []byte) (*coldRecord, error) {
	user, live := engine.DecodeValue(val, nil)
	if !live {
		return nil, nil
	}
	var rec coldRecord
	if err := json.Unmarshal(user, &rec); err != nil || rec.File == 0 || len(rec.Scope) == 0 {
		return nil, fmt.Errorf("cold manifest entry %q: %w", user, ErrCorruption)
	}
	return &rec, nil
}

// applySnapshotCold applies the manifest entries a snapshot holds.
func (db *DB) applySnapshotCold(version uint64) error {
	if version == 0 {
		return nil
	}
	prefix := append(append([]byte(nil), db.system.scope...), keys.TagCold)
	var ferr error
	db.store.Current().Scan(prefix, version, nil, func(key, val []byte, v uint64) bool {
		id, ok := db.isColdRecordKey(key)
		if !ok {
			ferr = fmt.Errorf("cold manifest key %q: %w", key, ErrCorruption)
			return false
		}
		var rec coldRecord
		if err := json.Unmarshal(val, &rec); err != nil {
			ferr = fmt.Errorf("cold manifest entry: %v: %w", err, ErrCorruption)
			return false
		}
		db.applyColdRecord(id, &rec, v)
		return true
	})
	return ferr
}

// sweepCold removes what a crash left in the cold directory: temporary
// files and files no manifest entry names. It runs at a writable open,
// after recovery, and also learns the highest file number in use.
func (t *coldTier) sweep() error {
	names, err := t.fs.List(t.dir)
	if err != nil {
		return nil // no cold directory yet
	}
	removed := false
	for _, n := range names {
		id, ok := parseColdName(n)
		t.mu.Lock()
		if ok {
			t.next = max(t.next, id)
		}
		f := t.files[id]
		keep := ok && f != nil && f.live > 0
		if ok && f != nil && !keep {
			delete(t.files, id)
		}
		t.mu.Unlock()
		if keep {
			continue
		}
		if err := t.fs.Remove(filepath.Join(t.dir, n)); err != nil {
			return fmt.Errorf("cold tier: remove %s: %w", n, err)
		}
		removed = true
	}
	if removed {
		return t.fs.SyncDir(t.dir)
	}
	return nil
}

func parseColdName(n string) (uint64, bool) {
	s, ok := strings.CutSuffix(n, ".cold")
	if !ok || len(s) != 16 {
		return 0, false
	}
	id, err := strconv.ParseUint(s, 16, 64)
	return id, err == nil && id != 0
}

// close drops the cache and closes every open file.
func (t *coldTier) close() {
	if t == nil {
		return
	}
	t.mu.Lock()
	for _, f := range t.files {
		f.mu.Lock()
		if f.r != nil && !f.removed {
			f.r.Close()
			f.r, f.err = nil, ErrClosed
		}
		f.mu.Unlock()
	}
	t.mu.Unlock()
	t.cacheMu.Lock()
	t.closed = true
	if c := t.cache.Load(); c != nil {
		c.Close()
	}
	t.cacheMu.Unlock()
}

// stats returns the bytes of the tier's files and the cache's counters.
func (t *coldTier) stats() (bytes int64, hits, misses uint64) {
	if t == nil {
		return
	}
	t.mu.RLock()
	for _, f := range t.files {
		if f.live > 0 {
			bytes += f.size
		}
	}
	t.mu.RUnlock()
	if c := t.cache.Load(); c != nil {
		hits, misses = c.Stats()
	}
	return
}
