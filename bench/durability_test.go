package bench

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/inmem-db/inmem"
)

// The durability benchmarks: what a commit costs when it has to reach the
// disk, and what recovery and checkpoints cost. Everything runs in this
// process on b.TempDir(), the local disk.
//
//   - BenchmarkFsync: the disk's floor, write 128 bytes + fsync.
//   - BenchmarkStrictCommit: one fresh key per commit with Strict
//     durability from N committers (ns/op = wall time / b.N, so the
//     throughput ratio of committers=64 to committers=1 is the group-commit
//     gain), with p50/p99 per-commit latency; against badger with
//     SyncWrites, bbolt (Update and Batch) and SQLite synchronous=FULL
//     under the same load. (What a Batched commit costs is
//     BenchmarkPut/inmem-batched.)
//   - BenchmarkGroupCommitIdeal (groupcommit_test.go): the same load on a
//     group commit that is nothing but a buffer, a write and an fsync, the
//     yardstick for in-mem's Strict commits on this disk.
//   - BenchmarkRecovery: Open over ~100 MB of WAL (MB/s of WAL replayed).
//   - BenchmarkCheckpoint: Checkpoint of ~1 GB of values (MB/s of values);
//     INMEM_BENCH_CKPT_MB sets the size.
//
// Run the big ones once:
//
//	go test -run xxx -bench 'Recovery|Checkpoint' -benchtime 1x
//	go test -run xxx -bench 'Fsync|StrictCommit' -count 3
//	go test -run x -bench 'StrictCommit/committers=(1|64)/inmem|GroupCommitIdeal/committers=(1|64)' -count 5

// noCheckpoint keeps automatic checkpoints out of the way of what a
// benchmark measures.
const noCheckpoint = 1 << 50

// reportLatency reports the p50 and p99 of the per-op latencies, gathered
// per goroutine.
func reportLatency(b *testing.B, per [][]time.Duration) {
	var all []time.Duration
	for _, p := range per {
		all = append(all, p...)
	}
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	pct := func(q float64) time.Duration { return all[min(len(all)-1, int(q*float64(len(all))))] }
	b.ReportMetric(float64(pct(0.50).Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(pct(0.99).Nanoseconds()), "p99-ns")
}

// ---- Fsync -----------------------------------------------------------------

// BenchmarkFsync is the disk's fsync latency: append 128 bytes to a file and
// fsync it, one op at a time.
func BenchmarkFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 128)
	lat := make([]time.Duration, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		lat[i] = time.Since(t0)
	}
	b.StopTimer()
	reportLatency(b, [][]time.Duration{lat})
}

// ---- Strict commits --------------------------------------------------------

var committerCounts = []int{1, 8, 64}

// commitKeys returns, for each of g committers, its share of n fresh keys
// (disjoint across committers).
func commitKeys(n, g int) [][]string {
	out := make([][]string, g)
	for w := range out {
		lo, hi := n*w/g, n*(w+1)/g
		keys := make([]string, 0, hi-lo)
		for i := lo; i < hi; i++ {
			keys = append(keys, "c"+strconv.Itoa(w)+"-"+strconv.Itoa(i))
		}
		out[w] = keys
	}
	return out
}

// commitParallel runs put over every key from one goroutine per slice of
// keys, timing each call, and reports p50/p99 and the process's CPU time
// per commit ("cpu-ns/op": the committers' and every background
// goroutine's, the syncer's included). The benchmark timer covers exactly
// the parallel phase.
func commitParallel(b *testing.B, keys [][]string, put func(key string) error) {
	lat := make([][]time.Duration, len(keys))
	for w := range lat {
		lat[w] = make([]time.Duration, 0, len(keys[w]))
	}
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0 := processCPU()
	for w := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, k := range keys[w] {
				t0 := time.Now()
				if err := put(k); err != nil {
					errs[w] = err
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	cpu := processCPU() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	reportLatency(b, lat)
}

// strictPeers commit with an fsync before a commit returns. bbolt-batch is
// bbolt's own way of sharing an fsync among concurrent writers (db.Batch:
// up to 1000 calls or 10ms); plain bbolt serialises writers, an fsync
// each, as does SQLite.
var strictPeers = []opener{openInmemStrictStore, openBadgerSync, openBolt, openBoltBatch, openSQLiteFull}

// BenchmarkStrictCommit commits one fresh key per transaction with an
// fsync before each commit returns, from N committers at once, for inmem
// (Strict) and every peer with the same guarantee.
func BenchmarkStrictCommit(b *testing.B) {
	dbLoadKeys() // dbValue: without it a run of this benchmark alone writes empty values
	for _, g := range committerCounts {
		for _, o := range strictPeers {
			b.Run(fmt.Sprintf("committers=%d/%s", g, o.name), func(b *testing.B) {
				b.ReportAllocs()
				s, err := o.open(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				defer s.close()
				keys := commitKeys(b.N, g)
				var before uint64
				if in, ok := s.(*inmemStore); ok {
					before = in.db.Stats().Fsyncs
				}
				commitParallel(b, keys, func(k string) error {
					return s.put(unsafe.Slice(unsafe.StringData(k), len(k)), dbValue)
				})
				if in, ok := s.(*inmemStore); ok {
					// Commits per fsync is the group-commit batch size.
					b.ReportMetric(float64(b.N)/float64(in.db.Stats().Fsyncs-before), "commits/fsync")
				}
			})
		}
	}
}

// ---- Recovery --------------------------------------------------------------

// walSize is the total size of the WAL segments under dir.
func walSize(b *testing.B, dir string) int64 {
	segs, err := filepath.Glob(filepath.Join(dir, "wal", "*.log"))
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, s := range segs {
		st, err := os.Stat(s)
		if err != nil {
			b.Fatal(err)
		}
		n += st.Size()
	}
	return n
}

// BenchmarkRecovery times Open over ~100 MB of WAL and no snapshot, for
// three shapes of record, each a sub-benchmark named for its WAL's size:
//
//   - small: 400 transactions of 1,000 puts of 200-byte values into a
//     shared scope (per-record cost dominates);
//   - put: 400,000 one-put transactions of 256-byte values in a run;
//   - large: 25,000 one-put transactions of 4 KiB values in a run.
//
// Each shape is recovered twice: after Close ("closed"), and after the
// process that wrote it was SIGKILLed once its last commit had reached the
// OS ("killed": a child process, this test binary, writes it; every
// iteration opens a fresh copy of what the kill left). MB/s is WAL
// replayed per second.
func BenchmarkRecovery(b *testing.B) {
	for _, c := range recoveryShapes {
		for _, killed := range []bool{false, true} {
			benchRecovery(b, c, killed)
		}
	}
}

// recoveryShape is one of BenchmarkRecovery's shapes of record.
type recoveryShape struct {
	name       string
	txs, perTx int
	valLen     int
	shared     bool
}

var recoveryShapes = []recoveryShape{
	{"small", 400, 1000, 200, true},
	{"put", 400_000, 1, 256, false},
	{"large", 25_000, 1, 4096, false},
}

// recoveryOpts are the options every Open of BenchmarkRecovery's databases
// takes: no checkpoint, so recovery replays the whole WAL.
var recoveryOpts = []inmem.Option{inmem.WithCheckpointEvery(noCheckpoint)}

// writeRecovery writes shape c into a database in dir and returns it open,
// with the run written to (nil for the shared scope).
func writeRecovery(dir string, c recoveryShape) (*inmem.DB, *inmem.Run, error) {
	db, err := inmem.Open(dir, append(recoveryOpts, inmem.WithDurability(inmem.Async(time.Second)))...)
	if err != nil {
		return nil, nil, err
	}
	var run *inmem.Run
	update := func(fn func(tx *inmem.Tx) error) error { return db.Shared(inmem.Namespace{App: "bench"}).Update(fn) }
	if !c.shared {
		if run, err = db.BeginRun(); err != nil {
			return nil, nil, errors.Join(err, db.Close())
		}
		update = run.Update
	}
	val := make([]byte, c.valLen)
	for i := range val {
		val[i] = byte(i * 7)
	}
	for t := range c.txs {
		if err := update(func(tx *inmem.Tx) error {
			for j := range c.perTx {
				if err := tx.KV().Put(fmt.Sprintf("key%016d", t*c.perTx+j), val); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return nil, nil, errors.Join(err, db.Close())
		}
	}
	return db, run, nil
}

const (
	recoveryKillDir   = "INMEM_BENCH_RECOVERY_DIR"
	recoveryKillShape = "INMEM_BENCH_RECOVERY_SHAPE"
)

// TestRecoveryKillChild is BenchmarkRecovery's child: run only by it, with
// recoveryKillDir set, it writes the shape named by recoveryKillShape,
// waits for its commits to reach the OS (the log's syncer writes what was
// appended within 10 ms, fsync or not), prints the run's ID and waits to
// be killed.
func TestRecoveryKillChild(t *testing.T) {
	dir := os.Getenv(recoveryKillDir)
	if dir == "" {
		return
	}
	for _, c := range recoveryShapes {
		if c.name != os.Getenv(recoveryKillShape) {
			continue
		}
		_, run, err := writeRecovery(dir, c)
		if err != nil {
			fmt.Fprintf(os.Stderr, "recovery child: %v\n", err)
			os.Exit(3)
		}
		time.Sleep(100 * time.Millisecond)
		id := inmem.RunID{}
		if run != nil {
			id = run.ID()
		}
		fmt.Printf("ready %s\n", id)
		time.Sleep(time.Minute) // killed long before
		os.Exit(4)
	}
	os.Exit(5)
}

// killedRecovery writes c into dir from a child process and SIGKILLs it;
// it returns the run the child wrote to.
func killedRecovery(b *testing.B, dir string, c recoveryShape) inmem.RunID {
	cmd := exec.Command(os.Args[0], "-test.run=^TestRecoveryKillChild$", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), recoveryKillDir+"="+dir, recoveryKillShape+"="+c.name)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var id inmem.RunID
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
			if id, err = inmem.ParseRunID(rest); err != nil && c.shared {
				err = nil
			}
			break
		}
	}
	if kerr := cmd.Process.Signal(syscall.SIGKILL); kerr != nil {
		b.Fatal(kerr)
	}
	_ = cmd.Wait() // killed: its exit status says so
	if err != nil {
		b.Fatal(err)
	}
	if id == (inmem.RunID{}) && !c.shared {
		b.Fatal("recovery child ended without writing its shape")
	}
	return id
}

func benchRecovery(b *testing.B, c recoveryShape, killed bool) {
	dir := b.TempDir()
	var id inmem.RunID
	if killed {
		id = killedRecovery(b, dir, c)
	} else {
		db, run, err := writeRecovery(dir, c)
		if err != nil {
			b.Fatal(err)
		}
		if run != nil {
			id = run.ID()
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
	}
	wal := walSize(b, dir)
	how := "closed"
	if killed {
		how = "killed"
	}
	b.Run(fmt.Sprintf("%s/%s/wal=%dMB", c.name, how, wal>>20), func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(wal)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			open := dir
			if killed {
				// What the kill left, every time: an Open and a Close
				// would leave a cleanly closed log.
				b.StopTimer()
				open = filepath.Join(b.TempDir(), "copy")
				if err := os.CopyFS(open, os.DirFS(dir)); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			db, err := inmem.Open(open, recoveryOpts...)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if i == 0 {
				// Every record is back: the last key reads.
				kv := db.Shared(inmem.Namespace{App: "bench"}).KV()
				if !c.shared {
					r, err := db.Run(id)
					if err != nil {
						b.Fatal(err)
					}
					kv = r.KV()
				}
				if _, err := kv.Get(fmt.Sprintf("key%016d", c.txs*c.perTx-1)); err != nil {
					b.Fatalf("recovered: %v", err)
				}
			}
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
}

// ---- Checkpoint ------------------------------------------------------------

// BenchmarkCheckpoint times Checkpoint over INMEM_BENCH_CKPT_MB (default
// 1024) MiB of 1 KiB values, 1000 per transaction. MB/s is value bytes
// snapshotted per second.
func BenchmarkCheckpoint(b *testing.B) {
	mb := 1024
	if s := os.Getenv("INMEM_BENCH_CKPT_MB"); s != "" {
		var err error
		if mb, err = strconv.Atoi(s); err != nil || mb <= 0 {
			b.Fatalf("INMEM_BENCH_CKPT_MB=%q", s)
		}
	}
	const valLen, perTx = 1024, 1000
	n := mb << 10
	db, err := inmem.Open(b.TempDir(), inmem.WithDurability(inmem.Async(time.Second)), inmem.WithCheckpointEvery(noCheckpoint))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	run, err := db.BeginRun()
	if err != nil {
		b.Fatal(err)
	}
	val := make([]byte, valLen)
	for i := range val {
		val[i] = byte(i * 13)
	}
	for lo := 0; lo < n; lo += perTx {
		err := run.Update(func(tx *inmem.Tx) error {
			for i := lo; i < min(lo+perTx, n); i++ {
				if err := tx.KV().Put(fmt.Sprintf("key%016d", i), val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Run(fmt.Sprintf("data=%dMB", mb), func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(n) * valLen)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := db.Checkpoint(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
