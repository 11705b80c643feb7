package inmem_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
)

// Crash tests: a child process (this test binary, re-executed to run only
// TestKillChild) commits numbered transactions and acknowledges each on
// stdout once run.Update returned; the parent SIGKILLs it at a random moment,
// reopens the database and checks what survived:
//
//   - the state is a prefix of the commit sequence: "seq" = m and exactly
//     the keys k1..km (no torn transaction, no hole, nothing past m);
//   - Strict: every acknowledged commit survived (m >= last ack);
//   - Batched: only commits acknowledged within the last fsync window may be
//     missing (every ack older than window+slack before the kill survived).
//
// Each round restarts the child on the same directory; it continues from the
// recovered seq, so recovery after a crash is itself crashed into.

const (
	killEnvDir  = "INMEM_KILL_CHILD_DIR"
	killEnvMode = "INMEM_KILL_CHILD_MODE"

	killBatchedWindow = 50 * time.Millisecond
	// killSlack covers scheduling and fsync latency on a loaded machine on
	// top of the Batched window: an ack older than window+slack at the kill
	// must have survived. (An ack's time is when the parent read it, at or
	// after the commit returned, which only makes the check more lenient.
	// Measured: lost acks are at most ~40ms old, also under CPU and disk
	// load.)
	killSlack = 500 * time.Millisecond
	// The Batched child commits for killBurst out of every killPeriod.
	killBurst  = 15 * time.Millisecond
	killPeriod = 100 * time.Millisecond
	// killChildMaxLife bounds a child that the parent somehow never kills.
	killChildMaxLife = 2 * time.Minute
)

func killKey(k int) string { return fmt.Sprintf("k%06d", k) }

func killDurability(mode string) (inmem.Durability, error) {
	switch mode {
	case "strict":
		return inmem.Strict(), nil
	case "batched":
		return inmem.Batched(killBatchedWindow, 1000), nil
	}
	return inmem.Durability{}, fmt.Errorf("unknown mode %q", mode)
}

// killOpts are the options both the child and the parent open with: a small
// checkpoint interval so that kills also land in and around background
// checkpoints (every few dozen commits in Strict mode, every few thousand
// in Batched mode).
func killOpts(mode string) ([]inmem.Option, error) {
	d, err := killDurability(mode)
	if err != nil {
		return nil, err
	}
	every := int64(4 << 10)
	if mode == "batched" {
		every = 256 << 10
	}
	return []inmem.Option{inmem.WithDurability(d), inmem.WithCheckpointEvery(every)}, nil
}

// TestKillChild is the child's body. It does nothing unless the parent set
// INMEM_KILL_CHILD_DIR; it never returns normally then (it is killed).
func TestKillChild(t *testing.T) {
	dir := os.Getenv(killEnvDir)
	if dir == "" {
		return
	}
	if err := killChild(dir, os.Getenv(killEnvMode)); err != nil {
		fmt.Fprintf(os.Stderr, "kill child: %v\n", err)
		os.Exit(3)
	}
	os.Exit(0)
}

// killChild opens the database, finds (or begins) the run, and commits
// k = seq+1, seq+2, ... acknowledging each one on stdout.
func killChild(dir, mode string) error {
	// The parent holds our stdin open; EOF means it is gone, so don't
	// outlive it.
	go func() {
		_, _ = bufio.NewReader(os.Stdin).ReadString(0)
		os.Exit(4)
	}()
	opts, err := killOpts(mode)
	if err != nil {
		return err
	}
	dbDir, idFile := filepath.Join(dir, "db"), filepath.Join(dir, "runid")
	db, err := inmem.Open(dbDir, opts...)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(idFile)
	if errors.Is(err, os.ErrNotExist) {
		// First start: begin the run, make it durable by closing, and only
		// then name it in the id file (written atomically). A kill before
		// the rename leaves an orphan run that nobody looks at.
		run, err := db.BeginRun(inmem.Name("kill"))
		if err != nil {
			return err
		}
		if err := db.Close(); err != nil {
			return err
		}
		if err := writeFileAtomic(idFile, []byte(run.ID().String())); err != nil {
			return err
		}
		if db, err = inmem.Open(dbDir, opts...); err != nil {
			return err
		}
		b = []byte(run.ID().String())
	} else if err != nil {
		return err
	}
	id, err := inmem.ParseRunID(strings.TrimSpace(string(b)))
	if err != nil {
		return err
	}
	run, err := db.Run(id)
	if err != nil {
		return err
	}
	seq := 0
	if v, err := run.KV().Get("seq"); err == nil {
		if seq, err = strconv.Atoi(string(v)); err != nil {
			return fmt.Errorf("seq %q: %w", v, err)
		}
	} else if !errors.Is(err, inmem.ErrNotFound) {
		return err
	}
	if _, err := fmt.Fprintf(os.Stdout, "start %d\n", seq); err != nil {
		return err
	}
	began := time.Now()
	deadline := began.Add(killChildMaxLife)
	for k := seq + 1; time.Now().Before(deadline); k++ {
		if mode == "batched" {
			// Bursts at full speed, far past the Batched commit limit,
			// then quiet past its interval: kills land both mid-burst and
			// after the log went quiet, and the data set (which every
			// round recovers and verifies) stays small.
			if in := time.Since(began) % killPeriod; in >= killBurst {
				time.Sleep(killPeriod - in)
			}
		}
		v := []byte(strconv.Itoa(k))
		err := run.Update(func(tx *inmem.Tx) error {
			if err := tx.KV().Put("seq", v); err != nil {
				return err
			}
			return tx.KV().Put(killKey(k), v)
		})
		if err != nil {
			return fmt.Errorf("commit %d: %w", k, err)
		}
		// os.Stdout is unbuffered: one write(2) per ack, so once it
		// returns the parent can read the line even if we die next.
		if _, err := fmt.Fprintf(os.Stdout, "ack %d\n", k); err != nil {
			return err
		}
	}
	return errors.New("never killed")
}

// writeFileAtomic writes a temporary file, fsyncs it, renames it over name
// and fsyncs the directory.
func writeFileAtomic(name string, data []byte) error {
	tmp := name + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(name))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// killAck is one acknowledged commit as the parent saw it.
type killAck struct {
	k  int
	at time.Time // when the parent read the line (at or after the ack)
}

// killRound is what one child run produced.
type killRound struct {
	start    int // seq the child recovered (-1 if it never said)
	acks     []killAck
	killedAt time.Time
	stderr   string
}

// runKillChild starts a child on dir, waits for its first ack, lets it run
// for delay, SIGKILLs it and collects every ack it wrote. The child is
// always waited for, whatever happens.
func runKillChild(t *testing.T, dir, mode string, delay time.Duration) killRound {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), killEnvDir+"="+dir, killEnvMode+"="+mode)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	r := killRound{start: -1}
	first := make(chan struct{})
	readDone := make(chan error, 1)
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stdout)
		firstSeen := false
		var err error
		for sc.Scan() {
			now := time.Now()
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "ack "):
				k, perr := strconv.Atoi(line[len("ack "):])
				if perr != nil {
					err = fmt.Errorf("bad line %q", line)
					continue
				}
				mu.Lock()
				r.acks = append(r.acks, killAck{k: k, at: now})
				mu.Unlock()
				if !firstSeen {
					firstSeen = true
					close(first)
				}
			case strings.HasPrefix(line, "start "):
				s, perr := strconv.Atoi(line[len("start "):])
				if perr != nil {
					err = fmt.Errorf("bad line %q", line)
					continue
				}
				mu.Lock()
				r.start = s
				mu.Unlock()
			}
		}
		if err == nil {
			err = sc.Err()
		}
		readDone <- err
	}()

	var failure string
	select {
	case <-first:
		time.Sleep(delay)
	case <-time.After(60 * time.Second):
		failure = "child gave no ack within 60s"
	case rerr := <-readDone:
		readDone <- rerr // for the drain below
		failure = "child exited before its first ack"
	}
	mu.Lock()
	r.killedAt = time.Now()
	mu.Unlock()
	_ = cmd.Process.Kill() // fails only if it already exited
	rerr := <-readDone     // EOF: the child is gone and its pipe drained
	stdin.Close()
	werr := cmd.Wait()
	r.stderr = stderr.String()
	if failure != "" {
		t.Fatalf("%s (wait: %v, read: %v); child stderr:\n%s", failure, werr, rerr, r.stderr)
	}
	if rerr != nil {
		t.Fatalf("reading child stdout: %v; child stderr:\n%s", rerr, r.stderr)
	}
	if strings.Contains(r.stderr, "DATA RACE") {
		t.Fatalf("the child hit a data race:\n%s", r.stderr)
	}
	if werr == nil {
		t.Fatalf("child exited on its own; stderr:\n%s", r.stderr)
	}
	if ee, ok := werr.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
		// -1: killed by a signal, as it should be.
		t.Fatalf("child did not die of the kill: %v; stderr:\n%s", werr, r.stderr)
	}
	return r
}

// killRecovered opens the database as the parent and checks it holds a
// prefix of the commit sequence; it returns m, the recovered seq.
func killRecovered(t *testing.T, dir, mode string) int {
	t.Helper()
	opts, err := killOpts(mode)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "runid"))
	if err != nil {
		t.Fatalf("run id file: %v", err)
	}
	id, err := inmem.ParseRunID(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	db, err := inmem.Open(filepath.Join(dir, "db"), opts...)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	run, err := db.Run(id)
	if err != nil {
		t.Fatalf("run after kill: %v", err)
	}
	m := 0
	if v, err := run.KV().Get("seq"); err == nil {
		if m, err = strconv.Atoi(string(v)); err != nil || m < 1 {
			t.Fatalf("seq = %q", v)
		}
	} else if !errors.Is(err, inmem.ErrNotFound) {
		t.Fatal(err)
	}
	entries, err := run.KV().List("k")
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]bool, m+1)
	for _, e := range entries {
		n, err := strconv.Atoi(e.Key[1:])
		if err != nil || e.Key != killKey(n) {
			t.Fatalf("unexpected key %q", e.Key)
		}
		if n < 1 || n > m {
			t.Fatalf("not a prefix: key %q present but seq = %d", e.Key, m)
		}
		if string(e.Value) != strconv.Itoa(n) {
			t.Fatalf("key %q = %q", e.Key, e.Value)
		}
		seen[n] = true
	}
	if len(entries) != m {
		for n := 1; n <= m; n++ {
			if !seen[n] {
				t.Fatalf("not a prefix: seq = %d but key %q is missing (%d keys)", m, killKey(n), len(entries))
			}
		}
	}
	return m
}

// killRounds runs the rounds of one durability mode; check judges each
// round given the recovered seq m.
func killRounds(t *testing.T, mode string, rounds int, delay func(round int, r *rand.Rand) time.Duration,
	check func(t *testing.T, round int, r killRound, m int)) {
	if testing.Short() {
		rounds = 5
	}
	dir := t.TempDir()
	seed := uint64(20240611)
	rng := rand.New(rand.NewPCG(seed, uint64(len(mode))))
	prev, acked := 0, 0
	began := time.Now()
	for round := 0; round < rounds; round++ {
		d := delay(round, rng)
		r := runKillChild(t, dir, mode, d)
		if r.start != prev {
			t.Fatalf("round %d: child recovered seq %d, parent had verified %d", round, r.start, prev)
		}
		m := killRecovered(t, dir, mode)
		maxAck := 0
		for i, a := range r.acks {
			if a.k != r.start+1+i {
				t.Fatalf("round %d: ack %d out of sequence (want %d)", round, a.k, r.start+1+i)
			}
			maxAck = a.k
		}
		if m < prev {
			t.Fatalf("round %d: recovered seq %d went back from %d", round, m, prev)
		}
		// Commits are sequential: the child cannot have started commit
		// maxAck+2 before acking maxAck+1.
		if m > maxAck+1 {
			t.Fatalf("round %d: recovered seq %d but the child never began commits past %d", round, m, maxAck+1)
		}
		check(t, round, r, m)
		t.Logf("round %d: delay %v, start %d, acked %d..%d, recovered %d", round, d, r.start, r.start+1, maxAck, m)
		acked += len(r.acks)
		prev = m
	}
	files, _ := filepath.Glob(filepath.Join(dir, "db", "*"))
	segs, _ := filepath.Glob(filepath.Join(dir, "db", "wal", "*"))
	for i := range files {
		files[i] = filepath.Base(files[i])
	}
	t.Logf("%s: %d rounds, %d acks, final seq %d, %v; files at the end: %v, %d WAL segments",
		mode, rounds, acked, prev, time.Since(began).Round(time.Millisecond), files, len(segs))
}

// TestKillStrict: with Strict durability every acknowledged commit survives
// a SIGKILL.
func TestKillStrict(t *testing.T) {
	killRounds(t, "strict", 20,
		func(_ int, r *rand.Rand) time.Duration {
			return time.Duration(20+r.IntN(131)) * time.Millisecond
		},
		func(t *testing.T, round int, r killRound, m int) {
			if n := len(r.acks); n > 0 && r.acks[n-1].k > m {
				t.Fatalf("round %d: commit %d was acknowledged but recovered seq is %d", round, r.acks[n-1].k, m)
			}
		})
}

// TestKillBatched: with Batched(50ms, 1000) a SIGKILL loses at most the
// commits acknowledged within the last window (plus slack for a loaded
// machine), and the state stays a prefix.
func TestKillBatched(t *testing.T) {
	killRounds(t, "batched", 20,
		func(round int, r *rand.Rand) time.Duration {
			if round%5 == 4 {
				// Long enough that acks far older than the window exist.
				return time.Duration(700+r.IntN(301)) * time.Millisecond
			}
			if round%2 == 0 {
				// Aimed at a burst (the child's clock starts about when
				// its first ack arrives).
				return time.Duration(r.IntN(2))*killPeriod + time.Duration(1+r.IntN(int(killBurst/time.Millisecond)))*time.Millisecond
			}
			return time.Duration(20+r.IntN(131)) * time.Millisecond
		},
		func(t *testing.T, round int, r killRound, m int) {
			cutoff := r.killedAt.Add(-(killBatchedWindow + killSlack))
			lost, oldest := 0, time.Duration(0)
			for _, a := range r.acks {
				if a.k <= m {
					continue
				}
				lost++
				oldest = max(oldest, r.killedAt.Sub(a.at))
				if a.at.Before(cutoff) {
					t.Fatalf("round %d: commit %d acknowledged %v before the kill is lost (recovered seq %d, window %v + slack %v)",
						round, a.k, r.killedAt.Sub(a.at), m, killBatchedWindow, killSlack)
				}
			}
			if lost > 0 {
				t.Logf("round %d: %d acknowledged commits lost, the oldest acknowledged %v before the kill", round, lost, oldest.Round(time.Millisecond))
			}
		})
}
