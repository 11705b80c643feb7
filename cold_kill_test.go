package inmem

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
)

// SIGKILL with freezes in flight: a child process (this test binary,
// re-executed to run only TestColdKillChild) opens the database with
// WithColdAfter(0), so its background freezer moves runs to the cold tier
// as they end (and compacts the tier once small files pile up), and
// begins, writes and ends run after run, acknowledging each ended run on
// stdout. The parent kills it at a random moment, reopens the database
// and checks every acknowledged run, hot or cold; each round restarts the
// child on the same directory, so the tier grows, and the child's freezer
// first freezes what the last one left hot.

const (
	coldKillEnvDir = "INMEM_COLD_KILL_DIR"
	coldKillEnvSeq = "INMEM_COLD_KILL_SEQ"
	coldKillSteps  = 3
	// coldKillPause spaces the child's runs: the rounds' data (which every
	// round reads back) stays small, and the freezer's batches of a few
	// dozen runs take long enough that kills land in them.
	coldKillPause = 2 * time.Millisecond
	// coldKillMaxLife bounds a child that the parent somehow never kills.
	coldKillMaxLife = 2 * time.Minute
)

// coldKillValue is what step i of the k-th run writes: its numbers, then
// filler that differs from run to run.
func coldKillValue(k, i int) []byte {
	rng := rand.New(rand.NewPCG(uint64(k), uint64(i)))
	b := fmt.Appendf(nil, "%d/%d/", k, i)
	for range 200 {
		b = append(b, byte('a'+rng.IntN(26)))
	}
	return b
}

// TestColdKillChild is the child's body. It does nothing unless the parent
// set INMEM_COLD_KILL_DIR; it never returns normally then (it is killed).
func TestColdKillChild(t *testing.T) {
	dir := os.Getenv(coldKillEnvDir)
	if dir == "" {
		return
	}
	if err := coldKillChild(dir, os.Getenv(coldKillEnvSeq)); err != nil {
		fmt.Fprintf(os.Stderr, "cold kill child: %v\n", err)
		os.Exit(3)
	}
	os.Exit(0)
}

// coldKillChild runs k = seq, seq+1, ... each a run of coldKillSteps
// steps, ended, then acknowledged as "ack k id".
func coldKillChild(dir, seq string) error {
	// The parent holds our stdin open; EOF means it is gone.
	go func() {
		_, _ = bufio.NewReader(os.Stdin).ReadString(0)
		os.Exit(4)
	}()
	first, err := strconv.Atoi(seq)
	if err != nil {
		return err
	}
	db, err := Open(dir, WithDurability(Strict()), WithColdAfter(0))
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(os.Stdout, "start"); err != nil {
		return err
	}
	deadline := time.Now().Add(coldKillMaxLife)
	for k := first; time.Now().Before(deadline); k++ {
		r, err := db.BeginRun(Name(fmt.Sprint("kill-", k)))
		if err != nil {
			return err
		}
		for i := range coldKillSteps {
			if err := r.KV().Put(fmt.Sprint("s", i), coldKillValue(k, i)); err != nil {
				return fmt.Errorf("run %d step %d: %w", k, i, err)
			}
		}
		if err := r.End(Completed, ""); err != nil {
			return fmt.Errorf("end run %d: %w", k, err)
		}
		// One write(2) per ack: once it returns the parent can read it.
		if _, err := fmt.Fprintf(os.Stdout, "ack %d %s\n", k, r.ID()); err != nil {
			return err
		}
		time.Sleep(coldKillPause)
	}
	return errors.New("never killed")
}

// coldKillAck is an acknowledged ended run.
type coldKillAck struct {
	k  int
	id RunID
}

// coldRunKillChild starts a child on dir from run number seq, lets it run
// for delay after its first ack, SIGKILLs it and returns every ack it
// wrote. The child is always waited for.
func coldRunKillChild(t *testing.T, dir string, seq int, delay time.Duration) []coldKillAck {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestColdKillChild$", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), coldKillEnvDir+"="+dir, coldKillEnvSeq+"="+strconv.Itoa(seq))
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
	var mu sync.Mutex
	var acks []coldKillAck
	first := make(chan struct{})
	readDone := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var err error
		seen := false
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "ack" {
				continue // "start", or test framework output
			}
			k, perr := strconv.Atoi(f[1])
			id, ierr := ParseRunID(f[2])
			if perr != nil || ierr != nil {
				err = fmt.Errorf("bad line %q", sc.Text())
				continue
			}
			mu.Lock()
			acks = append(acks, coldKillAck{k, id})
			mu.Unlock()
			if !seen {
				seen = true
				close(first)
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
		readDone <- rerr
		failure = "child exited before its first ack"
	}
	_ = cmd.Process.Kill()
	rerr := <-readDone
	stdin.Close()
	werr := cmd.Wait()
	switch {
	case failure != "":
		t.Fatalf("%s (wait: %v, read: %v); child stderr:\n%s", failure, werr, rerr, stderr.String())
	case rerr != nil:
		t.Fatalf("reading child stdout: %v; child stderr:\n%s", rerr, stderr.String())
	case strings.Contains(stderr.String(), "DATA RACE"):
		t.Fatalf("the child hit a data race:\n%s", stderr.String())
	}
	if ee, ok := werr.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
		t.Fatalf("child did not die of the kill: %v; stderr:\n%s", werr, stderr.String())
	}
	mu.Lock()
	defer mu.Unlock()
	return acks
}

// coldKillCheck opens the database writable (its sweep runs) and checks
// every acknowledged run reads exactly its steps, hot or cold, the cold
// directory holds exactly the files the manifest names, and, after Close,
// VerifyFiles finds nothing. full also checks each run's steps and a view
// of its first step (for the runs of the last round; the rest are listed).
// It returns how many of the runs are cold, how many cold files there are,
// and how many files the kill left that the manifest does not name (a
// freeze or compaction it cut short), as a read-only handle saw before.
func coldKillCheck(t *testing.T, dir string, acked []coldKillAck, full map[RunID]bool) (cold, files, left int) {
	t.Helper()
	ro, err := Open(dir, WithReadOnly())
	if err != nil {
		t.Fatalf("read-only open after the kill: %v", err)
	}
	names, _ := ro.cold.fs.List(ro.cold.dir)
	ro.cold.mu.RLock()
	for _, n := range names {
		if id, ok := parseColdName(n); !ok || ro.cold.files[id] == nil || ro.cold.files[id].live == 0 {
			left++
		}
	}
	ro.cold.mu.RUnlock()
	if err := coldTierCheck(ro, false); err != nil {
		t.Fatalf("read-only, after the kill: %v", err)
	}
	if err := ro.Close(); err != nil {
		t.Fatalf("close the read-only handle: %v", err)
	}
	db, err := Open(dir, WithDurability(Strict()), WithColdAfter(-1))
	if err != nil {
		t.Fatalf("reopen after the kill: %v", err)
	}
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	if err := coldTierCheck(db, true); err != nil {
		t.Fatalf("after the kill: %v", err)
	}
	for _, a := range acked {
		if err := coldKillRun(db, a, full[a.id]); err != nil {
			t.Fatalf("run %d (%s), acknowledged as ended: %v", a.k, a.id, err)
		}
		if rs, _ := db.runState(a.id); rs.cold.Load() != nil {
			cold++
		}
	}
	db.cold.mu.RLock()
	for _, f := range db.cold.files {
		if f.live > 0 {
			files++
		}
	}
	db.cold.mu.RUnlock()
	err = db.Close()
	db = nil
	if err != nil {
		t.Fatalf("close: %v", err)
	}
	rep, err := VerifyFiles(dir)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("verify: %v", rep.Problems)
	}
	for _, n := range rep.Notes {
		if strings.HasPrefix(n.File, coldDirName+"/") {
			t.Fatalf("verify after a writable open: %v", n)
		}
	}
	return cold, files, left
}

// coldKillRun checks one acknowledged run.
func coldKillRun(db *DB, a coldKillAck, full bool) error {
	info, err := db.Runs().Get(a.id)
	if err != nil {
		return err
	}
	if info.Status != Completed || info.Steps != coldKillSteps || info.Name != fmt.Sprint("kill-", a.k) {
		return fmt.Errorf("info %+v", info)
	}
	r, err := db.Run(a.id)
	if err != nil {
		return err
	}
	es, err := r.KV().List("")
	if err != nil {
		return err
	}
	if len(es) != coldKillSteps {
		return fmt.Errorf("%d keys, want %d", len(es), coldKillSteps)
	}
	for i, e := range es {
		if e.Key != fmt.Sprint("s", i) || !bytes.Equal(e.Value, coldKillValue(a.k, i)) {
			return fmt.Errorf("key %q = %.20q, want s%d = %.20q", e.Key, e.Value, i, coldKillValue(a.k, i))
		}
	}
	if !full {
		return nil
	}
	steps, err := r.Steps()
	if err != nil {
		return err
	}
	if len(steps) != coldKillSteps {
		return fmt.Errorf("%d steps, want %d", len(steps), coldKillSteps)
	}
	for i, st := range steps {
		if len(st.Writes.KV) != 1 || st.Writes.KV[0] != fmt.Sprint("s", i) {
			return fmt.Errorf("step %d wrote %v", i+1, st.Writes.KV)
		}
	}
	v, err := r.AsOf(1)
	if err != nil {
		return err
	}
	if es, err := v.KV().List(""); err != nil || len(es) != 1 || !bytes.Equal(es[0].Value, coldKillValue(a.k, 0)) {
		return fmt.Errorf("as of step 1: %d keys (%v)", len(es), err)
	}
	return nil
}

// TestColdKill proves that a SIGKILL while the background freezer moves
// runs to the cold tier (and compacts it) loses nothing: after each kill
// every run acknowledged as ended reads exactly its steps, hot or cold;
// the reopened database's cold directory holds exactly the files its
// manifest names, every one of them there; VerifyFiles finds nothing.
func TestColdKill(t *testing.T) {
	rounds := shortOr(8, 3)
	dir := filepath.Join(t.TempDir(), "db")
	rng := rand.New(rand.NewPCG(20240612, 7))
	var acked []coldKillAck
	next := 1
	began := time.Now()
	leftovers := 0
	for round := range rounds {
		// The child's freezer takes the last round's hot runs at its first
		// run's end, then a batch every 200ms: aim at those, and anywhere.
		delay := []time.Duration{
			time.Duration(rng.IntN(30)) * time.Millisecond,
			time.Duration(190+rng.IntN(40)) * time.Millisecond,
			time.Duration(100+rng.IntN(400)) * time.Millisecond,
		}[round%3]
		acks := coldRunKillChild(t, dir, next, delay)
		full := map[RunID]bool{}
		for i, a := range acks {
			if a.k != next+i {
				t.Fatalf("round %d: ack %d out of sequence (want %d)", round, a.k, next+i)
			}
			full[a.id] = true
		}
		acked = append(acked, acks...)
		// The run after the last ack may have ended unacknowledged: its
		// number is not used again.
		next += len(acks) + 1
		cold, files, left := coldKillCheck(t, dir, acked, full)
		leftovers += left
		t.Logf("round %d: killed %v after the first ack; %d runs acknowledged, %d in all, %d of them cold in %d files; the kill left %d unnamed files",
			round, delay, len(acks), len(acked), cold, files, left)
	}
	t.Logf("%d rounds, %d runs, %d files left by kills (and removed by the next writable open), %v",
		rounds, len(acked), leftovers, time.Since(began).Round(time.Millisecond))
}
