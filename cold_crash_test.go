package inmem

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"math/rand"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/stretchr/testify/require"
)

// Crash safety of the cold tier. A workload of ended runs (every
// primitive, a fork, a history compacted halfway) goes through a phase of
// freezes (a file each), a reclaim and a checkpoint between them, a
// compaction merging the files, deletes and a compaction dropping a dead
// scope, on a MemFS. Power is lost at every counted operation of that
// phase in turn, and an I/O error is injected at every operation of a
// freeze and of a compaction. Whatever the point, every run reads exactly
// as it did before the phase (hot or cold), a run whose delete had begun
// is either gone or reads the same too, the cold directory holds exactly
// the files the manifest names, and freezing and compacting work again.

const coldCrashDir = "/cdb"

// coldKeys are the KV keys the workload writes, and one it never writes.
var coldKeys = []string{"k0", "k1", "k2", "never"}

// coldWork is the workload's runs: r0..r3, then the fork of r0.
type coldWork struct {
	runs []RunID
}

func coldOpen(fs vfs.FS, d Durability, opts ...Option) (*DB, error) {
	return Open(coldCrashDir, append([]Option{withFS(fs), WithDurability(d), WithColdAfter(-1)}, opts...)...)
}

// coldStep commits step i of run j: a KV put (and at the third step a
// delete, so histories hold a tombstone), an event, a cell and a span.
func coldStep(r *Run, j, i int) error {
	val := []byte(fmt.Sprintf("r%d-s%d", j, i))
	return r.Update(func(tx *Tx) error {
		if err := tx.KV().Put(coldKeys[i%3], val); err != nil {
			return err
		}
		if i == 2 {
			if err := tx.KV().Delete("k0"); err != nil {
				return err
			}
		}
		if _, err := tx.Events().Append(fmt.Sprint("e", i%2), val); err != nil {
			return err
		}
		if _, err := tx.State().Set("c", val); err != nil {
			return err
		}
		_, err := tx.Traces().Record(Span{Kind: ToolCall, Name: fmt.Sprint("s", i%2), Input: val, Output: val[:2]})
		return err
	})
}

// coldBuild writes the workload's runs and ends them. r2 is compacted
// after its second step, so a cold compaction copies it with a horizon.
func coldBuild(db *DB) (*coldWork, error) {
	w := &coldWork{}
	for j := range 4 {
		r, err := db.BeginRun(Name(fmt.Sprint("cold-", j)))
		if err != nil {
			return nil, err
		}
		for i := range 3 + j%2 {
			if err := coldStep(r, j, i); err != nil {
				return nil, err
			}
			if j == 2 && i == 1 {
				if err := db.Runs().Compact(r.ID()); err != nil {
					return nil, err
				}
			}
		}
		if err := r.End(Completed, ""); err != nil {
			return nil, err
		}
		w.runs = append(w.runs, r.ID())
	}
	f, err := db.Fork(w.runs[0], 2)
	if err != nil {
		return nil, err
	}
	if err := coldStep(f, 9, 1); err != nil {
		return nil, err
	}
	if err := f.End(Completed, ""); err != nil {
		return nil, err
	}
	w.runs = append(w.runs, f.ID())
	return w, nil
}

// coldPhase is what the faults land in. r0 is deleted while the fork
// still reads through it, so its manifest entry stays until the fork is
// deleted too and the last compaction drops its scope (and rewrites the
// mostly dead file). gone collects the runs whose delete was begun.
func coldPhase(db *DB, w *coldWork, gone map[RunID]bool) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	freeze := func(i int) func() error { return func() error { return db.Runs().Freeze(w.runs[i]) } }
	del := func(i int) func() error {
		return func() error {
			gone[w.runs[i]] = true
			return db.Runs().Delete(w.runs[i])
		}
	}
	steps := []struct {
		name string
		fn   func() error
	}{
		{"freeze r0", freeze(0)},
		{"freeze r1", freeze(1)},
		{"reclaim", func() error { _, err := db.Reclaim(); return err }},
		{"checkpoint", db.Checkpoint},
		{"freeze r2", freeze(2)},
		{"freeze r3", freeze(3)},
		{"freeze the fork", freeze(4)},
		{"merging compaction", db.CompactCold},
		{"delete r0", del(0)},
		{"delete r1", del(1)},
		{"delete the fork", del(4)},
		{"dropping compaction", db.CompactCold},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// coldRead is one read of a run and what it answered.
type coldRead struct {
	what string
	got  string
	err  error
}

// coldHandle is a run or a view of it.
type coldHandle interface {
	KV() *KV
	Events() *Events
	State() *State
	Traces() *Traces
}

// coldReadPrims reads every primitive of h, each read on its own (one
// failing does not stop the others): a listing of each, and with all also
// point reads and the events' and spans' indexes.
func coldReadPrims(h coldHandle, prefix string, all bool, out []coldRead) []coldRead {
	add := func(what, got string, err error) {
		if errors.Is(err, ErrNotFound) {
			got, err = "not found", nil // an answer, not a failure
		}
		out = append(out, coldRead{what: prefix + what, got: got, err: err})
	}
	es, err := h.KV().List("")
	add("kv list", coldFormat(es, func(e Entry) string { return fmt.Sprintf("%s=%s@%d", e.Key, e.Value, e.Version) }), err)
	evs, err := h.Events().Range(0, 100)
	add("events", coldFormat(evs, coldEvent), err)
	cells, err := h.State().List()
	add("state list", coldFormat(cells, coldCell), err)
	spans, err := h.Traces().Query(SpanQuery{})
	slices.SortFunc(spans, func(a, b Span) int { return int(a.ID) - int(b.ID) })
	add("spans", coldFormat(spans, coldSpan), err)
	if !all {
		return out
	}
	for _, k := range coldKeys {
		v, err := h.KV().Get(k)
		add("kv get "+k, fmt.Sprintf("%q", v), err)
	}
	n, err := h.Events().Len()
	add("events len", fmt.Sprint(n), err)
	evs, err = h.Events().ByType("e1")
	add("events of type e1", coldFormat(evs, coldEvent), err)
	c, err := h.State().Get("c")
	add("state get c", coldCell(c), err)
	spans, err = h.Traces().Query(SpanQuery{Name: "s1"})
	add("spans named s1", coldFormat(spans, coldSpan), err)
	sp, err := h.Traces().Get(1)
	add("span 1", coldSpan(sp), err)
	return out
}

// coldFormat formats each element of xs (cheaply: the tests format
// thousands of answers under the race detector).
func coldFormat[T any](xs []T, f func(T) string) string {
	var b strings.Builder
	for _, x := range xs {
		b.WriteString(f(x))
		b.WriteString("; ")
	}
	return b.String()
}

func coldEvent(e Event) string {
	return fmt.Sprintf("%d %s %s %d %x %x", e.Seq, e.Type, e.Payload, e.Time.UnixNano(), e.PrevHash[:4], e.Hash[:4])
}

func coldCell(c Cell) string {
	return fmt.Sprintf("%s=%s v%d %d", c.Name, c.Value, c.Version, c.UpdatedAt.UnixNano())
}

func coldSpan(s Span) string {
	return fmt.Sprintf("%d<%d %s %s %s>%s %d %d %s %v %v %v", s.ID, s.Parent, s.Kind, s.Name, s.Input, s.Output,
		s.Start.UnixNano(), s.End.UnixNano(), s.Status, s.Attrs, s.Tags, s.Values)
}

// coldReadRun reads everything of run id the tests compare: its info (but
// Cold), its steps, every primitive live and as of each step (point reads
// live and as of step 1 only: they cost, and a view reads through the
// same paths at every step). A run that is not there is one read failing
// with ErrRunNotFound.
func coldReadRun(db *DB, id RunID) []coldRead {
	info, err := db.Runs().Get(id)
	if err != nil {
		return []coldRead{{what: "info", err: err}}
	}
	out := []coldRead{{what: "info", got: fmt.Sprintf("%s %q steps %d fork of %s at %d, ended at %d",
		info.Status, info.Name, info.Steps, info.ForkOf, info.ForkStep, info.EndedAt.UnixNano())}}
	r, err := db.Run(id)
	if err != nil {
		return append(out, coldRead{what: "run", err: err})
	}
	steps, err := r.Steps()
	var b strings.Builder
	for _, st := range steps {
		fmt.Fprintf(&b, "%d@%d %d %+v; ", st.N, st.Version, st.Time.UnixNano(), st.Writes)
	}
	out = append(out, coldRead{what: "steps", got: b.String(), err: err})
	out = coldReadPrims(r, "", true, out)
	for s := 0; s <= info.Steps; s++ {
		p := fmt.Sprintf("as of step %d: ", s)
		v, err := r.AsOf(s)
		switch {
		case errors.Is(err, ErrHistory):
			out = append(out, coldRead{what: p + "view", got: "history compacted"})
		case err != nil:
			out = append(out, coldRead{what: p + "view", err: err})
		default:
			out = coldReadPrims(v, p, s == 1, out)
		}
	}
	return out
}

// coldGone reports whether reads say the run is not there.
func coldGone(reads []coldRead) bool {
	return len(reads) == 1 && errors.Is(reads[0].err, ErrRunNotFound)
}

// coldSame returns an error naming the first read of got that failed or
// differs from want.
func coldSame(want, got []coldRead) error {
	for i := range max(len(want), len(got)) {
		switch {
		case i >= len(got):
			return fmt.Errorf("read %q missing", want[i].what)
		case got[i].err != nil:
			return fmt.Errorf("read %q failed: %w", got[i].what, got[i].err)
		case i >= len(want):
			return fmt.Errorf("read %q not expected", got[i].what)
		case want[i].what != got[i].what || want[i].got != got[i].got:
			return fmt.Errorf("read %q answered\n%s\nwant (%q)\n%s", got[i].what, got[i].got, want[i].what, want[i].got)
		}
	}
	return nil
}

// coldReadAll reads every run of w; every read must succeed.
func coldReadAll(db *DB, w *coldWork) (map[RunID][]coldRead, error) {
	out := map[RunID][]coldRead{}
	for _, id := range w.runs {
		reads := coldReadRun(db, id)
		for _, r := range reads {
			if r.err != nil {
				return nil, fmt.Errorf("run %s: read %q: %w", id, r.what, r.err)
			}
		}
		out[id] = reads
	}
	return out, nil
}

// coldCheckReads checks every run of before reads the same in db; a run
// in gone may instead be not there. It returns the runs there.
func coldCheckReads(db *DB, before map[RunID][]coldRead, gone map[RunID]bool) (map[RunID]bool, error) {
	there := map[RunID]bool{}
	for id, want := range before {
		got := coldReadRun(db, id)
		if gone[id] && coldGone(got) {
			continue
		}
		if err := coldSame(want, got); err != nil {
			cold := false
			if rs, err := db.runState(id); err == nil {
				cold = rs.cold.Load() != nil
			}
			return nil, fmt.Errorf("run %s (cold %v): %w", id, cold, err)
		}
		there[id] = true
	}
	return there, nil
}

// coldTierCheck checks the cold tier of db against its directory: every
// manifest entry names a file that is there, and a run is cold exactly
// when the manifest places its scope. With swept (a writable handle
// fresh from Open, or one whose every tier operation succeeded) the
// directory also holds nothing else: no temporary file, no file the
// manifest does not name.
func coldTierCheck(db *DB, swept bool) error {
	t := db.cold
	db.runsMu.RLock()
	runs := make([]*runState, 0, len(db.runs))
	for _, rs := range db.runs {
		runs = append(runs, rs)
	}
	db.runsMu.RUnlock()
	for _, rs := range runs {
		if ref, in := rs.cold.Load(), t.lookup(rs.scope); ref != in {
			return fmt.Errorf("run %s: cold %v, but the manifest entry of its scope is %v: half moved", rs.id, ref != nil, in != nil)
		}
	}
	names, err := t.fs.List(t.dir)
	if err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	present := map[uint64]bool{}
	for _, n := range names {
		id, ok := parseColdName(n)
		present[id] = ok
		if !swept {
			continue
		}
		if !ok {
			return fmt.Errorf("cold/%s: not a cold file, still there", n)
		}
		if f := t.files[id]; f == nil || f.live <= 0 {
			return fmt.Errorf("cold/%s: named by no manifest entry, still there", n)
		}
	}
	for _, ref := range t.scopes {
		if !present[ref.file.id] {
			return fmt.Errorf("the manifest places run %s in cold/%s, which is not there", ref.run, coldFileName(ref.file.id))
		}
	}
	return nil
}

// coldVerifyClosed runs VerifyFiles on the closed database: no problem,
// and no cold file left for Open to remove.
func coldVerifyClosed(fs vfs.FS) error {
	rep, err := verifyFiles(fs, coldCrashDir)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if !rep.OK() {
		return fmt.Errorf("verify: %v", rep.Problems)
	}
	for _, n := range rep.Notes {
		if strings.HasPrefix(n.File, coldDirName+"/") {
			return fmt.Errorf("verify: %v", n)
		}
	}
	return nil
}

// coldAgain checks a reopened, writable db: it reads as before, its tier
// matches its directory, and freezing every run there, compacting and
// reclaiming work and change no answer. It closes db, verifies the files
// and, with readOnly, reads once more through a read-only handle. It
// returns how many runs recovery found, and how many of them cold.
func coldAgain(fs vfs.FS, db *DB, d Durability, w *coldWork, before map[RunID][]coldRead, gone map[RunID]bool, readOnly bool) (found, cold int, err error) {
	closed := false
	defer func() {
		if !closed {
			db.Close()
		}
	}()
	there, err := coldCheckReads(db, before, gone)
	if err != nil {
		return 0, 0, fmt.Errorf("after recovery: %w", err)
	}
	if err := coldTierCheck(db, true); err != nil {
		return 0, 0, fmt.Errorf("after recovery: %w", err)
	}
	found = len(there)
	for id := range there {
		if rs, err := db.runState(id); err == nil && rs.cold.Load() != nil {
			cold++
		}
	}
	for _, id := range w.runs {
		if there[id] {
			if err := db.Runs().Freeze(id); err != nil {
				return found, cold, fmt.Errorf("freeze %s after recovery: %w", id, err)
			}
		}
	}
	if err := db.CompactCold(); err != nil {
		return found, cold, fmt.Errorf("compaction after recovery: %w", err)
	}
	if _, err := db.Reclaim(); err != nil {
		return found, cold, fmt.Errorf("reclaim after recovery: %w", err)
	}
	if again, err := coldCheckReads(db, before, gone); err != nil {
		return found, cold, fmt.Errorf("frozen and compacted again: %w", err)
	} else if len(again) != len(there) {
		return found, cold, fmt.Errorf("frozen and compacted again: %d runs there, %d before", len(again), len(there))
	}
	if err := coldTierCheck(db, true); err != nil {
		return found, cold, fmt.Errorf("frozen and compacted again: %w", err)
	}
	closed = true
	if err := db.Close(); err != nil {
		return found, cold, fmt.Errorf("close: %w", err)
	}
	if err := coldVerifyClosed(fs); err != nil {
		return found, cold, err
	}
	if !readOnly {
		return found, cold, nil
	}
	ro, err := coldOpen(fs, d, WithReadOnly())
	if err != nil {
		return found, cold, fmt.Errorf("read-only open: %w", err)
	}
	defer ro.Close()
	if _, err := coldCheckReads(ro, before, gone); err != nil {
		return found, cold, fmt.Errorf("read-only, after all: %w", err)
	}
	return found, cold, nil
}

// coldTemplate is the workload written once and closed, with what its
// runs read, hot: every crash or fault point starts from a copy of it.
type coldTemplate struct {
	fs     *vfs.MemFS
	d      Durability
	w      *coldWork
	before map[RunID][]coldRead
}

func newColdTemplate(t *testing.T, d Durability) *coldTemplate {
	t.Helper()
	mem := vfs.NewMemFS(1)
	db, err := coldOpen(mem, d)
	require.NoError(t, err)
	w, err := coldBuild(db)
	require.NoError(t, err)
	// A snapshot under the WAL the phase writes.
	require.NoError(t, db.Checkpoint())
	before, err := coldReadAll(db, w)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	// The hot reads follow the workload (the model the phase must keep).
	for _, c := range []struct {
		run        int
		what, want string
	}{
		{1, "info", `completed "cold-1" steps 4`},
		{1, "kv get k0", `"r1-s3"`},
		{1, "as of step 1: kv get k0", `"r1-s0"`},
		{1, "as of step 3: kv list", "k1=r1-s1@"},
		{1, "as of step 4: events", "0 e0 r1-s0 "},
		{2, "as of step 1: view", "history compacted"},
		{2, "as of step 2: kv list", "k0=r2-s0@"},
		{4, "as of step 0: kv list", "k0=r0-s0@"}, // the fork reads its base
		{4, "kv get k1", `"r9-s1"`},
	} {
		got := "no such read"
		for _, r := range before[w.runs[c.run]] {
			if r.what == c.what {
				got = r.got
			}
		}
		require.True(t, strings.HasPrefix(got, c.want), "run %d, %s: %s, want %s", c.run, c.what, got, c.want)
	}
	return &coldTemplate{fs: mem, d: d, w: w, before: before}
}

// coldCopyFS copies the files and directories of src into a new MemFS
// seeded with seed, durable there. It only reads src, so copies may be
// taken concurrently.
func coldCopyFS(src *vfs.MemFS, seed int64) (*vfs.MemFS, error) {
	dst := vfs.NewMemFS(seed)
	var walk func(dir string) error
	walk = func(dir string) error {
		names, err := src.List(dir)
		if err != nil {
			return err
		}
		for _, n := range names {
			p := filepath.Join(dir, n)
			if _, err := src.List(p); err == nil {
				if err := dst.MkdirAll(p); err != nil {
					return err
				}
				if err := walk(p); err != nil {
					return err
				}
				continue
			}
			b, err := plReadFile(src, p)
			if err != nil {
				return err
			}
			if err := coldWriteFile(dst, p, b); err != nil {
				return err
			}
		}
		return dst.SyncDir(dir)
	}
	return dst, walk("/")
}

// coldWriteFile writes name on fs, durable.
func coldWriteFile(fs vfs.FS, name string, b []byte) error {
	f, err := fs.Create(name)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// coldReady opens the database on fs once a first write made the log
// prepare its next segment, in the background: that is waited for, so no
// I/O is pending when the caller starts counting or injecting.
func coldReady(fs vfs.FS, d Durability) (*DB, error) {
	db, err := coldOpen(fs, d)
	if err != nil {
		return nil, err
	}
	log := db.store.Log
	fsyncs := log.Stats().Fsyncs
	err = db.Shared(Namespace{App: "cold"}).KV().Put("warm", nil)
	if err == nil {
		err = log.Sync()
	}
	// The write's fsync, then the prepared segment's file and directory.
	for deadline := time.Now().Add(10 * time.Second); err == nil && log.Stats().Fsyncs < fsyncs+3; time.Sleep(100 * time.Microsecond) {
		if time.Now().After(deadline) {
			err = errors.New("the log never prepared its next segment")
		}
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// coldCountOps runs the phase without faults on a copy of the template,
// checks what it did, and returns the operations it counted.
func coldCountOps(t *testing.T, c *coldTemplate) int {
	t.Helper()
	mem, err := coldCopyFS(c.fs, 1)
	require.NoError(t, err)
	db, err := coldReady(mem, c.d)
	require.NoError(t, err)
	// Counted through Close, which waits for the segment the
	// checkpoint's roll prepares in the background.
	ops := mem.Ops()
	gone := map[RunID]bool{}
	require.NoError(t, coldPhase(db, c.w, gone))
	// The phase did what its comment says: r2 and r3 are left, in one
	// file, and r0's scope is dropped from the manifest.
	require.Equal(t, 2, len(db.cold.scopes))
	for _, id := range c.w.runs[2:4] {
		requireColdRun(t, db, id)
	}
	names, err := mem.List(db.cold.dir)
	require.NoError(t, err)
	require.Len(t, names, 1, "one file left: %v", names)
	require.NoError(t, db.Close())
	ops = mem.Ops() - ops
	db, err = coldOpen(mem, c.d)
	require.NoError(t, err)
	_, _, err = coldAgain(mem, db, c.d, c.w, c.before, gone, true)
	require.NoError(t, err)
	return ops
}

func requireColdRun(t *testing.T, db *DB, id RunID) {
	t.Helper()
	info, err := db.Runs().Get(id)
	require.NoError(t, err)
	require.True(t, info.Cold, "run %s cold", id)
}

// coldCrashPoint runs the phase and Close with a power loss at their op k
// and checks what recovery makes of the disk; every third point crashes
// recovery too.
func coldCrashPoint(tmpl *coldTemplate, c plCase, deterministic bool, stats *coldCrashStats) (hit, recCrash bool, err error) {
	rng := rand.New(rand.NewSource(c.seed*1_000_003 + int64(c.k)))
	w, before := tmpl.w, tmpl.before
	mem, err := coldCopyFS(tmpl.fs, rng.Int63())
	if err != nil {
		return false, false, fmt.Errorf("copy: %w", err)
	}
	mem.TornWrites = true
	keep := plKeep(rng)
	mem.SetKeepUnsynced(keep)
	db, err := coldReady(mem, c.d)
	if err != nil {
		return false, false, fmt.Errorf("setup: %w", err)
	}
	gone := map[RunID]bool{}
	mem.CrashAfter(c.k)
	perr := coldPhase(db, w, gone)
	cerr := db.Close()
	hit = mem.Crashed()
	wrap := func(err error) error {
		return fmt.Errorf("keep %.2f, phase: %v: %w", keep, perr, err)
	}
	switch {
	case perr != nil && !errors.Is(perr, vfs.ErrCrashed):
		return hit, false, wrap(errors.New("the phase failed without the crash"))
	case cerr != nil && !errors.Is(cerr, vfs.ErrCrashed):
		return hit, false, wrap(fmt.Errorf("close: %w", cerr))
	case hit && perr == nil && cerr == nil:
		return hit, false, wrap(errors.New("the filesystem crashed but no call returned an error"))
	case deterministic && !hit:
		return hit, false, wrap(errors.New("the phase never reached the crash point"))
	}
	clone := mem.CrashClone()
	if c.k%3 == 0 {
		// Power is lost again during recovery (its sweep of the cold
		// directory included); what it did must be safe to redo.
		recCrash = true
		j := 1 + rng.Intn(12)
		outer := wrap
		wrap = func(err error) error { return outer(fmt.Errorf("recovery crashed at its op %d: %w", j, err)) }
		clone.CrashAfter(j)
		if db, err := coldOpen(clone, c.d); err != nil {
			if !errors.Is(err, vfs.ErrCrashed) {
				return hit, recCrash, wrap(fmt.Errorf("open: %w", err))
			}
		} else {
			_, rerr := coldCheckReads(db, before, gone)
			if err := db.Close(); err != nil && !errors.Is(err, vfs.ErrCrashed) {
				return hit, recCrash, wrap(fmt.Errorf("close: %w", err))
			}
			if rerr != nil {
				return hit, recCrash, wrap(rerr)
			}
		}
		clone = clone.CrashClone()
	}
	db, err = coldOpen(clone, c.d)
	if err != nil {
		return hit, recCrash, wrap(fmt.Errorf("reopen: %w", err))
	}
	found, cold, err := coldAgain(clone, db, c.d, w, before, gone, c.k%4 == 1)
	if err != nil {
		return hit, recCrash, wrap(err)
	}
	switch {
	case cold == 0:
		stats.hot.Add(1)
	case cold == found:
		stats.cold.Add(1)
	default:
		stats.mixed.Add(1)
	}
	return hit, recCrash, nil
}

// coldCrashStats counts how recovery found the runs: all hot, all cold,
// or some of each.
type coldCrashStats struct{ hot, cold, mixed atomic.Int64 }

// TestColdPowerLoss proves that a power loss at any operation of freezes,
// a reclaim and a checkpoint between them, a merging compaction, deletes
// and a dropping compaction loses nothing and leaves no run half moved:
// after recovery (itself crashed at every third point) every run reads
// exactly as before, hot or cold, its steps and every step's view
// included; a run whose delete had begun is gone or reads the same; the
// cold directory holds exactly the files the manifest names and every
// file the manifest names is there; freezing, compacting and reclaiming
// again work and change no answer; VerifyFiles finds nothing. Strict, and
// Batched, whose freezes and deletes may be lost but whose compaction
// makes its moves durable before it removes a file.
func TestColdPowerLoss(t *testing.T) {
	t.Parallel()
	plGCTune(t)
	for _, tc := range []struct {
		name          string
		d             Durability
		deterministic bool
	}{
		{"strict", Strict(), true},
		{"batched", Batched(time.Hour, 1000), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			tmpl := newColdTemplate(t, tc.d)
			total := coldCountOps(t, tmpl)
			if tc.deterministic {
				require.Equal(t, total, coldCountOps(t, tmpl), "the phase is deterministic")
			}
			var cases []plCase
			for k := 1; k <= total; k += shortOr(1, 3) {
				cases = append(cases, plCase{d: tc.d, seed: 1, k: k, total: total})
			}
			var stats coldCrashStats
			crashed, rec := plParallel(t, cases, func(c plCase) (bool, bool, error) {
				return coldCrashPoint(tmpl, c, tc.deterministic, &stats)
			})
			require.Positive(t, stats.mixed.Load(), "some crash points leave some runs hot and some cold")
			t.Logf("%s: %d crash points in %d ops (%d crashed the phase, %d crashed recovery too); recovered all hot %d, all cold %d, mixed %d; %v",
				tc.name, len(cases), total, crashed, rec, stats.hot.Load(), stats.cold.Load(), stats.mixed.Load(), time.Since(start).Round(time.Millisecond))
		})
	}
}

// coldStrictDirs is a MemFS on which, as on a real filesystem, a file
// can only be created in a directory that exists (MemFS makes the
// missing parents itself).
type coldStrictDirs struct{ *vfs.MemFS }

func (s coldStrictDirs) Create(name string) (vfs.File, error) {
	if _, err := s.List(filepath.Dir(name)); errors.Is(err, iofs.ErrNotExist) {
		return nil, &iofs.PathError{Op: "create", Path: name, Err: syscall.ENOENT}
	}
	return s.MemFS.Create(name)
}

// coldFaultPhases are the tier operations a fault is injected into: the
// first freeze of a session (it makes the directory), a later one, and a
// merging compaction. frozen is the run the phase freezes (-1: none).
var coldFaultPhases = []struct {
	name   string
	frozen int
	prep   func(db *DB, w *coldWork) error // fault-free, before
	run    func(db *DB, w *coldWork) error
}{
	{"first freeze", 0, nil, func(db *DB, w *coldWork) error { return db.Runs().Freeze(w.runs[0]) }},
	{"second freeze", 1, func(db *DB, w *coldWork) error { return db.Runs().Freeze(w.runs[0]) },
		func(db *DB, w *coldWork) error { return db.Runs().Freeze(w.runs[1]) }},
	{"compaction", -1, func(db *DB, w *coldWork) error {
		for _, id := range w.runs {
			if err := db.Runs().Freeze(id); err != nil {
				return err
			}
		}
		return nil
	}, func(db *DB, w *coldWork) error { return db.CompactCold() }},
}

// coldFaultPoint fails op n (and every later one) of a phase, then
// clears the fault. The call returns an error wrapping vfs.ErrInjected
// and nothing else goes wrong: every run reads the same on the handle; a
// retry there succeeds, unless the fault poisoned the log, which then
// refuses it. A restart on the same disk reads the same, and its retry
// succeeds; then power is lost, and the disk reads the same again.
func coldFaultPoint(tmpl *coldTemplate, phase int, n, total int) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	ph := coldFaultPhases[phase]
	d, w, before := tmpl.d, tmpl.w, tmpl.before
	mem, err := coldCopyFS(tmpl.fs, int64(n))
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	mem.TornWrites = true
	var fs vfs.FS = coldStrictDirs{mem}
	db, err := coldReady(fs, d)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	defer func() { db.Close() }()
	if ph.prep != nil {
		if err := ph.prep(db, w); err != nil {
			return fmt.Errorf("before the phase: %w", err)
		}
	}
	mem.FailAfter(n, nil)
	ferr := ph.run(db, w)
	mem.FailAfter(0, nil)
	switch {
	case n <= total && ferr == nil:
		return errors.New("an operation failed but the call returned no error")
	case ferr != nil && !errors.Is(ferr, vfs.ErrInjected):
		return fmt.Errorf("unexpected error (want one wrapping vfs.ErrInjected): %w", ferr)
	}
	wrap := func(err error) error { return fmt.Errorf("the call failed with %v: %w", ferr, err) }
	if _, err := coldCheckReads(db, before, nil); err != nil {
		return wrap(fmt.Errorf("same handle: %w", err))
	}
	if ph.frozen >= 0 {
		rs, _ := db.runState(w.runs[ph.frozen])
		if cold := rs.cold.Load() != nil; cold != (ferr == nil) {
			return wrap(fmt.Errorf("same handle: the run is cold: %v", cold))
		}
	}
	if err := coldTierCheck(db, false); err != nil {
		return wrap(fmt.Errorf("same handle: %w", err))
	}
	poisoned := db.store.Log.Err() != nil
	rerr := ph.run(db, w)
	switch {
	case poisoned && rerr == nil:
		return wrap(errors.New("a retry on a handle whose log is poisoned succeeded"))
	case !poisoned && rerr != nil:
		return wrap(fmt.Errorf("retry on the same handle: %w", rerr))
	}
	if _, err := coldCheckReads(db, before, nil); err != nil {
		return wrap(fmt.Errorf("same handle, after the retry (%v): %w", rerr, err))
	}
	if err := coldTierCheck(db, false); err != nil {
		return wrap(fmt.Errorf("same handle, after the retry (%v): %w", rerr, err))
	}
	if cerr := db.Close(); cerr != nil && !poisoned {
		return wrap(fmt.Errorf("close: %w", cerr))
	}
	// A restart on the same disk: the retry works there.
	if db, err = coldOpen(fs, d); err != nil {
		return wrap(fmt.Errorf("restart: %w", err))
	}
	if err := ph.run(db, w); err != nil {
		return wrap(fmt.Errorf("retry after a restart: %w", err))
	}
	if _, _, err := coldAgain(fs, db, d, w, before, nil, false); err != nil {
		return wrap(fmt.Errorf("restart: %w", err))
	}
	// Then power is lost.
	fs = coldStrictDirs{mem.CrashClone()}
	if db, err = coldOpen(fs, d); err != nil {
		return wrap(fmt.Errorf("power loss after the restart: %w", err))
	}
	if _, _, err := coldAgain(fs, db, d, w, before, nil, true); err != nil {
		return wrap(fmt.Errorf("power loss after the restart: %w", err))
	}
	return nil
}

// coldParallel runs fn(0..n-1) on GOMAXPROCS workers.
func coldParallel(n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// TestColdFaults proves that an I/O error at any operation of a freeze
// (the first of a session, which makes the cold directory, and a later
// one) and of a merging compaction is returned, never a panic, and harms
// nothing: every run reads as before on the same handle, a frozen run is
// cold exactly when its freeze returned nil, every manifest entry names a
// file that is there, and a retry succeeds (on the same handle unless the
// error poisoned the log, else after a restart), also after a power loss.
// Its filesystem refuses, as a real one does, to create a file in a
// directory that does not exist.
func TestColdFaults(t *testing.T) {
	t.Parallel()
	plGCTune(t)
	tmpl := newColdTemplate(t, Strict())
	for i, ph := range coldFaultPhases {
		t.Run(strings.ReplaceAll(ph.name, " ", "_"), func(t *testing.T) {
			mem, err := coldCopyFS(tmpl.fs, 1)
			require.NoError(t, err)
			db, err := coldReady(coldStrictDirs{mem}, tmpl.d)
			require.NoError(t, err)
			if ph.prep != nil {
				require.NoError(t, ph.prep(db, tmpl.w))
			}
			ops := mem.Ops()
			require.NoError(t, ph.run(db, tmpl.w))
			total := mem.Ops() - ops
			require.NoError(t, db.Close())
			errs := make([]error, total+1)
			coldParallel(total+1, func(j int) { errs[j] = coldFaultPoint(tmpl, i, j+1, total) })
			failed := 0
			for j, err := range errs {
				if err != nil {
					failed++
					t.Errorf("%s: I/O error from its op %d of %d on: %v", ph.name, j+1, total, err)
				}
			}
			require.Zero(t, failed, "%d of %d fault points failed", failed, total+1)
			t.Logf("%s: an I/O error at each of its %d operations", ph.name, total)
		})
	}
}
