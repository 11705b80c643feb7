package vfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// writeFile creates name with data, syncing the file if sync is set.
func writeFile(t *testing.T, fsys FS, name string, data []byte, sync bool) {
	t.Helper()
	f, err := fsys.Create(name)
	require.NoError(t, err)
	_, err = f.Write(data)
	require.NoError(t, err)
	if sync {
		require.NoError(t, f.Sync())
	}
	require.NoError(t, f.Close())
}

// appendFile appends data to name, syncing if sync is set.
func appendFile(t *testing.T, fsys FS, name string, data []byte, sync bool) {
	t.Helper()
	f, err := fsys.OpenAppend(name)
	require.NoError(t, err)
	_, err = f.Write(data)
	require.NoError(t, err)
	if sync {
		require.NoError(t, f.Sync())
	}
	require.NoError(t, f.Close())
}

func readFile(fsys FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func mustRead(t *testing.T, fsys FS, name string) []byte {
	t.Helper()
	b, err := readFile(fsys, name)
	require.NoError(t, err)
	return b
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func TestMemFSSyncedSurvivesCrash(t *testing.T) {
	for seed := int64(0); seed < 50; seed++ {
		m := NewMemFS(seed)
		m.TornWrites = true
		require.NoError(t, m.MkdirAll("/db/wal"))
		data := pattern(3000, 1)
		writeFile(t, m, "/db/wal/000001.log", data, true)
		require.NoError(t, m.SyncDir("/db/wal"))

		c := m.CrashClone()
		require.Equal(t, data, mustRead(t, c, "/db/wal/000001.log"))
		names, err := c.List("/db/wal")
		require.NoError(t, err)
		require.Equal(t, []string{"000001.log"}, names)
		names, err = c.List("/db")
		require.NoError(t, err)
		require.Equal(t, []string{"wal"}, names)
	}
}

func TestMemFSUnsyncedKeepFraction(t *testing.T) {
	durable := pattern(1000, 1)
	extra := pattern(2000, 9)
	setup := func(seed int64) *MemFS {
		m := NewMemFS(seed)
		writeFile(t, m, "d/f", durable, true)
		require.NoError(t, m.SyncDir("d"))
		appendFile(t, m, "d/f", extra, false)
		return m
	}

	m := setup(1)
	m.SetKeepUnsynced(0)
	require.Equal(t, durable, mustRead(t, m.CrashClone(), "d/f"))

	m = setup(1)
	m.SetKeepUnsynced(1)
	require.Equal(t, append(clone(durable), extra...), mustRead(t, m.CrashClone(), "d/f"))

	m = setup(1)
	m.SetKeepUnsynced(0.5)
	require.Equal(t, append(clone(durable), extra[:1000]...), mustRead(t, m.CrashClone(), "d/f"))

	// Random: always durable + a prefix of the unsynced bytes, and over many
	// seeds we see none, all and something in between.
	full := append(clone(durable), extra...)
	var sawNone, sawAll, sawPart bool
	for seed := int64(0); seed < 200; seed++ {
		got := mustRead(t, setup(seed).CrashClone(), "d/f")
		require.GreaterOrEqual(t, len(got), len(durable))
		require.Equal(t, full[:len(got)], got)
		switch len(got) {
		case len(durable):
			sawNone = true
		case len(full):
			sawAll = true
		default:
			sawPart = true
		}
	}
	require.True(t, sawNone && sawAll && sawPart)
}

func TestMemFSUnsyncedNewFile(t *testing.T) {
	// Synced data, dir synced, but never synced data: the file is there but
	// empty with keep 0.
	m := NewMemFS(3)
	m.SetKeepUnsynced(0)
	writeFile(t, m, "a", []byte("hello"), false)
	require.NoError(t, m.SyncDir("."))
	c := m.CrashClone()
	require.Empty(t, mustRead(t, c, "a"))
}

func TestMemFSRewrittenFile(t *testing.T) {
	old := pattern(1500, 3)
	nw := pattern(700, 99)
	setup := func(seed int64) *MemFS {
		m := NewMemFS(seed)
		writeFile(t, m, "f", old, true)
		require.NoError(t, m.SyncDir("."))
		writeFile(t, m, "f", nw, false) // Create truncates the same file
		return m
	}
	m := setup(0)
	m.SetKeepUnsynced(0)
	require.Equal(t, old, mustRead(t, m.CrashClone(), "f"))
	m = setup(0)
	m.SetKeepUnsynced(1)
	require.Equal(t, nw, mustRead(t, m.CrashClone(), "f"))

	var sawOld, sawNew bool
	for seed := int64(0); seed < 100; seed++ {
		got := mustRead(t, setup(seed).CrashClone(), "f")
		if bytes.Equal(got, old) {
			sawOld = true
			continue
		}
		require.LessOrEqual(t, len(got), len(nw))
		require.Equal(t, nw[:len(got)], got)
		sawNew = true
	}
	require.True(t, sawOld && sawNew)

	// An overwrite in the middle of durable data: prefix before it is kept.
	m = NewMemFS(5)
	writeFile(t, m, "g", old, true)
	require.NoError(t, m.SyncDir("."))
	f, err := m.OpenAppend("g")
	require.NoError(t, err)
	require.NoError(t, f.Truncate(1000))
	_, err = f.Write([]byte("tail"))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	cur := append(clone(old[:1000]), "tail"...)
	for seed := int64(0); seed < 50; seed++ {
		m2 := NewMemFS(seed)
		writeFile(t, m2, "g", old, true)
		require.NoError(t, m2.SyncDir("."))
		f, err := m2.OpenAppend("g")
		require.NoError(t, err)
		require.NoError(t, f.Truncate(1000))
		_, err = f.Write([]byte("tail"))
		require.NoError(t, err)
		got := mustRead(t, m2.CrashClone(), "g")
		if !bytes.Equal(got, old) {
			require.GreaterOrEqual(t, len(got), 1000)
			require.Equal(t, cur[:len(got)], got)
		}
	}
	m.SetKeepUnsynced(1)
	require.Equal(t, cur, mustRead(t, m.CrashClone(), "g"))

	// An in-place overwrite inside durable data, without truncation: a Create
	// handle whose offset lies below the durable size.
	overwrite := func(keep float64) []byte {
		m := NewMemFS(11)
		m.SetKeepUnsynced(keep)
		h1, err := m.Create("h")
		require.NoError(t, err)
		_, err = h1.Write(bytes.Repeat([]byte("a"), 1000))
		require.NoError(t, err)
		appendFile(t, m, "h", bytes.Repeat([]byte("b"), 1000), true)
		require.NoError(t, m.SyncDir("."))
		_, err = h1.Write([]byte("XXXX")) // at offset 1000
		require.NoError(t, err)
		return mustRead(t, m.CrashClone(), "h")
	}
	want := append(bytes.Repeat([]byte("a"), 1000), bytes.Repeat([]byte("b"), 1000)...)
	require.Equal(t, want, overwrite(0))
	copy(want[1000:], "XXXX")
	require.Equal(t, want, overwrite(1))
}

func TestMemFSCreateWithoutSyncDirVanishes(t *testing.T) {
	m := NewMemFS(1)
	m.SetKeepUnsynced(1)
	require.NoError(t, m.MkdirAll("dir"))
	writeFile(t, m, "dir/new", []byte("data"), true) // data synced, name not
	c := m.CrashClone()
	_, err := c.Open("dir/new")
	require.ErrorIs(t, err, fs.ErrNotExist)
	names, err := c.List("dir")
	require.NoError(t, err)
	require.Empty(t, names)

	m = NewMemFS(1)
	writeFile(t, m, "dir/new", []byte("data"), true)
	require.NoError(t, m.SyncDir("dir"))
	require.Equal(t, []byte("data"), mustRead(t, m.CrashClone(), "dir/new"))

	// SyncDir of another directory doesn't help.
	m = NewMemFS(1)
	require.NoError(t, m.MkdirAll("other"))
	writeFile(t, m, "dir/new", []byte("data"), true)
	require.NoError(t, m.SyncDir("other"))
	require.NoError(t, m.SyncDir("."))
	_, err = m.CrashClone().Open("dir/new")
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestMemFSRenameDurability(t *testing.T) {
	setup := func() *MemFS {
		m := NewMemFS(7)
		writeFile(t, m, "db/CURRENT", []byte("v1"), true)
		require.NoError(t, m.SyncDir("db"))
		writeFile(t, m, "db/CURRENT.tmp", []byte("v2"), true)
		require.NoError(t, m.Rename("db/CURRENT.tmp", "db/CURRENT"))
		require.Equal(t, []byte("v2"), mustRead(t, m, "db/CURRENT"))
		return m
	}
	// Without SyncDir: the rename (and the tmp creation) revert.
	c := setup().CrashClone()
	require.Equal(t, []byte("v1"), mustRead(t, c, "db/CURRENT"))
	names, err := c.List("db")
	require.NoError(t, err)
	require.Equal(t, []string{"CURRENT"}, names)

	// With SyncDir: it sticks.
	m := setup()
	require.NoError(t, m.SyncDir("db"))
	c = m.CrashClone()
	require.Equal(t, []byte("v2"), mustRead(t, c, "db/CURRENT"))
	names, err = c.List("db")
	require.NoError(t, err)
	require.Equal(t, []string{"CURRENT"}, names)

	// Tmp synced in the dir, then renamed without sync: the tmp comes back.
	m = NewMemFS(7)
	writeFile(t, m, "db/CURRENT", []byte("v1"), true)
	writeFile(t, m, "db/CURRENT.tmp", []byte("v2"), true)
	require.NoError(t, m.SyncDir("db"))
	require.NoError(t, m.Rename("db/CURRENT.tmp", "db/CURRENT"))
	c = m.CrashClone()
	require.Equal(t, []byte("v1"), mustRead(t, c, "db/CURRENT"))
	require.Equal(t, []byte("v2"), mustRead(t, c, "db/CURRENT.tmp"))
}

func TestMemFSRemoveDurability(t *testing.T) {
	setup := func() *MemFS {
		m := NewMemFS(9)
		m.SetKeepUnsynced(1) // unsynced bytes would show if not dropped
		writeFile(t, m, "x/old.sst", []byte("durable"), true)
		require.NoError(t, m.SyncDir("x"))
		appendFile(t, m, "x/old.sst", []byte("+unsynced"), false)
		require.NoError(t, m.Remove("x/old.sst"))
		_, err := m.Open("x/old.sst")
		require.ErrorIs(t, err, fs.ErrNotExist)
		return m
	}
	c := setup().CrashClone()
	require.Equal(t, []byte("durable+unsynced"), mustRead(t, c, "x/old.sst"))

	m := setup()
	m.SetKeepUnsynced(0)
	require.Equal(t, []byte("durable"), mustRead(t, m.CrashClone(), "x/old.sst"))

	m = setup()
	require.NoError(t, m.SyncDir("x"))
	_, err := m.CrashClone().Open("x/old.sst")
	require.ErrorIs(t, err, fs.ErrNotExist)

	// Remove, then re-create under the same name and sync the data but not the
	// directory: the old file comes back.
	m = NewMemFS(9)
	writeFile(t, m, "f", []byte("old"), true)
	require.NoError(t, m.SyncDir("."))
	require.NoError(t, m.Remove("f"))
	writeFile(t, m, "f", []byte("new"), true)
	require.Equal(t, []byte("old"), mustRead(t, m.CrashClone(), "f"))
}

func TestMemFSTornSectors(t *testing.T) {
	durable := pattern(1000, 1)
	extra := pattern(3000, 50)
	full := append(clone(durable), extra...)
	garbage := 0
	for seed := int64(0); seed < 400; seed++ {
		m := NewMemFS(seed)
		m.TornWrites = true
		writeFile(t, m, "f", durable, true)
		require.NoError(t, m.SyncDir("."))
		appendFile(t, m, "f", extra, false)
		got := mustRead(t, m.CrashClone(), "f")
		require.GreaterOrEqual(t, len(got), len(durable))
		require.LessOrEqual(t, len(got), len(full))
		require.Equal(t, durable, got[:len(durable)], "durable bytes must never be torn")
		// Bytes that differ lie in the last sector of the kept range, past the
		// durable data.
		lo := (len(got) - 1) / sectorSize * sectorSize
		if lo < len(durable) {
			lo = len(durable)
		}
		require.Equal(t, full[:lo], got[:lo])
		if !bytes.Equal(full[lo:len(got)], got[lo:]) {
			garbage++
			require.Less(t, len(got), len(full), "garbage only when unsynced data is kept in part")
		}
	}
	require.Positive(t, garbage)

	// Without TornWrites, never garbage.
	for seed := int64(0); seed < 100; seed++ {
		m := NewMemFS(seed)
		writeFile(t, m, "f", durable, true)
		require.NoError(t, m.SyncDir("."))
		appendFile(t, m, "f", extra, false)
		got := mustRead(t, m.CrashClone(), "f")
		require.Equal(t, full[:len(got)], got)
	}
}

func TestMemFSCrashCloneDeterministic(t *testing.T) {
	run := func() []byte {
		m := NewMemFS(42)
		m.TornWrites = true
		for i := 0; i < 5; i++ {
			writeFile(t, m, fmt.Sprintf("f%d", i), pattern(100, byte(i)), i%2 == 0)
			appendFile(t, m, fmt.Sprintf("f%d", i), pattern(2000, byte(i+1)), false)
		}
		require.NoError(t, m.SyncDir("."))
		c := m.CrashClone()
		var all []byte
		for i := 0; i < 5; i++ {
			all = append(all, mustRead(t, c, fmt.Sprintf("f%d", i))...)
			all = append(all, '|')
		}
		return all
	}
	require.Equal(t, run(), run())
}

func TestMemFSCrashedIsDead(t *testing.T) {
	m := NewMemFS(1)
	writeFile(t, m, "a", []byte("x"), true)
	f, err := m.Open("a")
	require.NoError(t, err)
	l, err := m.Lock("LOCK")
	require.NoError(t, err)
	c := m.CrashClone()
	require.True(t, m.Crashed())
	require.False(t, c.Crashed())

	_, err = m.Create("b")
	require.ErrorIs(t, err, ErrCrashed)
	_, err = m.Open("a")
	require.ErrorIs(t, err, ErrCrashed)
	_, err = m.List(".")
	require.ErrorIs(t, err, ErrCrashed)
	require.ErrorIs(t, m.SyncDir("."), ErrCrashed)
	_, err = f.Read(make([]byte, 1))
	require.ErrorIs(t, err, ErrCrashed)
	require.ErrorIs(t, f.Close(), ErrCrashed)
	require.ErrorIs(t, l.Close(), ErrCrashed)
	_, err = m.Lock("LOCK2")
	require.ErrorIs(t, err, ErrCrashed)

	// The clone is a fresh, live process: no locks held, ops at zero.
	require.Equal(t, 0, c.Ops())
	l2, err := c.Lock("LOCK")
	require.NoError(t, err)
	require.NoError(t, l2.Close())
}

// workload is a small engine-like sequence of counted operations: it writes a
// log of records, syncing each, and publishes a manifest by rename. acked
// receives each durable step once it is acknowledged. It stops at the first
// error.
func workload(fsys FS, acked func(step string)) error {
	if err := fsys.MkdirAll("db"); err != nil { // op 1
		return err
	}
	f, err := fsys.Create("db/log") // op 2
	if err != nil {
		return err
	}
	if err := fsys.SyncDir("db"); err != nil { // op 3
		return err
	}
	for i := 0; i < 3; i++ {
		if _, err := f.Write([]byte(fmt.Sprintf("rec%d;", i))); err != nil { // ops 4,6,8
			return err
		}
		if err := f.Sync(); err != nil { // ops 5,7,9
			return err
		}
		acked(fmt.Sprintf("rec%d", i))
	}
	if err := f.Close(); err != nil {
		return err
	}
	tmp, err := fsys.Create("db/MANIFEST.tmp") // op 10
	if err != nil {
		return err
	}
	if _, err := tmp.Write([]byte("manifest-v1")); err != nil { // op 11
		return err
	}
	if err := tmp.Sync(); err != nil { // op 12
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := fsys.Rename("db/MANIFEST.tmp", "db/MANIFEST"); err != nil { // op 13
		return err
	}
	if err := fsys.SyncDir("db"); err != nil { // op 14
		return err
	}
	acked("manifest")
	a, err := fsys.OpenAppend("db/log") // op 15
	if err != nil {
		return err
	}
	acked("truncating")
	if err := a.Truncate(0); err != nil { // op 16
		return err
	}
	if err := a.Sync(); err != nil { // op 17
		return err
	}
	acked("truncated")
	if err := a.Close(); err != nil {
		return err
	}
	if err := fsys.Remove("db/log"); err != nil { // op 18
		return err
	}
	if err := fsys.SyncDir("db"); err != nil { // op 19
		return err
	}
	acked("removed")
	return nil
}

const workloadOps = 19

func TestMemFSOpsCount(t *testing.T) {
	m := NewMemFS(1)
	require.NoError(t, workload(m, func(string) {}))
	require.Equal(t, workloadOps, m.Ops())

	// Uncounted operations.
	m = NewMemFS(1)
	writeFile(t, m, "a", []byte("abc"), false) // create, write
	require.Equal(t, 2, m.Ops())
	f, err := m.Open("a")
	require.NoError(t, err)
	_, err = f.Read(make([]byte, 2))
	require.NoError(t, err)
	_, err = f.ReadAt(make([]byte, 2), 1)
	require.NoError(t, err)
	_, err = f.Size()
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, err = m.List(".")
	require.NoError(t, err)
	l, err := m.Lock("LOCK")
	require.NoError(t, err)
	require.NoError(t, l.Close())
	require.Equal(t, 2, m.Ops())
	// Failed ops count too.
	_, err = m.OpenAppend("missing")
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorIs(t, m.Remove("missing"), fs.ErrNotExist)
	require.Equal(t, 4, m.Ops())
}

// TestMemFSPreallocate: a reservation is a counted operation that can fail
// or crash like a write, changes no content, and a Truncate gives back
// what lies past the new end.
func TestMemFSPreallocate(t *testing.T) {
	m := NewMemFS(1)
	f, err := m.Create("seg")
	require.NoError(t, err)
	require.NoError(t, m.SyncDir("."))
	_, err = f.Write([]byte("abc"))
	require.NoError(t, err)
	require.NoError(t, f.Preallocate(100))
	require.Equal(t, 4, m.Ops())
	require.Equal(t, int64(100), must(m.Allocated("seg")))
	require.Equal(t, int64(3), must(f.Size()))
	require.Error(t, f.Preallocate(-1))
	require.NoError(t, f.Truncate(3))
	require.Equal(t, int64(3), must(m.Allocated("seg")), "truncate frees the blocks past the end")
	_, err = m.Allocated("missing")
	require.ErrorIs(t, err, fs.ErrNotExist)

	m.FailAfter(1, nil)
	require.ErrorIs(t, f.Preallocate(200), ErrInjected)
	require.Equal(t, int64(3), must(m.Allocated("seg")), "a failed reservation has no effect")
	m.FailAfter(0, nil)

	require.NoError(t, f.Sync())
	m.CrashAfter(1)
	require.ErrorIs(t, f.Preallocate(200), ErrCrashed)
	c := m.CrashClone()
	require.Equal(t, []byte("abc"), mustRead(t, c, "seg"))
	require.Equal(t, int64(3), must(c.Allocated("seg")), "a crash forgets reservations")
}

func TestMemFSFailAfterEveryOp(t *testing.T) {
	myErr := errors.New("disk on fire")
	for k := 1; k <= workloadOps; k++ {
		m := NewMemFS(int64(k))
		m.FailAfter(k, myErr)
		err := workload(m, func(string) {})
		require.ErrorIs(t, err, myErr, "k=%d", k)
		require.Equal(t, k, m.Ops(), "k=%d: the k-th op fails", k)
		require.Contains(t, err.Error(), "db", "k=%d: error names the path", k)
		// Every later counted op fails too; uncounted ones don't.
		require.ErrorIs(t, m.MkdirAll("zzz"), myErr)
		_, err = m.Create("zzz/f")
		require.ErrorIs(t, err, myErr)
		_, err = m.List(".")
		require.NoError(t, err)
		// Clearing the fault restores service.
		m.FailAfter(0, nil)
		require.NoError(t, m.MkdirAll("zzz"))
	}

	// Default error and op name in the message.
	m := NewMemFS(1)
	m.FailAfter(2, nil)
	f, err := m.Create("a")
	require.NoError(t, err)
	_, err = f.Write([]byte("x"))
	require.ErrorIs(t, err, ErrInjected)
	require.Contains(t, err.Error(), "write")
	require.Contains(t, err.Error(), "a")
	err = m.Rename("a", "b")
	require.ErrorIs(t, err, ErrInjected)
	require.Contains(t, err.Error(), "rename")
	// The failed ops had no effect.
	require.Equal(t, int64(0), must(f.Size()))
	require.Equal(t, []string{"a"}, must(m.List(".")))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestMemFSCrashAfterEveryOp(t *testing.T) {
	for k := 1; k <= workloadOps+1; k++ {
		for seed := int64(0); seed < 20; seed++ {
			m := NewMemFS(seed*100 + int64(k))
			m.TornWrites = true
			m.CrashAfter(k)
			acked := map[string]bool{}
			err := workload(m, func(s string) { acked[s] = true })
			if k <= workloadOps {
				require.ErrorIs(t, err, ErrCrashed, "k=%d", k)
				require.True(t, m.Crashed())
				require.Equal(t, k, m.Ops())
				_, err = m.List(".")
				require.ErrorIs(t, err, ErrCrashed)
			} else {
				require.NoError(t, err)
				require.False(t, m.Crashed())
			}
			c := m.CrashClone()

			// Recovery invariants: acknowledged steps survive.
			log, logErr := readFile(c, "db/log")
			switch {
			case acked["removed"]:
				require.ErrorIs(t, logErr, fs.ErrNotExist, "k=%d", k)
			case acked["truncated"]:
				require.NoError(t, logErr)
				require.Empty(t, log, "k=%d", k)
			case acked["truncating"]:
				require.NoError(t, logErr)
				require.True(t, bytes.HasPrefix([]byte("rec0;rec1;rec2;"), log), "k=%d log=%q", k, log)
			case acked["rec0"]:
				require.NoError(t, logErr, "k=%d", k)
				var want string
				for i := 0; i < 3 && acked[fmt.Sprintf("rec%d", i)]; i++ {
					want += fmt.Sprintf("rec%d;", i)
				}
				require.True(t, bytes.HasPrefix(log, []byte(want)), "k=%d log=%q want prefix %q", k, log, want)
			}
			if acked["manifest"] {
				require.Equal(t, []byte("manifest-v1"), mustRead(t, c, "db/MANIFEST"), "k=%d", k)
			} else {
				// MANIFEST may exist only if complete (rename is atomic).
				if b, err := readFile(c, "db/MANIFEST"); err == nil {
					require.Equal(t, []byte("manifest-v1"), b)
				}
			}
			// The clone is usable: the workload can run again from scratch.
			if err := c.Remove("db/log"); err != nil {
				require.ErrorIs(t, err, fs.ErrNotExist)
			}
			require.NoError(t, workload(c, func(string) {}))
		}
	}
}

func TestMemFSErrors(t *testing.T) {
	m := NewMemFS(1)
	_, err := m.Open("nope")
	require.ErrorIs(t, err, fs.ErrNotExist)
	_, err = m.OpenAppend("nope")
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorIs(t, m.Remove("nope"), fs.ErrNotExist)
	require.ErrorIs(t, m.Rename("nope", "x"), fs.ErrNotExist)
	_, err = m.List("nodir")
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorIs(t, m.SyncDir("nodir"), fs.ErrNotExist)

	writeFile(t, m, "d/f", []byte("x"), false)
	_, err = m.Create("d")
	require.Error(t, err, "create over a directory")
	require.Error(t, m.MkdirAll("d/f"), "mkdir over a file")
	_, err = m.Create("d/f/g")
	require.Error(t, err, "file as a parent")
	require.Error(t, m.Remove("d"), "non-empty dir")
	require.NoError(t, m.Remove("d/f"))
	require.NoError(t, m.Remove("d"))
	_, err = m.List("d")
	require.ErrorIs(t, err, fs.ErrNotExist)

	// Read-only handles don't write.
	writeFile(t, m, "r", []byte("x"), false)
	f, err := m.Open("r")
	require.NoError(t, err)
	_, err = f.Write([]byte("y"))
	require.Error(t, err)
	require.Error(t, f.Truncate(0))
	require.NoError(t, f.Close())
	require.Equal(t, []byte("x"), mustRead(t, m, "r"))

	// Paths are cleaned.
	writeFile(t, m, "./a/../b//c", []byte("z"), false)
	require.Equal(t, []byte("z"), mustRead(t, m, "b/c"))
	require.Equal(t, []string{"b", "r"}, must(m.List(".")))
}

func TestMemFSOpenHandleSurvivesRemove(t *testing.T) {
	m := NewMemFS(1)
	writeFile(t, m, "f", []byte("abc"), false)
	f, err := m.OpenAppend("f")
	require.NoError(t, err)
	require.NoError(t, m.Remove("f"))
	_, err = f.Write([]byte("d"))
	require.NoError(t, err)
	b := make([]byte, 4)
	n, err := f.ReadAt(b, 0)
	require.NoError(t, err)
	require.Equal(t, "abcd", string(b[:n]))
	require.NoError(t, f.Close())
	_, err = m.Open("f")
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestMemFSConcurrent(t *testing.T) {
	m := NewMemFS(1)
	require.NoError(t, m.MkdirAll("c"))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			name := fmt.Sprintf("c/f%d", g)
			f, err := m.Create(name)
			if err != nil {
				t.Error(err)
				return
			}
			for i := 0; i < 100; i++ {
				if _, err := f.Write([]byte{byte(i)}); err != nil {
					t.Error(err)
				}
				if i%10 == 0 {
					if err := f.Sync(); err != nil {
						t.Error(err)
					}
					if err := m.SyncDir("c"); err != nil {
						t.Error(err)
					}
				}
				if _, err := m.List("c"); err != nil {
					t.Error(err)
				}
			}
			if err := f.Close(); err != nil {
				t.Error(err)
			}
		}(g)
	}
	wg.Wait()
	names := must(m.List("c"))
	require.Len(t, names, 8)
	c := m.CrashClone()
	require.Len(t, must(c.List("c")), 8)
}

// TestFSCommon runs the same checks against OS and MemFS where their
// semantics overlap.
func TestFSCommon(t *testing.T) {
	impls := []struct {
		name string
		new  func(t *testing.T) (FS, string)
	}{
		{"OS", func(t *testing.T) (FS, string) { return OS, t.TempDir() }},
		{"MemFS", func(t *testing.T) (FS, string) { return NewMemFS(1), "/tmp/memroot" }},
	}
	cases := []struct {
		name string
		run  func(t *testing.T, fsys FS, root string)
	}{
		{"CreateWriteRead", func(t *testing.T, fsys FS, root string) {
			require.NoError(t, fsys.MkdirAll(root))
			p := filepath.Join(root, "f")
			f, err := fsys.Create(p)
			require.NoError(t, err)
			n, err := f.Write([]byte("hello world"))
			require.NoError(t, err)
			require.Equal(t, 11, n)
			require.Equal(t, int64(11), must(f.Size()))
			// Create handle reads from its offset, which is at the end.
			_, err = f.Read(make([]byte, 1))
			require.ErrorIs(t, err, io.EOF)
			b := make([]byte, 5)
			n, err = f.ReadAt(b, 6)
			require.NoError(t, err)
			require.Equal(t, "world", string(b[:n]))
			n, err = f.ReadAt(b, 8)
			require.ErrorIs(t, err, io.EOF)
			require.Equal(t, "rld", string(b[:n]))
			_, err = f.ReadAt(b, 100)
			require.ErrorIs(t, err, io.EOF)
			require.NoError(t, f.Sync())
			require.NoError(t, f.Close())

			r, err := fsys.Open(p)
			require.NoError(t, err)
			b = make([]byte, 5)
			n, err = r.Read(b)
			require.NoError(t, err)
			require.Equal(t, "hello", string(b[:n]))
			n, err = r.Read(b)
			require.NoError(t, err)
			require.Equal(t, " worl", string(b[:n]))
			n, err = r.ReadAt(b[:2], 0) // doesn't move the offset
			require.NoError(t, err)
			require.Equal(t, "he", string(b[:n]))
			n, err = r.Read(b)
			require.NoError(t, err)
			require.Equal(t, "d", string(b[:n]))
			_, err = r.Read(b)
			require.ErrorIs(t, err, io.EOF)
			_, err = r.Write([]byte("x"))
			require.Error(t, err, "read-only")
			require.NoError(t, r.Close())
		}},
		{"CreateTruncatesAndWritesAtOffset", func(t *testing.T, fsys FS, root string) {
			require.NoError(t, fsys.MkdirAll(root))
			p := filepath.Join(root, "f")
			writeFile(t, fsys, p, []byte("0123456789"), true)
			f, err := fsys.Create(p)
			require.NoError(t, err)
			require.Equal(t, int64(0), must(f.Size()))
			_, err = f.Write([]byte("abcdef"))
			require.NoError(t, err)
			require.NoError(t, f.Truncate(3)) // offset stays at 6
			_, err = f.Write([]byte("XY"))
			require.NoError(t, err)
			require.NoError(t, f.Close())
			require.Equal(t, []byte("abc\x00\x00\x00XY"), mustRead(t, fsys, p))
		}},
		{"OpenAppend", func(t *testing.T, fsys FS, root string) {
			require.NoError(t, fsys.MkdirAll(root))
			p := filepath.Join(root, "log")
			_, err := fsys.OpenAppend(p)
			require.ErrorIs(t, err, fs.ErrNotExist)
			writeFile(t, fsys, p, []byte("abc"), true)
			f, err := fsys.OpenAppend(p)
			require.NoError(t, err)
			b := make([]byte, 2)
			n, err := f.Read(b) // reads start at 0
			require.NoError(t, err)
			require.Equal(t, "ab", string(b[:n]))
			_, err = f.Write([]byte("def")) // appends regardless of offset
			require.NoError(t, err)
			require.NoError(t, f.Truncate(4))
			_, err = f.Write([]byte("Z"))
			require.NoError(t, err)
			require.Equal(t, int64(5), must(f.Size()))
			require.NoError(t, f.Sync())
			require.NoError(t, f.Close())
			require.Equal(t, []byte("abcdZ"), mustRead(t, fsys, p))
		}},
		{"PreallocateKeepsSize", func(t *testing.T, fsys FS, root string) {
			require.NoError(t, fsys.MkdirAll(root))
			p := filepath.Join(root, "seg")
			f, err := fsys.Create(p)
			require.NoError(t, err)
			_, err = f.Write([]byte("head"))
			require.NoError(t, err)
			require.NoError(t, f.Preallocate(1<<20))
			require.Equal(t, int64(4), must(f.Size()), "the size stays the written size")
			_, err = f.Write([]byte("tail"))
			require.NoError(t, err)
			require.NoError(t, f.Sync())
			require.NoError(t, f.Preallocate(0))
			require.NoError(t, f.Close())
			require.Equal(t, []byte("headtail"), mustRead(t, fsys, p))
			r, err := fsys.Open(p)
			require.NoError(t, err)
			require.Error(t, r.Preallocate(1<<20), "read-only")
			require.NoError(t, r.Close())
			require.ErrorIs(t, r.Preallocate(1<<20), fs.ErrClosed)
		}},
		{"Closed", func(t *testing.T, fsys FS, root string) {
			require.NoError(t, fsys.MkdirAll(root))
			f, err := fsys.Create(filepath.Join(root, "f"))
			require.NoError(t, err)
			require.NoError(t, f.Close())
			_, err = f.Write([]byte("x"))
			require.ErrorIs(t, err, fs.ErrClosed)
			_, err = f.Read(make([]byte, 1))
			require.ErrorIs(t, err, fs.ErrClosed)
			_, err = f.ReadAt(make([]byte, 1), 0)
			require.ErrorIs(t, err, fs.ErrClosed)
			require.ErrorIs(t, f.Sync(), fs.ErrClosed)
			require.ErrorIs(t, f.Truncate(0), fs.ErrClosed)
			_, err = f.Size()
			require.ErrorIs(t, err, fs.ErrClosed)
			require.ErrorIs(t, f.Close(), fs.ErrClosed)
		}},
		{"RenameListRemove", func(t *testing.T, fsys FS, root string) {
			dir := filepath.Join(root, "a", "b")
			require.NoError(t, fsys.MkdirAll(dir))
			require.NoError(t, fsys.MkdirAll(dir)) // idempotent
			require.NoError(t, fsys.MkdirAll(filepath.Join(dir, "sub")))
			writeFile(t, fsys, filepath.Join(dir, "z"), []byte("z"), true)
			writeFile(t, fsys, filepath.Join(dir, "m"), []byte("m"), true)
			writeFile(t, fsys, filepath.Join(dir, "a.tmp"), []byte("new"), true)
			require.NoError(t, fsys.SyncDir(dir))
			require.Equal(t, []string{"a.tmp", "m", "sub", "z"}, must(fsys.List(dir)))
			require.Equal(t, []string{"b"}, must(fsys.List(filepath.Join(root, "a"))))

			// Rename replaces the target.
			require.NoError(t, fsys.Rename(filepath.Join(dir, "a.tmp"), filepath.Join(dir, "m")))
			require.NoError(t, fsys.SyncDir(dir))
			require.Equal(t, []string{"m", "sub", "z"}, must(fsys.List(dir)))
			require.Equal(t, []byte("new"), mustRead(t, fsys, filepath.Join(dir, "m")))
			require.ErrorIs(t, fsys.Rename(filepath.Join(dir, "a.tmp"), filepath.Join(dir, "q")), fs.ErrNotExist)

			require.NoError(t, fsys.Remove(filepath.Join(dir, "z")))
			require.ErrorIs(t, fsys.Remove(filepath.Join(dir, "z")), fs.ErrNotExist)
			_, err := fsys.Open(filepath.Join(dir, "z"))
			require.ErrorIs(t, err, fs.ErrNotExist)
			require.NoError(t, fsys.Remove(filepath.Join(dir, "sub")))
			require.Equal(t, []string{"m"}, must(fsys.List(dir)))

			_, err = fsys.List(filepath.Join(root, "missing"))
			require.ErrorIs(t, err, fs.ErrNotExist)
			require.NoError(t, fsys.MkdirAll(filepath.Join(root, "empty")))
			require.Empty(t, must(fsys.List(filepath.Join(root, "empty"))))
		}},
		{"Lock", func(t *testing.T, fsys FS, root string) {
			p := filepath.Join(root, "db", "LOCK")
			l, err := fsys.Lock(p)
			require.NoError(t, err)
			_, err = fsys.Lock(p)
			require.ErrorIs(t, err, ErrLocked)
			// Another name is independent.
			l2, err := fsys.Lock(filepath.Join(root, "db", "LOCK2"))
			require.NoError(t, err)
			require.NoError(t, l2.Close())
			require.Contains(t, must(fsys.List(filepath.Join(root, "db"))), "LOCK")
			require.NoError(t, l.Close())
			l, err = fsys.Lock(p)
			require.NoError(t, err)
			require.NoError(t, l.Close())
		}},
	}
	for _, impl := range impls {
		for _, c := range cases {
			t.Run(impl.name+"/"+c.name, func(t *testing.T) {
				fsys, root := impl.new(t)
				c.run(t, fsys, root)
			})
		}
	}
}
