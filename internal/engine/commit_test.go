package engine

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/inmem-db/inmem/occ"
	"github.com/inmem-db/inmem/skiplist"
	"github.com/inmem-db/inmem/wal"
)

// stepGuard admits a commit as a step of sc at time t, as a run's guard
// does.
type stepGuard struct {
	sc *Scope
	t  int64
}

func (g stepGuard) Admit(v uint64) error {
	g.sc.ApplyStep(v, g.t)
	return nil
}

type logged struct {
	typ     byte
	version uint64
	time    int64
	writes  []string
}

// walRecords reads back every record of the log in dir.
func walRecords(t *testing.T, fs vfs.FS, dir string) []logged {
	t.Helper()
	var out []logged
	_, err := wal.Read(fs, dir, 1, func(typ byte, p []byte) error {
		r := logged{typ: typ}
		ts, err := DecodeBatch(typ, p, func(v uint64, k, val []byte) error {
			r.version = v
			r.writes = append(r.writes, fmt.Sprintf("%s=%x", k, val))
			return nil
		})
		r.time = ts
		out = append(out, r)
		return err
	})
	require.NoError(t, err)
	return out
}

// TestCommitLogsTheRecord: a commit's WAL record holds its version, the
// step time its guard gave it (0 when the commit is no step of a run, or
// is a shared scope's), and each write as stored, a put's header and value
// joined. Publish runs AfterCommit once per logged commit, and in Strict
// mode acknowledges only what is durable.
func TestCommitLogsTheRecord(t *testing.T) {
	for _, mode := range []wal.Mode{wal.Batched, wal.Strict} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			fs := vfs.NewMemFS(1)
			require.NoError(t, fs.MkdirAll("wal"))
			log, err := wal.Create(wal.Options{FS: fs, Dir: "wal", Mode: mode, Interval: time.Millisecond, MaxPending: 64}, 1)
			require.NoError(t, err)
			s, err := NewStore()
			require.NoError(t, err)
			s.Log, s.Strict = log, mode == wal.Strict
			after := 0
			s.AfterCommit = func() { after++ }
			run, shared := &Scope{}, &Scope{Shared: true}

			v1, err := s.PutBlind(run, scopeKey(1, "k"), []byte{0}, []byte("put"), stepGuard{run, 1234})
			require.NoError(t, err)
			ws := []Write{{Key: scopeKey(1, "a"), Val: []byte{0, 'x'}}, {Key: scopeKey(1, "b"), Val: Tombstone}}
			v2, err := s.Commit(run, s.Current(), ws, nil, make([]uint64, 2), make([]skiplist.Splice, 2),
				&occ.Txn{Snapshot: v1, Writes: make([]occ.Write, 2)}, nil, 0) // no step: not the run's guard
			require.NoError(t, err)
			v3, err := s.PutBlind(shared, scopeKey(0, "s"), []byte{0}, []byte("sh"), stepGuard{shared, 99})
			require.NoError(t, err)
			require.Equal(t, 3, after)
			var read vfs.FS = fs
			if mode == wal.Strict {
				// What a power loss now keeps: every acknowledged commit.
				read = fs.CrashClone()
				_ = log.Close() // fails: the crashed fs takes no more writes
			} else {
				require.NoError(t, log.Close())
			}

			require.Equal(t, []logged{
				{RecBatchTimed, v1, 1234, []string{fmt.Sprintf("%s=%x", scopeKey(1, "k"), "\x00put")}},
				{RecBatchTimed, v2, 0, []string{fmt.Sprintf("%s=%x", scopeKey(1, "a"), "\x00x"), fmt.Sprintf("%s=%x", scopeKey(1, "b"), Tombstone)}},
				{RecBatchTimed, v3, 0, []string{fmt.Sprintf("%s=%x", scopeKey(0, "s"), "\x00sh")}},
			}, walRecords(t, read, "wal"))
		})
	}
}

// heldSyncFS holds every fsync of segment 1 while hold is set, until
// release is closed; entered receives once per held fsync.
type heldSyncFS struct {
	vfs.FS
	hold    atomic.Bool
	entered chan struct{}
	release chan struct{}
}

type heldSyncFile struct {
	vfs.File
	fs *heldSyncFS
}

func (f heldSyncFile) Sync() error {
	if f.fs.hold.Load() {
		f.fs.entered <- struct{}{}
		<-f.fs.release
	}
	return f.File.Sync()
}

func (h *heldSyncFS) Create(name string) (vfs.File, error) {
	f, err := h.FS.Create(name)
	if err != nil || filepath.Base(name) != wal.SegmentName(1) {
		return f, err
	}
	return heldSyncFile{f, h}, nil
}

// TestStrictVisibleOnlyOnceDurable: in Strict mode no commit is visible, to
// readers or to the oracle, while the fsync that carries it has not
// returned, even when commits appended after it are linked and waiting;
// once it returns, every commit is visible by the time it is acknowledged.
func TestStrictVisibleOnlyOnceDurable(t *testing.T) {
	fs := &heldSyncFS{FS: vfs.NewMemFS(1), entered: make(chan struct{}, 16), release: make(chan struct{})}
	require.NoError(t, fs.MkdirAll("wal"))
	log, err := wal.Create(wal.Options{FS: fs, Dir: "wal", Mode: wal.Strict}, 1)
	require.NoError(t, err)
	var once sync.Once
	let := func() {
		once.Do(func() {
			fs.hold.Store(false)
			close(fs.release)
		})
	}
	defer log.Close()
	defer let() // a failed check must not leave the syncer held
	s, err := NewStore()
	require.NoError(t, err)
	s.Log, s.Strict = log, true
	s.AfterCommit = func() {}
	fs.hold.Store(true)

	const n = 4
	var sc Scope
	errs := make(chan error, n)
	for i := range n {
		go func() {
			v, err := s.PutBlind(&sc, scopeKey(1, fmt.Sprint(i)), []byte{0}, []byte("v"), nil)
			if err == nil && s.Oracle.Visible() < v {
				err = fmt.Errorf("commit %d acknowledged before it is visible (%d)", v, s.Oracle.Visible())
			}
			errs <- err
		}()
	}
	<-fs.entered // the first group's fsync has started and is held
	for s.Oracle.Last() < n {
		runtime.Gosched() // the others take their versions and queue behind it
	}
	require.Zero(t, s.Oracle.Visible(), "nothing is visible while its fsync is held")
	g, snap := s.ReadAt()
	for i := range n {
		_, _, ok := g.Get(scopeKey(1, fmt.Sprint(i)), snap, nil)
		require.False(t, ok)
	}
	let()
	for range n {
		require.NoError(t, <-errs)
	}
	require.Equal(t, uint64(n), s.Oracle.Visible())
}

// TestPublishChecksReclaimEveryN: the reclaim hook runs on every
// ReclaimCheckEvery-th version, and only then.
func TestPublishChecksReclaimEveryN(t *testing.T) {
	s, err := NewStore()
	require.NoError(t, err)
	var at []uint64
	s.ReclaimCheck = func() { at = append(at, s.Oracle.Visible()) }
	var sc Scope
	for i := range 2*ReclaimCheckEvery + 1 {
		put(t, s, &sc, scopeKey(1, fmt.Sprint(i)), live, "v")
	}
	require.Equal(t, []uint64{ReclaimCheckEvery, 2 * ReclaimCheckEvery}, at)
}

// TestLoaderLinksEverything: entries added in any order, more than one
// batch of them, are all linked once Finish returns, each at its version;
// secondary-index entries stay out of the point index.
func TestLoaderLinksEverything(t *testing.T) {
	g, err := NewGeneration()
	require.NoError(t, err)
	ld := NewLoader(g.List)
	const n = 3*loadBatch + 7
	for i := n - 1; i >= 0; i-- {
		val := []byte{0, byte(i)}
		if i%3 == 0 {
			val[0] = FlagScanOnly
		}
		require.NoError(t, ld.Add(scopeKey(1, fmt.Sprintf("%05d", i)), uint64(i+1), val))
	}
	ld.Finish()
	it := g.List.Iter()
	i := 0
	for it.First(); it.Valid(); it.Next() {
		require.Equal(t, string(scopeKey(1, fmt.Sprintf("%05d", i))), string(it.Key()))
		require.Equal(t, uint64(i+1), it.Version())
		require.Equal(t, i%3 == 0, it.Unindexed(), "entry %d", i)
		_, _, found := g.List.Get(it.Key(), ^uint64(0))
		require.Equal(t, i%3 != 0, found, "entry %d: only indexed entries have a point read", i)
		i++
	}
	require.Equal(t, n, i)
}

// TestRebuildKeepsWhatTheRulesSay: a rebuild copies per scope what its
// rule keeps (everything; or every version above the horizon and the
// newest at or below it, without a dead one when DropDead), keeps
// unindexed entries unindexed, and misses no commit made while it copies.
func TestRebuildKeepsWhatTheRulesSay(t *testing.T) {
	s, err := NewStore()
	require.NoError(t, err)
	var a, b Scope
	ka, kb := func(k string) []byte { return scopeKey(1, k) }, func(k string) []byte { return scopeKey(2, k) }
	for i := range 3 {
		put(t, s, &a, ka("x"), live, fmt.Sprint("a", i))
		put(t, s, &b, kb("x"), live, fmt.Sprint("b", i))
	}
	put(t, s, &b, kb("gone"), live, "g")
	put(t, s, &b, kb("gone"), Tombstone, "")
	put(t, s, &b, kb("ix"), []byte{FlagScanOnly}, "")
	horizon := s.Oracle.Visible()

	// Writers keep committing while the copy runs: their entries are
	// caught up.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	var during []string
	go func() {
		defer wg.Done()
		var w Scope
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k := fmt.Sprint("w", i)
			put(t, s, &w, scopeKey(3, k), live, "v")
			during = append(during, k)
		}
	}()
	st, err := s.RebuildGeneration(func(uint64) (map[string]KeepRule, KeepRule) {
		return map[string]KeepRule{string(scopeKey(1, "")): {}}, KeepRule{Horizon: horizon, DropDead: true}
	}, nil)
	close(stop)
	wg.Wait()
	require.NoError(t, err)

	versions := func(key []byte) int {
		n := 0
		it := s.Current().List.Iter()
		for it.SeekGE(key, ^uint64(0)); it.Valid() && string(it.Key()) == string(key); it.Next() {
			n++
		}
		return n
	}
	require.Equal(t, 3, versions(ka("x")), "a scope kept whole")
	require.Equal(t, 1, versions(kb("x")), "the newest at or below the horizon")
	require.Equal(t, 0, versions(kb("gone")), "a dead newest one dropped")
	require.Equal(t, 1, versions(kb("ix")))
	it := s.Current().List.Iter()
	it.SeekGE(kb("ix"), ^uint64(0))
	require.True(t, it.Unindexed())
	g, snap := s.ReadAt()
	for _, k := range during {
		_, _, ok := g.Get(scopeKey(3, k), snap, nil)
		require.True(t, ok, "a write made during the rebuild: %s", k)
	}
	require.EqualValues(t, 2+2, st.Dropped)
	require.Positive(t, st.Kept)
	require.Nil(t, s.rebuild.Load(), "no rebuild left in progress")
}
