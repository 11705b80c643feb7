package inmem

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/stretchr/testify/require"
)

// Damage to a cold file, through the database: every byte flipped in
// turn, and truncations. A read of the damaged run answers exactly as the
// pristine file did or fails with ErrCorruption naming the file; the other
// run, in a file of its own, always reads right; VerifyFiles reports the
// damaged file with an offset.

// coldDamage is the template of the damage tests: two ended runs, each
// frozen to a file of its own, reclaimed from the arena, the database
// closed; and what each run reads.
type coldDamage struct {
	tmpl            *vfs.MemFS
	damaged, other  RunID
	file            string // the damaged run's file, cold/<name>
	pristine        []byte
	wantDam, wantOK []coldRead
}

func newColdDamage(t *testing.T) *coldDamage {
	t.Helper()
	mem := vfs.NewMemFS(1)
	db, err := coldOpen(mem, Strict())
	require.NoError(t, err)
	var ids []RunID
	for j, steps := range []int{3, 2} {
		r, err := db.BeginRun(Name(fmt.Sprint("damage-", j)))
		require.NoError(t, err)
		for i := range steps {
			require.NoError(t, coldStep(r, j, i))
		}
		require.NoError(t, r.End(Completed, ""))
		require.NoError(t, db.Runs().Freeze(r.ID()))
		ids = append(ids, r.ID())
	}
	_, err = db.Reclaim()
	require.NoError(t, err)
	var refs []*coldRef
	for _, id := range ids {
		rs, err := db.runState(id)
		require.NoError(t, err)
		refs = append(refs, rs.cold.Load())
		require.NotNil(t, refs[len(refs)-1], "run %s cold", id)
	}
	require.NotEqual(t, refs[0].file, refs[1].file, "a file each")
	file := filepath.Join(coldDirName, coldFileName(refs[0].file.id))
	require.NoError(t, db.Close())
	pristine, err := plReadFile(mem, filepath.Join(coldCrashDir, file))
	require.NoError(t, err)

	c := &coldDamage{tmpl: mem, damaged: ids[0], other: ids[1], file: file, pristine: pristine}
	db, err = coldOpen(mem, Strict(), WithReadOnly())
	require.NoError(t, err)
	defer db.Close()
	all, err := coldReadAll(db, &coldWork{runs: ids})
	require.NoError(t, err)
	c.wantDam, c.wantOK = all[ids[0]], all[ids[1]]
	return c
}

// coldDamageResult is what one damaged copy gave.
type coldDamageResult struct {
	failed   int  // reads of the damaged run that failed (with ErrCorruption)
	reported bool // VerifyFiles named the damaged file
	err      error
}

// check writes content as the damaged run's file of a fresh copy of the
// template, opens it (read-only, or writable: then also freezes a new run
// and compacts the tier, which may fail only with ErrCorruption), reads
// both runs and runs VerifyFiles.
func (c *coldDamage) check(content []byte, writable bool) (res coldDamageResult) {
	defer func() {
		if p := recover(); p != nil {
			res.err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	fs, err := coldCopyFS(c.tmpl, 1)
	if err == nil {
		err = coldWriteFile(fs, filepath.Join(coldCrashDir, c.file), content)
	}
	if err != nil {
		return coldDamageResult{err: fmt.Errorf("setup: %w", err)}
	}
	opts := []Option{WithReadOnly()}
	if writable {
		opts = nil
	}
	db, err := coldOpen(fs, Strict(), opts...)
	if err != nil {
		return coldDamageResult{err: fmt.Errorf("open: %w", err)}
	}
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	if res.failed, res.err = c.reads(db, "open"); res.err != nil {
		return res
	}
	if writable {
		r, err := db.BeginRun()
		if err == nil {
			err = coldStep(r, 7, 0)
		}
		if err == nil {
			err = r.End(Completed, "")
		}
		if err == nil {
			err = db.Runs().Freeze(r.ID())
		}
		if err != nil {
			return coldDamageResult{err: fmt.Errorf("a new run frozen next to the damaged file: %w", err)}
		}
		if err := db.CompactCold(); err != nil && !errors.Is(err, ErrCorruption) {
			return coldDamageResult{err: fmt.Errorf("compaction: not ErrCorruption: %w", err)}
		}
		if _, err := c.reads(db, "after a compaction"); err != nil {
			return coldDamageResult{err: err}
		}
		if err := coldTierCheck(db, true); err != nil {
			return coldDamageResult{err: err}
		}
	}
	err = db.Close()
	db = nil
	if err != nil {
		return coldDamageResult{err: fmt.Errorf("close: %w", err)}
	}
	rep, err := verifyFiles(fs, coldCrashDir)
	if err != nil {
		return coldDamageResult{err: fmt.Errorf("verify: %w", err)}
	}
	for _, p := range rep.Problems {
		if p.File != filepath.ToSlash(c.file) {
			return coldDamageResult{err: fmt.Errorf("verify: a problem elsewhere: %v", p)}
		}
		if p.Offset < 0 || p.Offset > int64(len(content)) {
			return coldDamageResult{err: fmt.Errorf("verify: offset out of the file (%d bytes): %v", len(content), p)}
		}
		res.reported = true
	}
	if rep.ColdFiles < 2 || rep.ColdRuns < 2 {
		return coldDamageResult{err: fmt.Errorf("verify: %d cold files, %d cold runs", rep.ColdFiles, rep.ColdRuns)}
	}
	return res
}

// reads reads both runs: the damaged one answers as before or fails with
// ErrCorruption naming its file; the other answers as before.
func (c *coldDamage) reads(db *DB, when string) (failed int, err error) {
	got := coldReadRun(db, c.damaged)
	if len(got) != len(c.wantDam) {
		return 0, fmt.Errorf("%s: damaged run: %d reads, want %d (first: %v)", when, len(got), len(c.wantDam), got[0])
	}
	name := filepath.Base(c.file)
	for i, g := range got {
		w := c.wantDam[i]
		switch {
		case g.err != nil && (!errors.Is(g.err, ErrCorruption) || !strings.Contains(g.err.Error(), name)):
			return 0, fmt.Errorf("%s: damaged run: read %q: want ErrCorruption naming %s: %w", when, g.what, name, g.err)
		case g.err != nil:
			failed++
		case g.what != w.what || g.got != w.got:
			return 0, fmt.Errorf("%s: damaged run: read %q answered\n%s\nwant (%q)\n%s", when, g.what, g.got, w.what, w.got)
		}
	}
	if err := coldSame(c.wantOK, coldReadRun(db, c.other)); err != nil {
		return 0, fmt.Errorf("%s: the other run: %w", when, err)
	}
	return failed, nil
}

// TestColdCorruptionMatrix flips every bit of every byte of a small cold
// file in turn (^0xFF; every third byte under -short) and opens the database on each copy, read-only (and
// writable at every 16th byte): no read of the damaged run answers
// differently from the pristine file (each fails with ErrCorruption naming
// the file, or answers the same), at least one fails (a scan of its steps
// reads every block), the run in the other file reads right, a new run
// freezes next to the damaged file and a compaction fails only with
// ErrCorruption, and VerifyFiles reports the damaged file, with an offset
// in it, for every byte: every byte is under a CRC.
func TestColdCorruptionMatrix(t *testing.T) {
	t.Parallel()
	plGCTune(t)
	start := time.Now()
	c := newColdDamage(t)
	n := len(c.pristine)
	require.Less(t, n, 4096, "a small file keeps the matrix fast")
	stride := shortOr(1, 3)
	results := make([]coldDamageResult, n)
	coldParallel((n+stride-1)/stride, func(j int) {
		i := j * stride
		b := bytes.Clone(c.pristine)
		b[i] ^= 0xFF
		results[i] = c.check(b, i%16 == 0)
	})
	var unreported, unnoticed []int
	failed, reads, flipped := 0, 0, 0
	for i := 0; i < n; i += stride {
		r := results[i]
		flipped++
		if r.err != nil {
			failed++
			if failed <= 8 {
				t.Errorf("byte %d of %s (%d bytes) flipped: %v", i, c.file, n, r.err)
			}
			continue
		}
		if !r.reported {
			unreported = append(unreported, i)
		}
		if r.failed == 0 {
			unnoticed = append(unnoticed, i)
		}
		reads += r.failed
	}
	require.Zero(t, failed, "%d of %d flipped bytes failed", failed, flipped)
	require.Empty(t, unreported, "VerifyFiles did not report these flipped bytes of %s (%d bytes)", c.file, n)
	require.Empty(t, unnoticed, "every read of the damaged run answered as before with these bytes of %s (%d bytes) flipped", c.file, n)
	t.Logf("%s (%d bytes): %d bytes flipped, each reported by VerifyFiles; %d of %d reads of the damaged run failed with ErrCorruption, none answered differently; %v",
		c.file, n, flipped, reads, flipped*len(c.wantDam), time.Since(start).Round(time.Millisecond))
}

// TestColdTruncated cuts the damaged run's cold file at several lengths
// (empty, one byte, one byte short of a footer, half, the footer gone,
// the last byte gone), and opens the database read-only and writable on
// each: its reads fail with ErrCorruption naming the file (a listing of
// its KV among them), the run in the other file reads right, and
// VerifyFiles reports the file.
func TestColdTruncated(t *testing.T) {
	t.Parallel()
	c := newColdDamage(t)
	n := len(c.pristine)
	const footer = 36 // the cold file's footer
	for _, cut := range []int{0, 1, footer - 1, n / 2, n - footer, n - 1} {
		for _, writable := range []bool{false, true} {
			r := c.check(c.pristine[:cut], writable)
			require.NoError(t, r.err, "cut to %d of %d bytes, writable %v", cut, n, writable)
			require.True(t, r.reported, "cut to %d of %d bytes: VerifyFiles reports it", cut, n)
			require.Positive(t, r.failed, "cut to %d of %d bytes: reads fail", cut, n)
		}
	}
	// The listing is among the reads that fail.
	fs, err := coldCopyFS(c.tmpl, 1)
	require.NoError(t, err)
	require.NoError(t, coldWriteFile(fs, filepath.Join(coldCrashDir, c.file), c.pristine[:n/2]))
	db, err := coldOpen(fs, Strict(), WithReadOnly())
	require.NoError(t, err)
	defer db.Close()
	r, err := db.Run(c.damaged)
	require.NoError(t, err)
	_, err = r.KV().List("")
	require.ErrorIs(t, err, ErrCorruption)
	require.ErrorContains(t, err, filepath.Base(c.file))
}
