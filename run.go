package inmem

import (
	"fmt"
	"maps"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/inmem-db/inmem/internal/keys"
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
	// Cold reports that the run's history lives in the cold tier
	// (DIR/cold/, see Runs.Freeze and WithColdAfter) rather than in RAM.
	// It is derived, never stored in the run's record.
	Cold bool `json:"-"`
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

// beginRun validates and commits a new run's record, which registers it.
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
	// Applying the record registers the run.
	if err := db.writeRunRecord(rs, &runRecord{RunInfo: info, Bases: recordBases(bases)}, nil); err != nil {
		return nil, err
	}
	if db.cluster != nil {
		// The apply registered a state of its own for the run.
		reg, err := db.runState(info.ID)
		if err != nil {
			return nil, err
		}
		rs = reg
	}
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
	if rs.Shared {
		return RunInfo{Namespace: rs.ns, Status: Active}, nil
	}
	if RunStatus(rs.status.Load()) == statusDeleted {
		return RunInfo{}, fmt.Errorf("run %s: %w", rs.id, ErrRunNotFound)
	}
	return rs.snapshotInfo(), nil
}

// End finishes the run with Completed, Failed or Cancelled; reason is kept
// as RunInfo.Error (UTF-8, at most MaxRunTextSize bytes). Later writes to
// the run return ErrRunEnded; ending an ended run returns ErrRunEnded too.
func (r *Run) End(status RunStatus, reason string) error {
	if err := r.usable(); err != nil {
		return err
	}
	if r.st.Shared {
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
