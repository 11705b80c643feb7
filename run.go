package inmem

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/inmem-db/inmem/internal/keys"
	"github.com/inmem-db/inmem/occ"
)

// RunStatus is a run's lifecycle state. The zero value means "unset".
type RunStatus uint8

// Run statuses.
const (
	Active RunStatus = iota + 1
	Paused
	Completed
	Failed
	Cancelled
	Archived
)

// statusDeleted marks the state of a run Runs.Delete removed: handles
// still pointing at it fail with ErrRunNotFound. It is never stored.
const statusDeleted RunStatus = 0xff

var statusNames = [...]string{"unset", "active", "paused", "completed", "failed", "cancelled", "archived"}

// String returns the lower-case name of the status.
func (s RunStatus) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("RunStatus(%d)", s)
}

// Ended reports whether a run in this status refuses writes.
func (s RunStatus) Ended() bool { return s >= Completed }

// allowed holds the permitted status transitions.
var allowed = map[RunStatus][]RunStatus{
	Active:    {Paused, Completed, Failed, Cancelled, Archived},
	Paused:    {Active, Cancelled, Archived},
	Completed: {Archived},
	Failed:    {Archived},
	Cancelled: {Archived},
}

// CanTransition reports whether a run may go from one status to another.
func CanTransition(from, to RunStatus) bool { return slices.Contains(allowed[from], to) }

// RunInfo describes a run.
type RunInfo struct {
	ID        RunID
	Name      string
	Namespace Namespace
	Parent    RunID // zero if none
	ForkOf    RunID // zero unless forked
	ForkStep  int
	Status    RunStatus
	Error     string // reason given to End
	CreatedAt time.Time
	UpdatedAt time.Time
	EndedAt   time.Time // zero while not ended
	Tags      []string
	Meta      map[string]string
	Steps     int // committed transactions that wrote the run's data
}

// RunOption configures BeginRun.
type RunOption func(*runConfig)

type runConfig struct {
	info  RunInfo
	nsSet bool // InNamespace given: do not inherit the parent's
}

// Name sets the run's human-readable name: UTF-8, at most MaxNameSize
// bytes.
func Name(name string) RunOption { return func(c *runConfig) { c.info.Name = name } }

// Parent makes the run a child of id, which must exist.
func Parent(id RunID) RunOption { return func(c *runConfig) { c.info.Parent = id } }

// Tags attaches tags to the run: at most MaxRunTags, each 1 to
// MaxLabelSize bytes of UTF-8 (else BeginRun fails with ErrInvalidArgument
// or ErrTooLarge).
func Tags(tags ...string) RunOption {
	return func(c *runConfig) { c.info.Tags = append(c.info.Tags, tags...) }
}

// Meta attaches key/value metadata to the run. The map is copied. At most
// MaxRunMeta entries; keys are 1 to MaxLabelSize bytes and values at most
// MaxRunTextSize bytes, of UTF-8.
func Meta(m map[string]string) RunOption {
	return func(c *runConfig) {
		if c.info.Meta == nil {
			c.info.Meta = make(map[string]string, len(m))
		}
		maps.Copy(c.info.Meta, m)
	}
}

// InNamespace places the run in ns. Without it a run goes to its parent's
// namespace, or the default one.
func InNamespace(ns Namespace) RunOption {
	return func(c *runConfig) { c.info.Namespace, c.nsSet = ns, true }
}

// runState is the in-memory side of a run or shared scope: its key prefix
// and the lifecycle fields the commit path checks.
type runState struct {
	db      *DB
	id      RunID
	ns      Namespace
	scope   []byte // encoded namespace | run: prefix of every key of the scope
	shared  bool
	status  atomic.Uint32 // RunStatus; changed only inside commit guards
	_       [60]byte      // status is read by every commit; keep it off the written line
	steps   atomic.Int64  // written inside the commit critical section
	log     stepLog       // runs only: step -> version and time, written beside steps
	written atomic.Int64  // bytes committed (keys and values): what reclaim may one day free
	_       [32]byte
	updated atomic.Int64 // unix nanos of the last write, see touch
	stamp   atomic.Int64 // the clock as the latest data commit read it, see stampNow
	_       [48]byte
	// lastStep is the time of the step Admit recorded last; guarded by the
	// oracle's critical section, as log is.
	lastStep int64

	// bases are the layers a forked run reads through, nearest first; set
	// when the run is made and never changed.
	bases []forkBase
	// compacted is the step before which Runs.Compact dropped the history.
	compacted atomic.Int64
	// released is how much of written was reported to reclaim as garbage
	// (deleted, archived, compacted); reclaimed is written at the last
	// reclaim, for shared scopes.
	released, reclaimed atomic.Int64

	mu   sync.Mutex // guards info
	info RunInfo

	fingers runFingers // where the last commits linked their writes
}

func newRunState(db *DB, id RunID, ns Namespace, shared bool) *runState {
	rs := &runState{
		db:     db,
		id:     id,
		ns:     ns,
		shared: shared,
		scope:  keys.AppendScope(nil, ns.Tenant, ns.App, ns.Agent, id),
	}
	rs.status.Store(uint32(Active))
	return rs
}

// touch records a write at now (unix nanos). It stores only when the value
// moves by a millisecond or more, so concurrent writers of one run mostly
// read a shared cache line instead of bouncing it between cores.
func (rs *runState) touch(now int64) {
	if now-rs.updated.Load() >= int64(time.Millisecond) {
		rs.updated.Store(now)
	}
}

// Admit is the commit guard of data writes: inside the oracle's critical
// section, so a write either commits before the run ends or fails.
func (rs *runState) Admit(v uint64) error {
	if st := RunStatus(rs.status.Load()); st.Ended() {
		if st == statusDeleted {
			return fmt.Errorf("run %s: %w", rs.id, ErrRunNotFound)
		}
		return fmt.Errorf("run %s: %w", rs.id, ErrRunEnded)
	}
	rs.steps.Add(1)
	if !rs.shared {
		// One clock read serves the step's time and the run's last write.
		now := rs.stamp.Load()
		if now == 0 {
			now = rs.db.opts.clock().UnixNano()
		}
		// Writers of one run stamp in one order and may enter here in
		// another; steps keep their times in step order.
		now = max(now, rs.lastStep)
		rs.lastStep = now
		rs.log.add(v, now)
		rs.touch(now)
	}
	return nil
}

// stampNow reads the clock for a data commit about to be admitted by rs,
// and reserves the step log's first block (reserveSteps reserves the rest).
// Admit takes the time from here rather than reading the clock itself, so
// that the read (tens of nanoseconds in a virtual machine) stays out of the
// oracle's critical section, which every commit of the database passes.
func (rs *runState) stampNow() {
	if !rs.shared {
		rs.stamp.Store(rs.db.opts.clock().UnixNano())
		if !rs.log.started() {
			rs.log.reserve()
		}
	}
}

// touchAfter records a write committed under guard g, unless Admit already
// did (a run's own data writes).
func (rs *runState) touchAfter(g occ.Guard) {
	if rs.shared || g != occ.Guard(rs) {
		rs.touch(rs.db.opts.clock().UnixNano())
	}
}

// reserveSteps lets the step log reserve its next block (see
// stepLog.reserve), on every reserveEvery-th commit through the finger
// cache fc and on every commit without one: reading the log's step count
// on every commit cost the run's writers a cache miss each.
func (rs *runState) reserveSteps(fc *fingerCache) {
	if !rs.shared && fc.due() {
		rs.log.reserve()
	}
}

// statusGuard admits a run record write that moves the run to a status.
type statusGuard struct {
	rs *runState
	to RunStatus
}

func (g *statusGuard) Admit(uint64) error {
	from := RunStatus(g.rs.status.Load())
	if from == statusDeleted {
		return fmt.Errorf("run %s: %w", g.rs.id, ErrRunNotFound)
	}
	if !CanTransition(from, g.to) {
		if from.Ended() && g.to.Ended() && g.to != Archived {
			return fmt.Errorf("run %s is %s: %w", g.rs.id, from, ErrRunEnded)
		}
		return fmt.Errorf("run %s: %s -> %s: %w", g.rs.id, from, g.to, ErrInvalidTransition)
	}
	g.rs.status.Store(uint32(g.to))
	return nil
}

// recordErr wraps an error of a write of the run's record by op. The
// guards' refusals already name the run and are returned as they are.
func (rs *runState) recordErr(op string, err error) error {
	if errors.Is(err, ErrRunEnded) || errors.Is(err, ErrInvalidTransition) || errors.Is(err, ErrRunNotFound) {
		return err
	}
	return fmt.Errorf("run %s: %s: %w", rs.id, op, err)
}

// Run is a handle to a run or to a namespace's shared scope. Handles are
// cheap; any number may refer to the same run.
type Run struct {
	db   *DB
	st   *runState
	err  error   // set for a handle that can only fail (bad namespace)
	view *viewAt // set for the run as of a step (AsOf): reads at that step, no writes
	kv   KV
}

func (db *DB) handle(rs *runState, err error) *Run {
	r := &Run{db: db, st: rs, err: err}
	r.kv = KV{prim{run: r, tag: keys.TagKV}}
	return r
}

// BeginRun starts a new Active run.
func (db *DB) BeginRun(opts ...RunOption) (*Run, error) {
	if db.closed.Load() {
		return nil, ErrClosed
	}
	now := db.opts.clock()
	cfg := runConfig{info: RunInfo{Status: Active, CreatedAt: now, UpdatedAt: now}}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("begin run: nil option: %w", ErrInvalidArgument)
		}
		o(&cfg)
	}
	r, err := db.beginRun(cfg, nil)
	if err != nil {
		return nil, fmt.Errorf("begin run: %w", err)
	}
	return r, nil
}

// beginRun validates and commits a new run's record and registers it.
// Its errors are wrapped by its callers, which name the operation.
func (db *DB) beginRun(cfg runConfig, bases []forkBase) (*Run, error) {
	info := cfg.info
	if err := checkRunInfo(&info); err != nil {
		return nil, err
	}
	if !info.Parent.IsZero() {
		p, err := db.runState(info.Parent)
		if err != nil {
			return nil, fmt.Errorf("parent: %w", err)
		}
		if !cfg.nsSet {
			info.Namespace = p.ns
		}
	}
	if err := info.Namespace.validate(); err != nil {
		return nil, err
	}
	info.ID = db.ids.next(info.CreatedAt)
	rs := newRunState(db, info.ID, info.Namespace, false)
	rs.info = info
	rs.bases = bases
	rs.updated.Store(info.CreatedAt.UnixNano())
	if err := db.writeRunRecord(&info, bases, 0, nil); err != nil {
		return nil, err
	}
	db.runsMu.Lock()
	db.runs[info.ID] = rs
	db.index.add(&info)
	db.runsMu.Unlock()
	return db.handle(rs, nil), nil
}

// checkRunInfo checks the name, tags and metadata a run is given against
// the limits. They are stored as JSON, which would silently replace bytes
// that are not UTF-8, so those are refused too.
func checkRunInfo(info *RunInfo) error {
	if len(info.Name) > MaxNameSize {
		return fmt.Errorf("name of %d bytes (max %d): %w", len(info.Name), MaxNameSize, ErrTooLarge)
	}
	if !utf8.ValidString(info.Name) {
		return fmt.Errorf("name is not UTF-8: %w", ErrInvalidArgument)
	}
	if len(info.Tags) > MaxRunTags {
		return fmt.Errorf("%d tags (max %d): %w", len(info.Tags), MaxRunTags, ErrTooLarge)
	}
	for i, t := range info.Tags {
		if err := checkLabel(fmt.Sprintf("tag %d", i), t); err != nil {
			return err
		}
	}
	if len(info.Meta) > MaxRunMeta {
		return fmt.Errorf("%d meta entries (max %d): %w", len(info.Meta), MaxRunMeta, ErrTooLarge)
	}
	for k, v := range info.Meta {
		if err := checkLabel("meta key", k); err != nil {
			return err
		}
		if err := checkRunText(fmt.Sprintf("meta %q value", k), v); err != nil {
			return err
		}
	}
	return nil
}

// checkLabel checks a tag or key: 1 to MaxLabelSize bytes of UTF-8.
func checkLabel(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty %s: %w", what, ErrInvalidArgument)
	case len(s) > MaxLabelSize:
		return fmt.Errorf("%s of %d bytes (max %d): %w", what, len(s), MaxLabelSize, ErrTooLarge)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not UTF-8: %w", what, ErrInvalidArgument)
	}
	return nil
}

// checkRunText checks a metadata value or end reason: up to
// MaxRunTextSize bytes of UTF-8.
func checkRunText(what, s string) error {
	if len(s) > MaxRunTextSize {
		return fmt.Errorf("%s of %d bytes (max %d): %w", what, len(s), MaxRunTextSize, ErrTooLarge)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not UTF-8: %w", what, ErrInvalidArgument)
	}
	return nil
}

func (db *DB) runState(id RunID) (*runState, error) {
	db.runsMu.RLock()
	rs, ok := db.runs[id]
	db.runsMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("run %s: %w", id, ErrRunNotFound)
	}
	return rs, nil
}

// Run returns a handle to an existing run, or ErrRunNotFound.
func (db *DB) Run(id RunID) (*Run, error) {
	if db.closed.Load() {
		return nil, ErrClosed
	}
	rs, err := db.runState(id)
	if err != nil {
		return nil, err
	}
	return db.handle(rs, nil), nil
}

// Shared returns the long-lived scope of namespace ns: the same methods as
// a run, but it never ends and its ID is the zero RunID. Data in it is
// visible to every run of ns through this handle, and to no other namespace.
// An invalid namespace yields a handle whose every method fails.
func (db *DB) Shared(ns Namespace) *Run {
	if err := ns.validate(); err != nil {
		return db.handle(nil, fmt.Errorf("shared scope: %w", err))
	}
	db.runsMu.RLock()
	rs, ok := db.shared[ns]
	db.runsMu.RUnlock()
	if !ok {
		db.runsMu.Lock()
		if rs, ok = db.shared[ns]; !ok {
			rs = newRunState(db, RunID{}, ns, true)
			db.shared[ns] = rs
		}
		db.runsMu.Unlock()
	}
	return db.handle(rs, nil)
}

// ID returns the run's ID (zero for a shared scope).
func (r *Run) ID() RunID {
	if r.st == nil {
		return RunID{}
	}
	return r.st.id
}

// Namespace returns the namespace the run or scope belongs to.
func (r *Run) Namespace() Namespace {
	if r.st == nil {
		return Namespace{}
	}
	return r.st.ns
}

// usable returns the error every operation on this handle should fail with.
func (r *Run) usable() error {
	if r.err != nil {
		return r.err
	}
	if r.db.closed.Load() {
		return ErrClosed
	}
	if RunStatus(r.st.status.Load()) == statusDeleted {
		return fmt.Errorf("run %s: %w", r.st.id, ErrRunNotFound)
	}
	if v := r.view; v != nil && !v.live && v.step < int(r.st.compacted.Load()) {
		// The history the view reads may be reclaimed from under it.
		return fmt.Errorf("view of run %s at step %d: compacted since: %w", r.st.id, v.step, ErrHistory)
	}
	return nil
}

// Info returns the run's current description. For a shared scope it
// describes the scope (Active, no ID).
func (r *Run) Info() (RunInfo, error) {
	if err := r.usable(); err != nil {
		return RunInfo{}, err
	}
	rs := r.st
	if rs.shared {
		return RunInfo{Namespace: rs.ns, Status: Active}, nil
	}
	if RunStatus(rs.status.Load()) == statusDeleted {
		return RunInfo{}, fmt.Errorf("run %s: %w", rs.id, ErrRunNotFound)
	}
	return rs.snapshotInfo(), nil
}

// snapshotInfo returns a copy of the run's description with its live
// counters.
func (rs *runState) snapshotInfo() RunInfo {
	rs.mu.Lock()
	info := rs.info
	info.Tags = slices.Clone(info.Tags)
	info.Meta = maps.Clone(info.Meta)
	rs.mu.Unlock()
	info.Status = RunStatus(rs.status.Load())
	info.Steps = int(rs.steps.Load())
	info.UpdatedAt = time.Unix(0, rs.updated.Load())
	return info
}

// End finishes the run with Completed, Failed or Cancelled; reason is kept
// as RunInfo.Error (UTF-8, at most MaxRunTextSize bytes). Later writes to
// the run return ErrRunEnded; ending an ended run returns ErrRunEnded too.
func (r *Run) End(status RunStatus, reason string) error {
	if err := r.usable(); err != nil {
		return err
	}
	if r.st.shared {
		return fmt.Errorf("end: the shared scope never ends: %w", ErrInvalidArgument)
	}
	if status != Completed && status != Failed && status != Cancelled {
		return fmt.Errorf("end with %s: want completed, failed or cancelled: %w", status, ErrInvalidArgument)
	}
	if err := checkRunText("reason", reason); err != nil {
		return fmt.Errorf("end: %w", err)
	}
	return r.st.setStatus(status, reason)
}

// setStatus commits a status change of the run's record.
func (rs *runState) setStatus(to RunStatus, reason string) error {
	now := rs.db.opts.clock()
	rs.mu.Lock()
	defer rs.mu.Unlock() // one status change of a run at a time
	info := rs.info
	info.Status = to
	info.UpdatedAt = now
	info.Steps = int(rs.steps.Load())
	if to.Ended() && to != Archived {
		info.EndedAt = now
		info.Error = reason
	}
	// An archived run keeps its latest state, not its history.
	compacted := int(rs.compacted.Load())
	if to == Archived && !rs.shared {
		compacted = max(compacted, rs.log.len())
	}
	if err := rs.db.writeRunRecord(&info, rs.bases, compacted, &statusGuard{rs: rs, to: to}); err != nil {
		return rs.recordErr("status", err)
	}
	from := rs.info.Status
	rs.info = info
	rs.compacted.Store(int64(compacted))
	if to == Archived {
		rs.db.release(rs)
	}
	rs.updated.Store(now.UnixNano())
	rs.db.runsMu.Lock()
	rs.db.index.setStatus(rs.id, from, to)
	rs.db.runsMu.Unlock()
	return nil
}
