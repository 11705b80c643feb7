package inmem

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/inmem-db/inmem/wal"
	"github.com/stretchr/testify/require"
)

// Power-loss tests. A seeded workload commits a numbered sequence on a
// MemFS; the filesystem is crashed at every counted operation in turn, the
// disk as a power loss leaves it is reopened, and the recovered state is
// checked against the commit sequence:
//
//   - commit k writes key plKey(k) = w.value(k) (k, 8 bytes big-endian, then padding); an odd k is a single Put,
//     an even k is a run.Update that writes plKey(k) and "seq" = k (8 bytes
//     big-endian) in one transaction;
//   - the recovered state must be exactly the state after some prefix 1..m
//     of the sequence: plKey(1..m) with their values, nothing after m, and
//     "seq" = the last even commit <= m (absent if m < 2);
//   - m must cover every commit the durability mode promised to keep.

const plDir = "/db"

var plNS = Namespace{Tenant: "crash"}

// plAfterKey is the one key outside the sequence that verify accepts: the
// recovered handle writes it to show it takes writes again.
const plAfterKey = "zz-after"

// plWorkload is a deterministic commit sequence.
type plWorkload struct {
	commits   int
	ckptEvery int   // a Checkpoint after every ckptEvery-th commit; 0: none
	pad       []int // padding bytes of commit k's value, so records cross sectors
	// segSize is the WAL segment size (0: the default, which these
	// workloads never fill): a small one rolls segments every few commits,
	// so crashes also fall in rolls and in segments being prepared.
	segSize int64
}

// plSmallSegments is a segment size that rolls every two or three commits.
const plSmallSegments = 1 << 10

// open opens the workload's database on fs.
func (w *plWorkload) open(fs vfs.FS, d Durability) (*DB, error) {
	return Open(plDir, withFS(fs), WithDurability(d), withSegmentSize(w.segSize))
}

func newPLWorkload(seed int64, commits, ckptEvery, maxPad int) *plWorkload {
	rng := rand.New(rand.NewSource(seed))
	w := &plWorkload{commits: commits, ckptEvery: ckptEvery, pad: make([]int, commits+1)}
	if maxPad > 0 {
		for k := range w.pad {
			w.pad[k] = rng.Intn(maxPad)
		}
	}
	return w
}

func plKey(k int) string { return fmt.Sprintf("k%05d", k) }

func plSeq(k int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(k)) }

func (w *plWorkload) value(k int) []byte {
	v := plSeq(k)
	for i := 0; i < w.pad[k]; i++ {
		v = append(v, byte(k*31+i))
	}
	return v
}

// commit performs commit k through the shared scope sh.
func (w *plWorkload) commit(sh *Run, k int) error {
	if k%2 == 1 {
		return sh.KV().Put(plKey(k), w.value(k))
	}
	return sh.Update(func(tx *Tx) error {
		if err := tx.KV().Put("seq", plSeq(k)); err != nil {
			return err
		}
		return tx.KV().Put(plKey(k), w.value(k))
	})
}

// plRunOpts tune a workload run.
type plRunOpts struct {
	// keepGoing runs every commit even after one failed (default: stop at
	// the first error).
	keepGoing bool
	// onFirstErr runs once, right after the first failed call.
	onFirstErr func()
}

// plResult is what a workload run saw through the DB API.
type plResult struct {
	openErr  error
	acked    []int // commits that returned nil, in order
	lastAck  int   // highest acknowledged commit before the first failure
	synced   int   // highest commit acknowledged before the last successful Checkpoint
	firstErr error // first failed commit or Checkpoint
	errCall  string
	// lateAcks are commits acknowledged after a commit had failed
	// (keepGoing only).
	lateAcks   []int
	commitFail bool // some commit failed
	closeErr   error
}

// errs returns every error the run saw.
func (r *plResult) errs() []error {
	var out []error
	for _, e := range []error{r.openErr, r.firstErr, r.closeErr} {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}

func (w *plWorkload) run(fs vfs.FS, d Durability, o plRunOpts) plResult {
	var r plResult
	fail := func(call string, err error) {
		if r.firstErr == nil {
			r.firstErr, r.errCall = err, call
			if o.onFirstErr != nil {
				o.onFirstErr()
			}
		}
	}
	db, err := w.open(fs, d)
	if err != nil {
		r.openErr = err
		if o.onFirstErr != nil {
			o.onFirstErr()
		}
		return r
	}
	sh := db.Shared(plNS)
	for k := 1; k <= w.commits; k++ {
		if err := w.commit(sh, k); err != nil {
			fail(fmt.Sprintf("commit %d", k), err)
			r.commitFail = true
			if !o.keepGoing {
				break
			}
			continue
		}
		r.acked = append(r.acked, k)
		if r.firstErr == nil {
			r.lastAck = k
		}
		if r.commitFail {
			r.lateAcks = append(r.lateAcks, k)
		}
		if w.ckptEvery > 0 && k%w.ckptEvery == 0 {
			if err := db.Checkpoint(); err != nil {
				fail(fmt.Sprintf("checkpoint after commit %d", k), err)
				if !o.keepGoing {
					break
				}
				continue
			}
			if r.firstErr == nil {
				r.synced = r.lastAck
			}
		}
	}
	r.closeErr = db.Close()
	return r
}

// verify checks that db holds exactly the state after commits 1..m of the
// workload and returns m; after reports whether plAfterKey is there.
func (w *plWorkload) verify(db *DB) (m int, after bool, err error) {
	sh := db.Shared(plNS)
	es, err := sh.KV().List("")
	if err != nil {
		return 0, false, fmt.Errorf("list: %w", err)
	}
	var seq []byte
	for _, e := range es {
		switch {
		case e.Key == "seq":
			seq = e.Value
		case e.Key == plAfterKey:
			after = true
		case e.Key == plKey(m+1):
			if m+1 > w.commits {
				return m, after, fmt.Errorf("key %s past the last commit", e.Key)
			}
			if !bytes.Equal(e.Value, w.value(m+1)) {
				return m, after, fmt.Errorf("key %s = %x, want %x", e.Key, e.Value, w.value(m+1))
			}
			m++
		default:
			return m, after, fmt.Errorf("unexpected key %q after a prefix of %d commits (a hole, or a stray key)", e.Key, m)
		}
	}
	lastEven := m - m%2
	switch {
	case lastEven == 0 && seq != nil:
		return m, after, fmt.Errorf("seq = %x with %d commits: not a prefix", seq, m)
	case lastEven > 0 && !bytes.Equal(seq, plSeq(lastEven)):
		return m, after, fmt.Errorf("seq = %x with %d commits, want %d: not a prefix", seq, m, lastEven)
	}
	// Reads through a transaction agree with the listing.
	if m > 0 {
		if err := sh.View(func(tx *Tx) error {
			v, err := tx.KV().Get(plKey(m))
			if err != nil {
				return err
			}
			if !bytes.Equal(v, w.value(m)) {
				return fmt.Errorf("tx read of %s differs", plKey(m))
			}
			return nil
		}); err != nil {
			return m, after, err
		}
	}
	return m, after, nil
}

// reopen opens fs for real and checks the recovered state is a prefix of at
// least minM commits. With write, the handle then commits plAfterKey
// (durable once Close returned nil). It closes the handle and returns m,
// and whether plAfterKey was there.
func (w *plWorkload) reopen(fs vfs.FS, d Durability, minM int, write bool) (m int, after bool, err error) {
	db, err := w.open(fs, d)
	if err != nil {
		return 0, false, fmt.Errorf("reopen: %w", err)
	}
	m, after, err = w.verify(db)
	if err != nil {
		db.Close()
		return m, after, fmt.Errorf("recovered state is not a commit prefix: %w", err)
	}
	if m < minM {
		db.Close()
		return m, after, fmt.Errorf("recovered %d commits, but commit %d was acknowledged as durable: lost", m, minM)
	}
	if write {
		if err := db.Shared(plNS).KV().Put(plAfterKey, plSeq(m)); err != nil {
			db.Close()
			return m, after, fmt.Errorf("write after recovery: %w", err)
		}
	}
	if err := db.Close(); err != nil {
		return m, after, fmt.Errorf("close after recovery: %w", err)
	}
	return m, after, nil
}

// plKeep picks how much unsynced data a power loss keeps.
func plKeep(rng *rand.Rand) float64 {
	switch rng.Intn(4) {
	case 0:
		return -1 // random per file
	case 1:
		return 0
	case 2:
		return 1
	default:
		return rng.Float64()
	}
}

// plCountOps runs the workload without faults and returns the counted ops.
func plCountOps(t *testing.T, w *plWorkload, d Durability, seed int64) int {
	t.Helper()
	mem := vfs.NewMemFS(seed)
	r := w.run(mem, d, plRunOpts{})
	require.NoError(t, r.openErr)
	require.NoError(t, r.firstErr)
	require.NoError(t, r.closeErr)
	require.Len(t, r.acked, w.commits)
	ops := mem.Ops()
	if w.segSize > 0 && d.mode == modeStrict {
		// Strict writes each commit in a round of its own, so small
		// segments roll every few commits (Batched rounds are larger).
		segs, err := wal.Segments(mem, walDir(plDir))
		require.NoError(t, err)
		require.Greater(t, segs[len(segs)-1], uint64(w.commits/4), "seed %d: small segments roll every few commits", seed)
	}
	m, _, err := w.reopen(mem, d, w.commits, false)
	require.NoError(t, err, "seed %d: fault-free run", seed)
	require.Equal(t, w.commits, m)
	return ops
}

// plCrashErrs checks every error of r is the crash surfacing, and (when
// mustSurface) that there is one.
func plCrashErrs(r *plResult, mustSurface bool) error {
	errs := r.errs()
	for _, err := range errs {
		if !errors.Is(err, vfs.ErrCrashed) {
			return fmt.Errorf("unexpected error (want one wrapping vfs.ErrCrashed): %w", err)
		}
	}
	if mustSurface && len(errs) == 0 {
		return errors.New("the filesystem crashed but no call on the DB returned an error")
	}
	return nil
}

// plCase is one crash point.
type plCase struct {
	w        *plWorkload
	d        Durability
	seed     int64
	k, total int
}

// plParallel runs fn for every case on GOMAXPROCS workers and reports the
// failures (the first few in full) in case order. It returns how many
// cases fn counted as crashed and as crashed during recovery.
func plParallel(t *testing.T, cases []plCase, fn func(c plCase) (crashed, rec bool, err error)) (crashed, rec int) {
	t.Helper()
	type out struct {
		crashed, rec bool
		err          error
	}
	outs := make([]out, len(cases))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(cases) {
					return
				}
				c, r, err := fn(cases[i])
				outs[i] = out{c, r, err}
			}
		}()
	}
	wg.Wait()
	failed := 0
	for i, o := range outs {
		if o.crashed {
			crashed++
		}
		if o.rec {
			rec++
		}
		if o.err != nil {
			failed++
			if failed <= 8 {
				t.Errorf("seed %d, crash at op %d of %d: %v", cases[i].seed, cases[i].k, cases[i].total, o.err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d crash points failed", failed, len(cases))
	}
	return crashed, rec
}

// plPowerLoss drives one durability mode through every crash point of
// seeds workloads, every smallEvery-th of them with small WAL segments.
// minDurable says which commits of a run must survive.
func plPowerLoss(t *testing.T, dur func(seed int64) Durability, seeds, smallEvery, commits, ckptEvery int, deterministic bool, minDurable func(r *plResult) int) (points, crashed, recPoints int) {
	var cases []plCase
	for seed := int64(1); seed <= int64(seeds); seed++ {
		w := newPLWorkload(seed, commits, ckptEvery, 700)
		if seed%int64(smallEvery) == 0 {
			w.segSize = plSmallSegments
		}
		d := dur(seed)
		total := plCountOps(t, w, d, seed)
		if deterministic {
			if again := plCountOps(t, w, d, seed); again != total {
				t.Fatalf("seed %d: fault-free runs counted %d and %d ops: workload is not deterministic", seed, total, again)
			}
		}
		for k := 1; k <= total; k++ {
			cases = append(cases, plCase{w: w, d: d, seed: seed, k: k, total: total})
		}
	}
	crashed, recPoints = plParallel(t, cases, func(c plCase) (bool, bool, error) {
		return plCrashPoint(c, deterministic, minDurable)
	})
	return len(cases), crashed, recPoints
}

// plCrashPoint runs the workload with a power loss at op c.k and checks
// what recovery makes of the disk; for some points it crashes recovery too.
func plCrashPoint(c plCase, deterministic bool, minDurable func(r *plResult) int) (hit, recCrash bool, err error) {
	w, d := c.w, c.d
	rng := rand.New(rand.NewSource(c.seed*1_000_003 + int64(c.k)))
	mem := vfs.NewMemFS(rng.Int63())
	mem.TornWrites = true
	keep := plKeep(rng)
	mem.SetKeepUnsynced(keep)
	mem.CrashAfter(c.k)
	r := w.run(mem, d, plRunOpts{})
	hit = mem.Crashed()
	wrap := func(err error) error {
		return fmt.Errorf("keep %.2f, acked 1..%d, checkpointed 1..%d, first error at %s: %v: %w", keep, r.lastAck, r.synced, r.errCall, r.firstErr, err)
	}
	if deterministic && !hit {
		return hit, false, wrap(errors.New("the workload never reached the crash point"))
	}
	if err := plCrashErrs(&r, hit); err != nil {
		return hit, false, wrap(err)
	}
	minM := minDurable(&r)
	if !hit {
		// Fewer ops than in the counting run (Batched groups vary): the run
		// finished and Close made everything durable.
		if r.closeErr != nil {
			return hit, false, wrap(fmt.Errorf("close: %w", r.closeErr))
		}
		minM = r.lastAck
	}
	clone := mem.CrashClone()
	if c.k%5 == 0 {
		// Crash again, during recovery.
		recCrash = true
		j := 1 + rng.Intn(18) // up to the segment recovery prepares ahead
		// outer, not wrap: wrap is set to rwrap below, and rwrap calling
		// it would recurse without end on the first error.
		outer := wrap
		rwrap := func(err error) error { return outer(fmt.Errorf("recovery crashed at its op %d: %w", j, err)) }
		clone.CrashAfter(j)
		if db, err := w.open(clone, d); err != nil {
			if !errors.Is(err, vfs.ErrCrashed) {
				return hit, recCrash, rwrap(fmt.Errorf("open: unexpected error: %w", err))
			}
		} else {
			// Recovery finished within j ops: it must be right.
			m, _, verr := w.verify(db)
			if verr != nil || m < minM {
				db.Close()
				return hit, recCrash, rwrap(fmt.Errorf("recovered %d commits (want >= %d): %v", m, minM, verr))
			}
			if err := db.Close(); err != nil && !errors.Is(err, vfs.ErrCrashed) {
				return hit, recCrash, rwrap(fmt.Errorf("close: %w", err))
			}
		}
		clone = clone.CrashClone()
		wrap = rwrap
	}
	if _, _, err := w.reopen(clone, d, minM, c.k%2 == 0); err != nil {
		return hit, recCrash, wrap(err)
	}
	return hit, recCrash, nil
}

// plGCTune raises the GC target while a test that opens the database
// thousands of times runs: every Open allocates large, short-lived buffers,
// and under the race detector each fresh one costs a shadow-memory reset,
// so fewer collections (more reuse) cut the run time by about a third.
// Restored when the last such test ends.
func plGCTune(t *testing.T) {
	plGC.Lock()
	defer plGC.Unlock()
	if plGC.users == 0 {
		plGC.prev = debug.SetGCPercent(400)
	}
	plGC.users++
	t.Cleanup(func() {
		plGC.Lock()
		defer plGC.Unlock()
		if plGC.users--; plGC.users == 0 {
			debug.SetGCPercent(plGC.prev)
		}
	})
}

var plGC struct {
	sync.Mutex
	users, prev int
}

func TestPowerLossStrict(t *testing.T) {
	t.Parallel()
	plGCTune(t)
	start := time.Now()
	strict := func(int64) Durability { return Strict() }
	seeds := shortOr(8, 2)
	points, crashed, rec := plPowerLoss(t, strict, seeds, 2, 30, 10, true, func(r *plResult) int {
		return r.lastAck // Strict: every acknowledged commit survives
	})
	require.GreaterOrEqual(t, points, 125*seeds)
	t.Logf("Strict: %d crash points (%d crashed the workload), %d of them also crashed during recovery, in %v",
		points, crashed, rec, time.Since(start).Round(time.Millisecond))
}

func TestPowerLossBatched(t *testing.T) {
	t.Parallel()
	plGCTune(t)
	start := time.Now()
	// Even seeds fsync by count only, odd ones also on a short timer.
	batched := func(seed int64) Durability {
		if seed%2 == 0 {
			return Batched(time.Hour, 3)
		}
		return Batched(time.Millisecond, 8)
	}
	seeds := shortOr(6, 2)
	points, crashed, rec := plPowerLoss(t, batched, seeds, 3, 45, 15, false, func(r *plResult) int {
		// Batched: what a successful Checkpoint fsynced survives; later
		// acknowledged commits may be lost, but only as a suffix.
		return r.synced
	})
	require.GreaterOrEqual(t, crashed, 200*seeds/6, "too few runs reached their crash point")
	t.Logf("Batched: %d crash points (%d crashed the workload), %d of them also crashed during recovery, in %v",
		points, crashed, rec, time.Since(start).Round(time.Millisecond))
}

// TestFsyncErrorPoisons fails the n-th filesystem operation of a Strict
// workload, for every n. The first failing call returns an error and no
// commit after a failed one is acknowledged. Two flavours: the fault stays
// (the disk is gone; what it durably holds is reopened), or it is transient
// (cleared right after the first failure: the handle must stay poisoned;
// the same filesystem is reopened, as a process restart would, and then
// power is lost on top).
func TestFsyncErrorPoisons(t *testing.T) {
	t.Parallel()
	plGCTune(t)
	w := newPLWorkload(42, 20, 10, 300)
	w.segSize = plSmallSegments // faults also hit rolls and segments being prepared
	d := Strict()
	total := plCountOps(t, w, d, 1)
	failed, points := 0, 0
	for n := 1; n <= total+1; n += shortOr(1, 3) {
		for _, transient := range []bool{false, true} {
			points++
			err := plFailPoint(w, d, n, total, transient)
			if err != nil {
				failed++
				if failed <= 10 {
					t.Errorf("fail at op %d of %d, transient %v: %v", n, total, transient, err)
				}
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d fault points failed", failed, points)
	}
	t.Logf("%d fault points", points)
}

func plFailPoint(w *plWorkload, d Durability, n, total int, transient bool) error {
	mem := vfs.NewMemFS(int64(n))
	mem.TornWrites = true
	mem.FailAfter(n, nil)
	r := w.run(mem, d, plRunOpts{keepGoing: true, onFirstErr: func() {
		if transient {
			mem.FailAfter(0, nil)
		}
	}})
	if n <= total && r.openErr == nil && r.firstErr == nil && r.closeErr == nil {
		return errors.New("an operation failed but no call on the DB returned an error")
	}
	for _, err := range r.errs() {
		if !errors.Is(err, vfs.ErrInjected) {
			return fmt.Errorf("unexpected error (want one wrapping vfs.ErrInjected): %w", err)
		}
	}
	if len(r.lateAcks) > 0 {
		return fmt.Errorf("commits %v acknowledged after a commit failed (first failure: %s: %v): the handle is not poisoned",
			r.lateAcks, r.errCall, r.firstErr)
	}
	if !transient && r.firstErr != nil && len(r.acked) > 0 && r.acked[len(r.acked)-1] > r.lastAck {
		return fmt.Errorf("commits %v acknowledged after the first failure (%s: %v)", r.acked, r.errCall, r.firstErr)
	}
	if !transient {
		if _, _, err := w.reopen(mem.CrashClone(), d, r.lastAck, true); err != nil {
			return fmt.Errorf("power loss: %w", err)
		}
		return nil
	}
	// The fault is gone (also when only Close, or nothing, hit it): reopen
	// the same filesystem (a restart), check, and commit one more write
	// there.
	mem.FailAfter(0, nil)
	minM := 0
	if len(r.acked) > 0 {
		minM = r.acked[len(r.acked)-1]
	}
	m1, _, err := w.reopen(mem, d, minM, true)
	if err != nil {
		return fmt.Errorf("restart (first failure %s: %v): %w", r.errCall, r.firstErr, err)
	}
	// Then power is lost. The write acknowledged after the restart must
	// survive, and with it everything the restarted handle had recovered
	// and served: exactly m1 commits.
	m2, after, err := w.reopen(mem.CrashClone(), d, minM, false)
	if err != nil {
		return fmt.Errorf("restart recovered %d commits and acknowledged a write (first failure %s: %v); then power loss: %w",
			m1, r.errCall, r.firstErr, err)
	}
	if !after || m2 != m1 {
		return fmt.Errorf("restart recovered %d commits and acknowledged a write (first failure %s: %v); after a power loss %d commits are left (write there: %v)",
			m1, r.errCall, r.firstErr, m2, after)
	}
	return nil
}

// TestRestartThenPowerLoss: the process dies with acknowledged (Batched)
// commits written to the WAL but not yet fsynced. It restarts on the same
// disk, whose page cache still holds them: recovery serves them, and the
// new handle acknowledges a Strict write on top. Then power is lost. The
// write acknowledged after the restart must survive, and with it
// everything the restarted handle served before it (the state stays a
// prefix), and the database must open.
func TestRestartThenPowerLoss(t *testing.T) {
	t.Parallel()
	w := newPLWorkload(3, 10, 0, 100)
	batched := WithDurability(Batched(time.Hour, 1000)) // written at once, fsynced only by Close
	// The bytes the commits take in the WAL, from a clean run.
	mem := vfs.NewMemFS(1)
	db, err := Open(plDir, withFS(mem), batched)
	require.NoError(t, err)
	for k := 1; k <= w.commits; k++ {
		require.NoError(t, w.commit(db.Shared(plNS), k))
	}
	log := db.store.Log
	require.NoError(t, db.Close())
	walBytes := log.Stats().Bytes

	for _, keep := range []float64{1, 0.5, 0} {
		t.Run(fmt.Sprintf("keep=%.1f", keep), func(t *testing.T) {
			mem := vfs.NewMemFS(1)
			mem.TornWrites = true
			mem.SetKeepUnsynced(keep)
			db, err := Open(plDir, withFS(mem), batched)
			require.NoError(t, err)
			sh := db.Shared(plNS)
			for k := 1; k <= w.commits; k++ {
				require.NoError(t, w.commit(sh, k))
			}
			// Let the log write every commit to the segment (no fsync).
			for deadline := time.Now().Add(5 * time.Second); db.store.Log.Stats().Bytes < walBytes; {
				require.True(t, time.Now().Before(deadline), "the log never wrote the commits")
				time.Sleep(time.Millisecond)
			}
			require.Equal(t, walBytes, db.store.Log.Stats().Bytes)
			// The process dies: nothing more reaches the disk (its last
			// flush fails), but what it wrote is in the page cache.
			mem.FailAfter(1, nil)
			require.Error(t, db.Close())
			mem.FailAfter(0, nil)

			m1, _, err := w.reopen(mem, Strict(), 0, true)
			require.NoError(t, err, "restart")
			require.Equal(t, w.commits, m1, "the restart recovers what the page cache holds")

			m2, after, err := w.reopen(mem.CrashClone(), Strict(), 0, false)
			require.NoError(t, err, "power loss after the restart: open")
			require.True(t, after, "the write acknowledged after the restart survives")
			require.Equal(t, m1, m2, "commits served by the restarted handle, before a durable write, survive with it")
		})
	}
}

// plCopyDir copies the files of src (one level of subdirectories) to dst.
func plCopyDir(src, dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

// plOpenOS opens dir on the real filesystem. It returns the number of
// commits recovered, or the Open error as openErr; err reports anything
// else (a panic, data that is not a commit prefix, a failing Close).
func plOpenOS(w *plWorkload, dir string) (m int, openErr, err error) {
	var db *DB
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("open panicked: %v", p)
			}
		}()
		db, openErr = Open(dir, WithDurability(Strict()))
	}()
	if err != nil || openErr != nil {
		return 0, openErr, err
	}
	m, _, verr := w.verify(db)
	cerr := db.Close()
	if verr != nil {
		return m, nil, fmt.Errorf("opened with data that is not a commit prefix: %w", verr)
	}
	if cerr != nil {
		return m, nil, fmt.Errorf("close: %w", cerr)
	}
	return m, nil, nil
}

// plBuildOS writes the workload's commits to a fresh directory on the real
// filesystem, with a Checkpoint after each commit in ckptAfter.
func plBuildOS(t *testing.T, w *plWorkload, ckptAfter ...int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "db")
	db, err := Open(dir, WithDurability(Strict()))
	require.NoError(t, err)
	sh := db.Shared(plNS)
	for k := 1; k <= w.commits; k++ {
		require.NoError(t, w.commit(sh, k))
		for _, c := range ckptAfter {
			if c == k {
				require.NoError(t, db.Checkpoint())
			}
		}
	}
	require.NoError(t, db.Close())
	return dir
}

// plDamage is one damaged copy of a template directory and what opening
// it must give.
type plDamage struct {
	name   string
	files  map[string][]byte // path relative to the directory -> new content
	remove []string          // paths relative to the directory to delete
	// check judges the outcome: m commits recovered, or the Open error.
	check func(m int, openErr error) error
}

// plDamageOS opens a damaged copy of tmpl for every case, a few at a time
// (the work is mostly fsync), and reports the failures. It returns how
// many cases opened and how many were refused.
func plDamageOS(t *testing.T, w *plWorkload, tmpl string, cases []plDamage) (opened, refused int) {
	t.Helper()
	root := t.TempDir()
	type out struct {
		opened bool
		err    error
	}
	outs := make([]out, len(cases))
	var next atomic.Int64
	var wg sync.WaitGroup
	for worker := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work := filepath.Join(root, fmt.Sprint(worker))
			for {
				i := int(next.Add(1)) - 1
				if i >= len(cases) {
					return
				}
				c := cases[i]
				err := plCopyDir(tmpl, work)
				for rel, b := range c.files {
					if err == nil {
						err = os.WriteFile(filepath.Join(work, rel), b, 0o644)
					}
				}
				for _, rel := range c.remove {
					if err == nil {
						err = os.Remove(filepath.Join(work, rel))
					}
				}
				if err != nil {
					outs[i].err = fmt.Errorf("setup: %w", err)
					continue
				}
				m, openErr, err := plOpenOS(w, work)
				if err == nil {
					err = c.check(m, openErr)
				}
				outs[i] = out{openErr == nil, err}
			}
		}()
	}
	wg.Wait()
	failed := 0
	for i, o := range outs {
		if o.opened {
			opened++
		} else {
			refused++
		}
		if o.err != nil {
			failed++
			if failed <= 8 {
				t.Errorf("%s: %v", cases[i].name, o.err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d damaged copies failed", failed, len(cases))
	}
	return opened, refused
}

// plAllOrCorrupt accepts exactly all of want commits, or ErrCorruption.
func plAllOrCorrupt(want int) func(int, error) error {
	return func(m int, err error) error {
		switch {
		case err != nil && !errors.Is(err, ErrCorruption):
			return fmt.Errorf("open failed without ErrCorruption: %w", err)
		case err == nil && m != want:
			return fmt.Errorf("opened with %d of %d commits", m, want)
		}
		return nil
	}
}

func plMustCorrupt(m int, err error) error {
	switch {
	case err == nil:
		return fmt.Errorf("opened with %d commits; want ErrCorruption", m)
	case !errors.Is(err, ErrCorruption):
		return fmt.Errorf("open failed without ErrCorruption: %w", err)
	}
	return nil
}

var plMasks = []byte{0xff, 0x01, 0x80, 0x5a}

func TestSnapshotCorruptionMatrix(t *testing.T) {
	t.Parallel()
	plGCTune(t)
	w := newPLWorkload(7, 7, 0, 0)
	tmpl := plBuildOS(t, w, 2, 4)
	snaps, err := snapshots(vfs.OS, tmpl)
	require.NoError(t, err)
	require.Len(t, snaps, 2, "two checkpoints keep two snapshots")
	segs, err := wal.Segments(vfs.OS, walDir(tmpl))
	require.NoError(t, err)
	require.NotEqual(t, uint64(1), segs[0], "the second checkpoint retired segment 1")
	newest, older := snapshotName(snaps[0]), snapshotName(snaps[1])
	orig, err := os.ReadFile(filepath.Join(tmpl, newest))
	require.NoError(t, err)
	origOld, err := os.ReadFile(filepath.Join(tmpl, older))
	require.NoError(t, err)

	// Each byte of the newest snapshot: the older one and the WAL after it
	// give back exactly the same data, or the open fails with ErrCorruption.
	var cases []plDamage
	for i := 0; i < len(orig); i += shortOr(1, 3) {
		mask := plMasks[i%len(plMasks)]
		b := bytes.Clone(orig)
		b[i] ^= mask
		cases = append(cases, plDamage{
			name:  fmt.Sprintf("newest snapshot %s byte %d ^ %#x", newest, i, mask),
			files: map[string][]byte{newest: b},
			check: plAllOrCorrupt(w.commits),
		})
	}
	// Truncations of the newest snapshot likewise.
	for n := 0; n < len(orig); n += 11 {
		cases = append(cases, plDamage{
			name:  fmt.Sprintf("newest snapshot %s cut to %d bytes", newest, n),
			files: map[string][]byte{newest: orig[:n]},
			check: plAllOrCorrupt(w.commits),
		})
	}
	opened, refused := plDamageOS(t, w, tmpl, cases)
	t.Logf("newest snapshot (%d bytes), %d flips and cuts: %d fell back to the older snapshot, %d refused with ErrCorruption",
		len(orig), len(cases), opened, refused)

	// Both snapshots damaged, and the WAL before the older one retired:
	// nothing can rebuild the data, so Open must fail with ErrCorruption,
	// never come up empty or partial.
	rng := rand.New(rand.NewSource(3))
	cases = nil
	for range 16 {
		i, j := rng.Intn(len(orig)), rng.Intn(len(origOld))
		b, bOld := bytes.Clone(orig), bytes.Clone(origOld)
		b[i] ^= 0xff
		bOld[j] ^= 0xff
		cases = append(cases, plDamage{
			name:  fmt.Sprintf("both snapshots damaged: newest byte %d, older byte %d", i, j),
			files: map[string][]byte{newest: b, older: bOld},
			check: plMustCorrupt,
		})
	}
	plDamageOS(t, w, tmpl, cases)

	// A WAL segment gone: the newest snapshot does not need the first one;
	// without the one it starts at, commits after it are lost, and that
	// must be ErrCorruption, not a database missing its last commits.
	cases = nil
	for _, n := range segs {
		cases = append(cases, plDamage{
			name:   fmt.Sprintf("WAL segment %s removed (segments %v)", wal.SegmentName(n), segs),
			remove: []string{filepath.Join("wal", wal.SegmentName(n))},
			check:  plAllOrCorrupt(w.commits),
		})
	}
	plDamageOS(t, w, tmpl, cases)

	// One checkpoint only: segment 1 is still there, so a damaged (only)
	// snapshot falls back to replaying the whole WAL.
	one := plBuildOS(t, w, 4)
	snaps, err = snapshots(vfs.OS, one)
	require.NoError(t, err)
	require.Len(t, snaps, 1)
	only := snapshotName(snaps[0])
	origOnly, err := os.ReadFile(filepath.Join(one, only))
	require.NoError(t, err)
	cases = nil
	for i := 0; i < len(origOnly); i += 7 {
		b := bytes.Clone(origOnly)
		b[i] ^= 0xff
		cases = append(cases, plDamage{
			name:  fmt.Sprintf("only snapshot %s byte %d", only, i),
			files: map[string][]byte{only: b},
			check: plAllOrCorrupt(w.commits),
		})
	}
	plDamageOS(t, w, one, cases)
}

// TestWALCorruptionMatrix flips every byte of a small WAL segment (no
// checkpoint, so it holds every commit): a flip in the last record is a torn
// tail, cut off (the other commits come back); a flip anywhere else is
// ErrCorruption. Never different data.
func TestWALCorruptionMatrix(t *testing.T) {
	t.Parallel()
	plGCTune(t)
	w := newPLWorkload(11, 5, 0, 0)
	tmpl := plBuildOS(t, w)
	segs, err := wal.Segments(vfs.OS, walDir(tmpl))
	require.NoError(t, err)
	require.Equal(t, []uint64{1}, segs)
	seg := filepath.Join("wal", wal.SegmentName(1))
	orig, err := os.ReadFile(filepath.Join(tmpl, seg))
	require.NoError(t, err)
	// Find where the last record starts.
	lastStart, records := 0, 0
	for off := 0; off < len(orig); {
		_, _, n, err := wal.DecodeRecord(orig[off:])
		require.NoError(t, err)
		lastStart = off
		off += n
		records++
	}
	require.Equal(t, w.commits+1, records, "segment header and one record per commit")
	var cases []plDamage
	for i := 0; i < len(orig); i += shortOr(1, 3) {
		mask := plMasks[i%len(plMasks)]
		b := bytes.Clone(orig)
		b[i] ^= mask
		check := plMustCorrupt
		if i >= lastStart {
			check = func(m int, err error) error {
				if err != nil {
					return fmt.Errorf("a damaged last record is a torn tail, want it cut off; open: %w", err)
				}
				if m != w.commits-1 {
					return fmt.Errorf("opened with %d commits, want %d", m, w.commits-1)
				}
				return nil
			}
		}
		cases = append(cases, plDamage{
			name:  fmt.Sprintf("WAL %s byte %d ^ %#x (last record at %d)", seg, i, mask, lastStart),
			files: map[string][]byte{seg: b},
			check: check,
		})
	}
	opened, refused := plDamageOS(t, w, tmpl, cases)
	t.Logf("WAL segment (%d bytes): %d flips cut the torn last record, %d refused with ErrCorruption", len(orig), opened, refused)
}

// plReadFile returns the content of path in fs.
func plReadFile(fs vfs.FS, path string) ([]byte, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
