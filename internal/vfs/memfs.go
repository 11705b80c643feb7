package vfs

import (
	"errors"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
)

// ErrCrashed is returned by every call on a MemFS (and its open files) once
// it has crashed, by CrashAfter or CrashClone: the process is dead.
var ErrCrashed = errors.New("vfs: crashed")

// ErrInjected is the default error injected by MemFS.FailAfter.
var ErrInjected = errors.New("vfs: injected fault")

// sectorSize is the unit of torn writes.
const sectorSize = 512

// MemFS is an in-memory FS built to test crash safety.
//
// Durability model. Every file has its current content and its durable
// content; File.Sync makes the current content durable. The namespace has a
// current view and a durable view: Create of a new name, Rename and Remove
// change the current view, and SyncDir(dir) copies the current view of the
// names directly in dir into the durable view. CrashClone returns the disk
// as a power loss would leave it: exactly the names of the durable view,
// each with its durable content plus, possibly, part of what was written
// after the last Sync (see CrashClone).
//
// Directories are implicit: Create, Rename and Lock record the parents of
// their path as directories, and MkdirAll records a directory explicitly.
// Directories themselves are durable at once (only file names are subject
// to SyncDir).
//
// Operations counted by Ops, and subject to FailAfter and CrashAfter, are
// the mutating or syncing ones: Create, OpenAppend, File.Write, File.Sync,
// SyncDir, Rename, Remove, File.Truncate, File.Preallocate and MkdirAll.
// Open, reads, List, Size, Close and Lock are not counted.
//
// All methods are safe for concurrent use.
type MemFS struct {
	// TornWrites, when set, lets CrashClone fill the last partially kept
	// 512-byte sector of a file's unsynced data with random garbage. Set it
	// before the MemFS is used concurrently.
	TornWrites bool

	mu      sync.Mutex
	rng     *rand.Rand
	keep    float64           // fraction of unsynced data kept by CrashClone; <0: random
	files   map[string]*inode // current namespace
	durable map[string]*inode // durable namespace
	dirs    map[string]bool   // known directories (root is implicit)
	locks   map[string]bool
	ops     int
	failAt  int // op index from which ops fail with failErr; 0: none
	failErr error
	crashAt int  // op index from which the process is dead; 0: none
	dead    bool // crashed: every call returns ErrCrashed
}

var _ FS = (*MemFS)(nil)

type inode struct {
	data    []byte // current content
	durable []byte // content as of the last Sync
	// dirtyFrom is the lowest offset changed since the last Sync. While it is
	// >= len(durable), data has durable as a prefix (only appends happened).
	dirtyFrom int64
	// alloc is what Preallocate reserved, until a Truncate gives back what
	// lies past the new end. It changes no content, so a crash forgets it.
	alloc int64
}

// NewMemFS returns an empty MemFS whose crash randomness is seeded by seed.
func NewMemFS(seed int64) *MemFS {
	return &MemFS{
		rng:     rand.New(rand.NewSource(seed)),
		keep:    -1,
		files:   map[string]*inode{},
		durable: map[string]*inode{},
		dirs:    map[string]bool{},
		locks:   map[string]bool{},
	}
}

// SetKeepUnsynced makes CrashClone keep the fraction frac (clamped to 1) of
// every file's unsynced data instead of a random amount; frac < 0 restores
// the random choice.
func (m *MemFS) SetKeepUnsynced(frac float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if frac > 1 {
		frac = 1
	}
	m.keep = frac
}

// FailAfter makes the n-th counted operation from now (n = 1: the next one)
// and every later one fail with err (ErrInjected if err is nil), wrapped in
// an error naming the operation and path. The failing operation has no
// effect. n < 1 clears the fault.
func (m *MemFS) FailAfter(n int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		err = ErrInjected
	}
	if n < 1 {
		m.failAt, m.failErr = 0, nil
		return
	}
	m.failAt, m.failErr = m.ops+n, err
}

// CrashAfter kills the process at the n-th counted operation from now
// (n = 1: the next one): that operation has no effect, and it and every
// later call on the MemFS or its files return ErrCrashed. CrashClone then
// gives the disk after the crash. n < 1 clears a pending crash.
func (m *MemFS) CrashAfter(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n < 1 {
		m.crashAt = 0
		return
	}
	m.crashAt = m.ops + n
}

// Ops returns the number of counted operations attempted so far, including
// failed ones and the one that crashed the process.
func (m *MemFS) Ops() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ops
}

// Crashed reports whether the MemFS is dead (CrashAfter fired or CrashClone
// was called).
func (m *MemFS) Crashed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dead
}

// CrashClone returns a new MemFS holding what the disk holds after a power
// loss now, and kills m: every later call on m or its files returns
// ErrCrashed.
//
// The clone has exactly the names of m's durable namespace. For each, the
// content is chosen from m's seeded randomness (or the SetKeepUnsynced
// fraction):
//   - if the file was only appended to since its last Sync, the durable
//     content followed by a prefix, of random length from none to all, of
//     the appended bytes;
//   - if it was overwritten below its durable size or truncated, either the
//     durable content or a prefix of the current content that includes at
//     least the unchanged part (fraction 0: durable; otherwise the current
//     content's prefix keeping that fraction of the changed part).
//
// With TornWrites, when the unsynced data is kept only in part, the kept part
// of its last 512-byte sector (file-offset aligned) may be random garbage;
// durable bytes are never touched.
//
// The clone inherits TornWrites and the SetKeepUnsynced setting, has no
// locks held, no faults armed and an Ops count of 0, and is seeded from m's
// randomness, so a run is reproducible from the first seed.
func (m *MemFS) CrashClone() *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dead = true
	nm := NewMemFS(m.rng.Int63())
	nm.TornWrites = m.TornWrites
	nm.keep = m.keep
	for d := range m.dirs {
		nm.dirs[d] = true
	}
	names := make([]string, 0, len(m.durable))
	for name := range m.durable {
		names = append(names, name)
	}
	sort.Strings(names)
	memo := map[*inode][]byte{}
	for _, name := range names {
		ino := m.durable[name]
		c, ok := memo[ino]
		if !ok {
			c = m.crashContent(ino)
			memo[ino] = c
		}
		n := &inode{data: clone(c), durable: clone(c), dirtyFrom: int64(len(c))}
		nm.files[name] = n
		nm.durable[name] = n
		nm.addParents(name)
	}
	return nm
}

// crashContent returns ino's content after a power loss. m.mu is held.
func (m *MemFS) crashContent(ino *inode) []byte {
	dl := int64(len(ino.durable))
	if ino.dirtyFrom >= dl {
		// Appends only: durable content plus a prefix of the rest.
		tail := ino.data[dl:]
		k := m.pickKeep(int64(len(tail)))
		out := append(clone(ino.durable), tail[:k]...)
		if k > 0 && k < int64(len(tail)) {
			m.tear(out, dl, dl+k)
		}
		return out
	}
	// Rewritten or truncated: durable content or a prefix of the current.
	changed := int64(len(ino.data)) - ino.dirtyFrom
	var k int64
	switch {
	case m.keep < 0:
		if m.rng.Intn(2) == 0 {
			return clone(ino.durable)
		}
		k = m.pickKeep(changed)
	case m.keep == 0:
		return clone(ino.durable)
	default:
		k = m.pickKeep(changed)
	}
	out := clone(ino.data[:ino.dirtyFrom+k])
	if k > 0 && k < changed {
		m.tear(out, ino.dirtyFrom, ino.dirtyFrom+k)
	}
	return out
}

// pickKeep returns how many of n unsynced bytes survive. m.mu is held.
func (m *MemFS) pickKeep(n int64) int64 {
	if n <= 0 {
		return 0
	}
	if m.keep >= 0 {
		k := int64(m.keep * float64(n))
		if k > n {
			k = n
		}
		return k
	}
	switch m.rng.Intn(4) {
	case 0:
		return 0
	case 1:
		return n
	default:
		return m.rng.Int63n(n + 1)
	}
}

// tear may fill out[max(lo, sector start):hi] with garbage, where the sector
// is the one holding byte hi-1. m.mu is held.
func (m *MemFS) tear(out []byte, lo, hi int64) {
	if !m.TornWrites || hi <= lo || m.rng.Intn(2) == 0 {
		return
	}
	from := (hi - 1) / sectorSize * sectorSize
	if from < lo {
		from = lo
	}
	m.rng.Read(out[from:hi])
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

func (ino *inode) writeAt(p []byte, off int64) {
	end := off + int64(len(p))
	if end > int64(len(ino.data)) {
		ino.data = append(ino.data, make([]byte, end-int64(len(ino.data)))...)
	}
	copy(ino.data[off:], p)
	if off < ino.dirtyFrom {
		ino.dirtyFrom = off
	}
}

func (ino *inode) truncate(size int64) {
	ino.alloc = 0 // as on Linux: blocks past the new end are freed
	if size < int64(len(ino.data)) {
		ino.data = ino.data[:size]
		if size < ino.dirtyFrom {
			ino.dirtyFrom = size
		}
		return
	}
	ino.data = append(ino.data, make([]byte, size-int64(len(ino.data)))...)
}

func (ino *inode) sync() {
	ino.durable = clone(ino.data)
	ino.dirtyFrom = int64(len(ino.data))
}

func pathErr(op, path string, err error) error {
	return &fs.PathError{Op: op, Path: path, Err: err}
}

// step counts an operation and returns the error it must fail with, if any.
// m.mu is held.
func (m *MemFS) step() error {
	m.ops++
	if m.crashAt > 0 && m.ops >= m.crashAt {
		m.dead = true
		return ErrCrashed
	}
	if m.failAt > 0 && m.ops >= m.failAt {
		return m.failErr
	}
	return nil
}

// enter checks the MemFS is alive and, for a counted op, counts it. m.mu is
// held.
func (m *MemFS) enter(counted bool) error {
	if m.dead {
		return ErrCrashed
	}
	if counted {
		return m.step()
	}
	return nil
}

func isRoot(p string) bool { return filepath.Dir(p) == p }

func (m *MemFS) isDir(p string) bool { return isRoot(p) || m.dirs[p] }

// checkParents fails if an ancestor of p is a file. m.mu is held.
func (m *MemFS) checkParents(p string) error {
	for d := filepath.Dir(p); !isRoot(d); d = filepath.Dir(d) {
		if m.files[d] != nil {
			return syscall.ENOTDIR
		}
		if m.dirs[d] {
			return nil
		}
	}
	return nil
}

// addParents records the ancestors of p as directories. m.mu is held.
func (m *MemFS) addParents(p string) {
	for d := filepath.Dir(p); !isRoot(d) && !m.dirs[d]; d = filepath.Dir(d) {
		m.dirs[d] = true
	}
}

// Create creates or truncates name for reading and writing.
func (m *MemFS) Create(name string) (File, error) {
	p := filepath.Clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.enter(true); err != nil {
		return nil, pathErr("create", p, err)
	}
	if m.isDir(p) {
		return nil, pathErr("create", p, syscall.EISDIR)
	}
	if err := m.checkParents(p); err != nil {
		return nil, pathErr("create", p, err)
	}
	ino := m.files[p]
	if ino != nil {
		ino.truncate(0)
	} else {
		ino = &inode{}
		m.files[p] = ino
		m.addParents(p)
	}
	return &memFile{m: m, ino: ino, name: p}, nil
}

// Open opens name read-only.
func (m *MemFS) Open(name string) (File, error) {
	return m.openExisting(name, false)
}

// OpenAppend opens an existing file for appending (and reading).
func (m *MemFS) OpenAppend(name string) (File, error) {
	return m.openExisting(name, true)
}

// openExisting opens a file that must exist; appending opens count as
// mutating operations for fault injection, read-only ones do not.
func (m *MemFS) openExisting(name string, appending bool) (File, error) {
	p := filepath.Clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.enter(appending); err != nil {
		return nil, pathErr("open", p, err)
	}
	ino := m.files[p]
	if ino == nil {
		if m.isDir(p) {
			return nil, pathErr("open", p, syscall.EISDIR)
		}
		return nil, pathErr("open", p, fs.ErrNotExist)
	}
	return &memFile{m: m, ino: ino, name: p, readOnly: !appending, append: appending}, nil
}

// Rename atomically replaces newname with oldname. Only files can be
// renamed.
func (m *MemFS) Rename(oldname, newname string) error {
	o, n := filepath.Clean(oldname), filepath.Clean(newname)
	m.mu.Lock()
	defer m.mu.Unlock()
	lerr := func(err error) error { return &os.LinkError{Op: "rename", Old: o, New: n, Err: err} }
	if err := m.enter(true); err != nil {
		return lerr(err)
	}
	ino := m.files[o]
	if ino == nil {
		if m.isDir(o) {
			return lerr(errors.New("vfs: MemFS renames only files"))
		}
		return lerr(fs.ErrNotExist)
	}
	if m.isDir(n) {
		return lerr(syscall.EISDIR)
	}
	if err := m.checkParents(n); err != nil {
		return lerr(err)
	}
	if o == n {
		return nil
	}
	m.files[n] = ino
	delete(m.files, o)
	m.addParents(n)
	return nil
}

// Remove deletes the file name, or the empty directory name.
func (m *MemFS) Remove(name string) error {
	p := filepath.Clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.enter(true); err != nil {
		return pathErr("remove", p, err)
	}
	if m.files[p] != nil {
		delete(m.files, p)
		return nil
	}
	if !m.dirs[p] {
		if isRoot(p) {
			return pathErr("remove", p, syscall.EBUSY)
		}
		return pathErr("remove", p, fs.ErrNotExist)
	}
	if len(m.children(p)) > 0 {
		return pathErr("remove", p, syscall.ENOTEMPTY)
	}
	delete(m.dirs, p)
	return nil
}

// MkdirAll creates dir and its parents.
func (m *MemFS) MkdirAll(dir string) error {
	p := filepath.Clean(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.enter(true); err != nil {
		return pathErr("mkdir", p, err)
	}
	if m.files[p] != nil {
		return pathErr("mkdir", p, syscall.ENOTDIR)
	}
	if err := m.checkParents(p); err != nil {
		return pathErr("mkdir", p, err)
	}
	if !isRoot(p) {
		m.dirs[p] = true
		m.addParents(p)
	}
	return nil
}

// children returns the sorted names of the files and directories directly
// in dir, in the current view. m.mu is held.
func (m *MemFS) children(dir string) []string {
	var names []string
	for f := range m.files {
		if filepath.Dir(f) == dir && f != dir {
			names = append(names, filepath.Base(f))
		}
	}
	for d := range m.dirs {
		if filepath.Dir(d) == dir && d != dir {
			names = append(names, filepath.Base(d))
		}
	}
	sort.Strings(names)
	return names
}

// List returns the names (not paths) in dir, sorted.
func (m *MemFS) List(dir string) ([]string, error) {
	p := filepath.Clean(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.enter(false); err != nil {
		return nil, pathErr("open", p, err)
	}
	if !m.isDir(p) {
		if m.files[p] != nil {
			return nil, pathErr("readdirent", p, syscall.ENOTDIR)
		}
		return nil, pathErr("open", p, fs.ErrNotExist)
	}
	names := m.children(p)
	if names == nil {
		names = []string{}
	}
	return names, nil
}

// SyncDir makes creations, renames and removals of names directly in dir
// durable.
func (m *MemFS) SyncDir(dir string) error {
	p := filepath.Clean(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.enter(true); err != nil {
		return pathErr("sync", p, err)
	}
	if !m.isDir(p) {
		if m.files[p] != nil {
			return nil // fsync of a file's own directory entry: nothing to do
		}
		return pathErr("open", p, fs.ErrNotExist)
	}
	for name := range m.durable {
		if filepath.Dir(name) == p && m.files[name] == nil {
			delete(m.durable, name)
		}
	}
	for name, ino := range m.files {
		if filepath.Dir(name) == p {
			m.durable[name] = ino
		}
	}
	return nil
}

// Lock takes an exclusive lock on name within this MemFS, creating the file
// (and its directory) if needed. It fails with ErrLocked while the lock is
// held; closing the returned Closer releases it.
func (m *MemFS) Lock(name string) (io.Closer, error) {
	p := filepath.Clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.enter(false); err != nil {
		return nil, pathErr("lock", p, err)
	}
	if m.locks[p] {
		return nil, ErrLocked
	}
	if m.files[p] == nil {
		if m.isDir(p) {
			return nil, pathErr("open", p, syscall.EISDIR)
		}
		if err := m.checkParents(p); err != nil {
			return nil, pathErr("open", p, err)
		}
		m.files[p] = &inode{}
		m.addParents(p)
	}
	m.locks[p] = true
	return &memLock{m: m, name: p}, nil
}

type memLock struct {
	m      *MemFS
	name   string
	closed bool
}

func (l *memLock) Close() error {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	if l.m.dead {
		return pathErr("close", l.name, ErrCrashed)
	}
	if l.closed {
		return pathErr("close", l.name, fs.ErrClosed)
	}
	l.closed = true
	delete(l.m.locks, l.name)
	return nil
}

// memFile is an open MemFS file. It keeps referring to its inode after the
// name is removed or renamed, as on Unix.
type memFile struct {
	m        *MemFS
	ino      *inode
	name     string
	off      int64
	readOnly bool
	append   bool
	closed   bool
}

// check returns the error for an op on f, counting it if counted. m.mu is
// held.
func (f *memFile) check(op string, counted, writes bool) error {
	if f.m.dead {
		return pathErr(op, f.name, ErrCrashed)
	}
	if f.closed {
		return pathErr(op, f.name, fs.ErrClosed)
	}
	if writes && f.readOnly {
		return pathErr(op, f.name, syscall.EBADF)
	}
	if counted {
		if err := f.m.step(); err != nil {
			return pathErr(op, f.name, err)
		}
	}
	return nil
}

func (f *memFile) Read(p []byte) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("read", false, false); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if f.off >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[f.off:])
	f.off += int64(n)
	return n, nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("read", false, false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("read", f.name, errors.New("negative offset"))
	}
	if len(p) == 0 {
		return 0, nil
	}
	if off >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("write", true, true); err != nil {
		return 0, err
	}
	if f.append {
		f.off = int64(len(f.ino.data))
	}
	f.ino.writeAt(p, f.off)
	f.off += int64(len(p))
	return len(p), nil
}

func (f *memFile) Sync() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("sync", true, false); err != nil {
		return err
	}
	f.ino.sync()
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("truncate", false, true); err != nil {
		return err
	}
	if size < 0 {
		return pathErr("truncate", f.name, syscall.EINVAL)
	}
	if err := f.check("truncate", true, true); err != nil {
		return err
	}
	f.ino.truncate(size)
	return nil
}

// Preallocate records the reservation (see Allocated); the content and the
// size do not change. It is a counted operation.
func (f *memFile) Preallocate(size int64) error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("fallocate", false, true); err != nil {
		return err
	}
	if size < 0 {
		return pathErr("fallocate", f.name, syscall.EINVAL)
	}
	if err := f.check("fallocate", true, true); err != nil {
		return err
	}
	f.ino.alloc = max(f.ino.alloc, size)
	return nil
}

// WriteBack does nothing: a MemFS file has no disk to start writing to,
// and writeback makes nothing durable, so a crash loses what it would
// have lost without it. It is not a counted operation.
func (f *memFile) WriteBack(off, n int64) error {
	if off < 0 || n < 0 {
		return pathErr("sync_file_range", f.name, syscall.EINVAL)
	}
	return nil
}

// Allocated returns the space reserved for the file name: its size, or
// more where Preallocate reserved more and no Truncate gave it back since.
// Tests use it to see a reservation made and released.
func (m *MemFS) Allocated(name string) (int64, error) {
	p := filepath.Clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.enter(false); err != nil {
		return 0, pathErr("stat", p, err)
	}
	ino := m.files[p]
	if ino == nil {
		return 0, pathErr("stat", p, fs.ErrNotExist)
	}
	return max(ino.alloc, int64(len(ino.data))), nil
}

func (f *memFile) Size() (int64, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("stat", false, false); err != nil {
		return 0, err
	}
	return int64(len(f.ino.data)), nil
}

func (f *memFile) Close() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("close", false, false); err != nil {
		return err
	}
	f.closed = true
	return nil
}
