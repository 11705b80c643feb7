// Command coldtier measures the cold tier: how much memory freezing ended
// runs gives back, whether memory stays flat while a freezer keeps up with
// a flow of new runs, how many bytes the frozen runs take on disk, and
// what reads of frozen runs cost next to hot ones. It prints a markdown
// table and the command that produced it.
//
//	cd bench && go run ./cmd/coldtier                                   # full size
//	cd bench && go run ./cmd/coldtier -runs 20000 -steps 50 -flow 200000   # the same, spelled out
//	cd bench && go run ./cmd/coldtier -runs 2000 -flow 20000 -read-runs 400 -samples 5000   # quick
//
// Every phase runs in a fresh process (the command runs itself again with
// -phase), so one phase's heap and arena never count in the next one's RSS:
//
//   - memory: -runs runs of -steps agent steps, all ended, all hot; then
//     each frozen with Runs.Freeze (CompactCold after every -compact-every
//     of them, timed apart), then Reclaim; RSS (VmRSS after runtime.GC and
//     debug.FreeOSMemory) and Stats at each point, freeze throughput, the
//     cold files' size, then CompactCold and a checkpoint.
//   - flow, three times: -flow more steps in runs of -steps, RSS and Stats
//     sampled every -sample-every steps, the freezer's pace and its lag at
//     the end. On a copy of the memory phase's directory with
//     WithColdAfter(0) (the background freezer), on another copy with the
//     bench freezing runs itself as they end (-freezer bench), and on an
//     empty database with the background freezer (-flow-from empty). A
//     watchdog ends a flow in which no step commits for -stall and saves
//     the goroutines' stacks.
//   - reads-build: -read-runs runs of the same shape, every other one frozen.
//   - reads: that directory opened with a block cache, and KV Get, Events
//     Range of 10 and AsOf + KV Get timed one by one, hot and cold
//     alternating, -samples of each: with the default cache warmed by a
//     pass (warm), the same with a 256 MiB cache (warm-256MiB), with a 1
//     MiB cache (miss, file pages in the OS page cache), and with a 1 MiB
//     cache and the cold files' pages dropped from the page cache before
//     every cold op (miss-disk), with the disk itself timed between the
//     ops (a 16 KiB pread at a random offset of a cold file, its pages
//     dropped: the floor a block miss stands on).
//
// The agent step is one run.Update: an event append (400 B), a KV put of a
// fresh key (400 B), a CAS of a state cell (the run's first step creates
// it), and an LLMCall span with 400 B of input and 800 B of output, under
// the default Batched durability. Payloads are text-like by default (words
// of a fixed vocabulary drawn from a Zipf law: each step's payloads differ
// and compress about as English text does; the report gives gzip's ratio
// on them); -payload random makes them incompressible.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inmem-db/inmem"
)

type config struct {
	Phase        string
	Dir          string
	Runs         int
	Steps        int
	Flow         int
	SampleEvery  int
	ReadRuns     int
	Samples      int
	Payload      string
	Cache        int64
	Evict        bool
	Warm         bool
	Variant      string
	Out          string
	Keep         bool
	CompactEvery int
	Freezer      string
	FlowFrom     string
	Stall        time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.Phase, "phase", "", "run one phase only (memory, flow, reads-build, reads); empty: all of them, each in its own process")
	flag.StringVar(&c.Dir, "dir", "", "working directory, left in place (default: a new one under $TMPDIR, removed at the end unless -keep)")
	flag.IntVar(&c.Runs, "runs", 20000, "runs of the memory phase")
	flag.IntVar(&c.Steps, "steps", 50, "agent steps per run, in every phase")
	flag.IntVar(&c.Flow, "flow", 200000, "steps of the flow phase, in runs of -steps")
	flag.IntVar(&c.SampleEvery, "sample-every", 20000, "steps between RSS samples of the flow phase")
	flag.IntVar(&c.ReadRuns, "read-runs", 2000, "runs of the read phases (every other one frozen)")
	flag.IntVar(&c.Samples, "samples", 20000, "timed ops per op kind and tier in each read phase")
	flag.StringVar(&c.Payload, "payload", "text", "payload bytes: text (Zipf-drawn words) or random (incompressible)")
	flag.Int64Var(&c.Cache, "cache", 64<<20, "block cache bytes (reads phase)")
	flag.BoolVar(&c.Evict, "evict", false, "drop the cold files' pages from the OS page cache before every cold op (reads phase)")
	flag.BoolVar(&c.Warm, "warm", false, "read every cold run's keys and events once before timing (reads phase)")
	flag.StringVar(&c.Variant, "variant", "", "the reads phase's name in the report")
	flag.StringVar(&c.Out, "out", "", "where a phase writes its JSON result")
	flag.BoolVar(&c.Keep, "keep", false, "keep the default working directory")
	flag.StringVar(&c.Freezer, "freezer", "background", "flow phase: background (WithColdAfter(0)) or bench (WithColdAfter(-1) and Runs.Freeze from the bench as runs end)")
	flag.StringVar(&c.FlowFrom, "flow-from", "memory", "flow phase: start from a copy of the memory phase's directory (memory) or from an empty one (empty)")
	flag.DurationVar(&c.Stall, "stall", time.Minute, "flow phase: give up when no step commits for this long, writing the goroutines' stacks")
	flag.IntVar(&c.CompactEvery, "compact-every", 1000, "memory phase: CompactCold after every this many Runs.Freeze calls (timed apart from them); "+
		"0: only after the loop, which at 20000 runs fails with \"too many open files\" under a 20000-descriptor limit")
	flag.Parse()
	if c.Steps < 10 || c.Runs < 1 || c.Flow < c.Steps || c.ReadRuns < 2 || c.Samples < 1 || c.SampleEvery < 1 {
		fail(errors.New("want -steps >= 10 (a range reads 10 events), -runs, -read-runs >= 2, -flow >= -steps, -samples and -sample-every >= 1"))
	}
	if c.Payload != "text" && c.Payload != "random" {
		fail(fmt.Errorf("-payload %q: want text or random", c.Payload))
	}
	var res any
	var err error
	switch c.Phase {
	case "":
		err = orchestrate(c)
		if err != nil {
			fail(err)
		}
		return
	case "memory":
		res, err = memoryPhase(c)
	case "flow":
		res, err = flowPhase(c)
	case "reads-build":
		res, err = readsBuildPhase(c)
	case "reads":
		res, err = readsPhase(c)
	default:
		err = fmt.Errorf("no phase %q", c.Phase)
	}
	if err != nil {
		fail(fmt.Errorf("phase %s: %w", c.Phase, err))
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err == nil {
		err = os.WriteFile(c.Out, b, 0o644)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "coldtier:", err)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// orchestrate runs every phase in its own process and prints the report.
func orchestrate(c config) error {
	dir := c.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "coldtier-")
		if err != nil {
			return err
		}
		dir = d
		if !c.Keep {
			defer os.RemoveAll(dir)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	common := []string{"-dir", dir, "-runs", strconv.Itoa(c.Runs), "-steps", strconv.Itoa(c.Steps),
		"-flow", strconv.Itoa(c.Flow), "-sample-every", strconv.Itoa(c.SampleEvery),
		"-read-runs", strconv.Itoa(c.ReadRuns), "-samples", strconv.Itoa(c.Samples), "-payload", c.Payload,
		"-compact-every", strconv.Itoa(c.CompactEvery)}
	phase := func(name string, extra []string, res any) error {
		out := filepath.Join(dir, name+".json")
		args := append(append([]string{"-phase", strings.Fields(name)[0], "-out", out}, common...), extra...)
		logf("phase %s: %s", name, strings.Join(args, " "))
		cmd := exec.Command(self, args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		runErr := cmd.Run()
		var exit *exec.ExitError
		if runErr != nil && !(errors.As(runErr, &exit) && exit.ExitCode() == exitStalled) {
			return fmt.Errorf("phase %s: %w", name, runErr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, res)
	}
	var mem memResult
	var flows []flowResult
	var build readsBuildResult
	var reads []readsResult
	if err := phase("memory", nil, &mem); err != nil {
		return err
	}
	for _, v := range [][2]string{{"background", "memory"}, {"bench", "memory"}, {"background", "empty"}} {
		var f flowResult
		if err := phase("flow "+v[0]+"-"+v[1], []string{"-freezer", v[0], "-flow-from", v[1], "-stall", c.Stall.String()}, &f); err != nil {
			return err
		}
		flows = append(flows, f)
	}
	if err := phase("reads-build", nil, &build); err != nil {
		return err
	}
	for _, v := range []struct {
		name  string
		extra []string
	}{
		{"warm", []string{"-cache", strconv.Itoa(64 << 20), "-warm"}},
		{"warm-256MiB", []string{"-cache", strconv.Itoa(256 << 20), "-warm"}},
		{"miss", []string{"-cache", strconv.Itoa(1 << 20)}},
		{"miss-disk", []string{"-cache", strconv.Itoa(1 << 20), "-evict"}},
	} {
		var r readsResult
		if err := phase("reads "+v.name, append(v.extra, "-variant", v.name), &r); err != nil {
			return err
		}
		reads = append(reads, r)
	}
	report(os.Stdout, c, mem, flows, build, reads)
	return nil
}

// ---- the workload ----

// payloads makes each step's payload bytes.
type payloads struct {
	r     *rand.Rand
	zipf  *rand.Zipf
	words [][]byte
	text  bool
}

// vocabulary is the number of distinct words of text payloads; with the
// Zipf law below, gzip makes them about a third of their size, as it
// does English prose.
const vocabulary = 8192

func newPayloads(kind string, seed int64) *payloads {
	r := rand.New(rand.NewSource(seed))
	p := &payloads{r: r, text: kind == "text"}
	vr := rand.New(rand.NewSource(1)) // the same vocabulary in every process
	for range vocabulary {
		w := make([]byte, 2+vr.Intn(9))
		for i := range w {
			w[i] = 'a' + byte(vr.Intn(26))
		}
		p.words = append(p.words, w)
	}
	p.zipf = rand.NewZipf(r, 1.1, 2, vocabulary-1)
	return p
}

// fill overwrites b with fresh payload bytes.
func (p *payloads) fill(b []byte) {
	if !p.text {
		p.r.Read(b)
		return
	}
	n := 0
	for n < len(b) {
		n += copy(b[n:], p.words[p.zipf.Uint64()])
		if n < len(b) {
			b[n] = ' '
			n++
		}
	}
}

// gzipRatio is gzip's compressed size over the raw size of 1 MB of
// payloads: how compressible the data is, for the disk numbers.
func gzipRatio(kind string) float64 {
	p := newPayloads(kind, 99)
	raw := make([]byte, 1<<20)
	p.fill(raw)
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(raw)
	w.Close()
	return float64(buf.Len()) / float64(len(raw))
}

const (
	eventBytes = 400
	kvBytes    = 400
	inBytes    = 400
	outBytes   = 800
)

var spanAttrs = map[string]string{
	"gen_ai.operation.name":      "chat",
	"gen_ai.request.model":       "gpt-4o-mini",
	"gen_ai.usage.input_tokens":  "512",
	"gen_ai.usage.output_tokens": "128",
}

// stepKey is the KV key agent step s (1-based) writes.
func stepKey(s int) string { return fmt.Sprintf("step/%06d", s) }

// writer writes agent steps.
type writer struct {
	p                   *payloads
	ev, kv, in, out, st []byte
}

func newWriter(kind string, seed int64) *writer {
	return &writer{p: newPayloads(kind, seed), ev: make([]byte, eventBytes), kv: make([]byte, kvBytes),
		in: make([]byte, inBytes), out: make([]byte, outBytes), st: make([]byte, 8)}
}

// run writes one run of steps agent steps and ends it.
func (w *writer) run(db *inmem.DB, name string, steps int) (inmem.RunID, error) {
	run, err := db.BeginRun(inmem.Name(name))
	if err != nil {
		return inmem.RunID{}, err
	}
	var cell inmem.Cell
	for s := 1; s <= steps; s++ {
		w.p.fill(w.ev)
		w.p.fill(w.kv)
		w.p.fill(w.in)
		w.p.fill(w.out)
		w.st[0], w.st[1] = byte(s), byte(s>>8)
		now := time.Now()
		key := stepKey(s)
		err := run.Update(func(tx *inmem.Tx) error {
			if _, err := tx.Events().Append("tool_result", w.ev); err != nil {
				return err
			}
			if err := tx.KV().Put(key, w.kv); err != nil {
				return err
			}
			var next inmem.Cell
			var err error
			if s == 1 {
				next, err = tx.State().Init("phase", w.st)
			} else {
				next, err = tx.State().CAS("phase", cell.Version, w.st)
			}
			if err != nil {
				return err
			}
			if _, err := tx.Traces().Record(inmem.Span{
				Kind: inmem.LLMCall, Name: "chat gpt-4o-mini",
				Start: now.Add(-800 * time.Millisecond), End: now, Status: inmem.StatusOK,
				Input: w.in, Output: w.out, Attrs: spanAttrs,
			}); err != nil {
				return err
			}
			cell = next
			return nil
		})
		if err != nil {
			return inmem.RunID{}, fmt.Errorf("run %s step %d: %w", name, s, err)
		}
	}
	return run.ID(), run.End(inmem.Completed, "")
}

// ---- measuring ----

// mem is a memory reading: RSS after the GC has returned what it can.
type mem struct {
	RSS      int64 `json:"rss"`
	Used     int64 `json:"mem_used"`
	Reserved int64 `json:"mem_reserved"`
	Entries  int64 `json:"entries"`
	HeapLive uint64
}

// settle collects garbage and returns freed pages to the OS, twice with a
// pause: an arena generation a reclaim replaced is unmapped by a cleanup
// that runs after the GC found it unreachable.
func settle() {
	for range 3 {
		runtime.GC()
		debug.FreeOSMemory()
		time.Sleep(100 * time.Millisecond)
	}
}

func measure(db *inmem.DB) mem {
	settle()
	st := db.Stats()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return mem{RSS: vmRSS(), Used: st.MemUsed, Reserved: st.MemReserved, Entries: st.Entries, HeapLive: ms.HeapAlloc}
}

// vmRSS is VmRSS from /proc/self/status, in bytes.
func vmRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return -1
}

// fresh fails if dir exists: a phase that writes its data set starts from
// nothing, or its numbers would count an earlier run's data.
func fresh(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("%s exists: remove it, or give another -dir", dir)
	}
	return nil
}

// coldFiles lists the files of dir/cold.
func coldFiles(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "cold", "*.cold"))
	return m
}

// ---- phase: memory ----

type memResult struct {
	Runs, Steps int
	Payload     string
	GzipRatio   float64
	BuildSecs   float64
	Empty, Hot  mem
	FreezeSecs  float64 // the Runs.Freeze calls alone
	// CompactEvery is how many freezes each CompactCold during the loop
	// followed (0: none); InLoopCompacts of them took InLoopCompactSecs.
	CompactEvery      int
	InLoopCompacts    int
	InLoopCompactSecs float64
	// AutoReclaims counts reclaims that ran by themselves during the
	// freeze loop.
	AutoReclaims uint64
	Frozen       mem // after freezing, before Reclaim
	ReclaimSecs  float64
	Reclaim      inmem.ReclaimStats
	Cold         mem // after Reclaim
	// AfterCommits is after trailingCommits more one-key commits: the
	// reclaimed generation is unmapped only once the oracle has let go of
	// the commits made in it (see report).
	AfterCommits   mem
	ColdRuns       int
	ColdBytes      int64
	DiskBytes      int64 // du: allocated blocks of the cold files
	ColdFiles      int
	CompactSecs    float64
	CompactBytes   int64
	CompactFiles   int
	Compacted      mem
	CheckpointSecs float64
	OpenFDs        int // the process's open file descriptors at the end
}

func memoryPhase(c config) (*memResult, error) {
	dir := filepath.Join(c.Dir, "memory")
	if err := fresh(dir); err != nil {
		return nil, err
	}
	res := &memResult{Runs: c.Runs, Steps: c.Steps, Payload: c.Payload, GzipRatio: gzipRatio(c.Payload)}
	db, err := inmem.Open(dir, inmem.WithColdAfter(-1))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	res.Empty = measure(db)
	w := newWriter(c.Payload, 1)
	ids := make([]inmem.RunID, 0, c.Runs)
	t0 := time.Now()
	for i := range c.Runs {
		id, err := w.run(db, fmt.Sprintf("r%06d", i), c.Steps)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
		if (i+1)%(max(c.Runs/10, 1)) == 0 {
			logf("memory: %d/%d runs written", i+1, c.Runs)
		}
	}
	res.BuildSecs = time.Since(t0).Seconds()
	res.Hot = measure(db)
	logf("memory: hot rss %s used %s", mib(res.Hot.RSS), mib(res.Hot.Used))

	reclaims := db.Stats().Reclaims
	res.CompactEvery = c.CompactEvery
	var freezing, compacting time.Duration
	for i, id := range ids {
		t0 := time.Now()
		if err := db.Runs().Freeze(id); err != nil {
			return nil, err
		}
		freezing += time.Since(t0)
		if c.CompactEvery > 0 && (i+1)%c.CompactEvery == 0 {
			// Runs.Freeze writes a file per run, and CompactCold opens
			// every small file at once: see -compact-every.
			t0 := time.Now()
			if err := db.CompactCold(); err != nil {
				return nil, err
			}
			compacting += time.Since(t0)
			res.InLoopCompacts++
		}
		if (i+1)%(max(c.Runs/10, 1)) == 0 {
			logf("memory: %d/%d runs frozen", i+1, c.Runs)
		}
	}
	res.FreezeSecs, res.InLoopCompactSecs = freezing.Seconds(), compacting.Seconds()
	res.AutoReclaims = db.Stats().Reclaims - reclaims
	res.Frozen = measure(db)
	logf("memory: frozen rss %s used %s", mib(res.Frozen.RSS), mib(res.Frozen.Used))

	t0 = time.Now()
	if res.Reclaim, err = db.Reclaim(); err != nil {
		return nil, err
	}
	res.ReclaimSecs = time.Since(t0).Seconds()
	res.Cold = measure(db)
	scratch := db.Shared(inmem.Namespace{Tenant: "bench", App: "coldtier", Agent: "scratch"}).KV()
	for i := range trailingCommits {
		if err := scratch.Put("tick", []byte{byte(i)}); err != nil {
			return nil, err
		}
	}
	res.AfterCommits = measure(db)
	logf("memory: after %d more commits rss %s", trailingCommits, mib(res.AfterCommits.RSS))
	st := db.Stats()
	res.ColdRuns, res.ColdBytes = st.ColdRuns, st.ColdBytes
	files := coldFiles(dir)
	res.ColdFiles = len(files)
	res.DiskBytes = diskUsage(files)
	logf("memory: cold rss %s used %s, %d runs in %d files, %s", mib(res.Cold.RSS), mib(res.Cold.Used), res.ColdRuns, res.ColdFiles, mib(res.ColdBytes))

	// What the background freezer does by itself to a run of small files.
	t0 = time.Now()
	if err := db.CompactCold(); err != nil {
		return nil, err
	}
	res.CompactSecs = time.Since(t0).Seconds()
	res.CompactBytes = db.Stats().ColdBytes
	res.CompactFiles = len(coldFiles(dir))
	res.Compacted = measure(db)
	// The next phase opens the directory: from a small snapshot rather
	// than by replaying the whole hot history from the WAL.
	t0 = time.Now()
	if err := db.Checkpoint(); err != nil {
		return nil, err
	}
	res.CheckpointSecs = time.Since(t0).Seconds()
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		res.OpenFDs = len(fds)
	}
	return res, db.Close()
}

// trailingCommits is how many commits the oracle keeps records of before
// it trims them (occ's trimAt): each record holds the generation its
// commit was made in.
const trailingCommits = 256

// ---- phase: flow ----

type flowSample struct {
	Steps    int
	Secs     float64
	RSS      int64
	Used     int64
	Reserved int64
	// ColdRuns and Ended are read as the sample starts, before the pause
	// for the GC lets the freezer catch up.
	ColdRuns  int
	Ended     int
	Freezes   uint64
	Reclaims  uint64
	ColdBytes int64
	ColdFiles int
}

type flowResult struct {
	Freezer      string // "background" (WithColdAfter(0)) or "bench" (see -freezer)
	From         string // "memory" (a copy of its directory) or "empty"
	Steps, Runs  int
	CloneSecs    float64
	OpenSecs     float64
	Open         mem // after Open, before the flow
	Samples      []flowSample
	FlowSecs     float64 // writing the steps, samples excluded
	WallSecs     float64 // from the first step to the last, samples included
	Lag          int     // runs ended but not frozen when the last step committed
	CatchUpSecs  float64 // until the lag was 0
	FreezerRate  float64 // runs frozen per second of WallSecs (the freezer works through the samples too)
	EndRate      float64 // runs ended per second of WallSecs
	CacheHits    uint64
	ColdCompacts uint64
	// Stalled is set when no step committed for -stall: the goroutines'
	// stacks are then in Stacks, and the phase ends there.
	Stalled      bool
	StalledAfter int // steps committed before it
	Stacks       string
}

// flowDir is where a flow phase runs: a copy of the memory phase's
// directory, so each flow starts from the same frozen database.
func flowDir(c config) string { return filepath.Join(c.Dir, "flow-"+c.Freezer+"-"+c.FlowFrom) }

func flowPhase(c config) (*flowResult, error) {
	if c.Freezer != "background" && c.Freezer != "bench" {
		return nil, fmt.Errorf("-freezer %q: want background or bench", c.Freezer)
	}
	dir := flowDir(c)
	if err := fresh(dir); err != nil {
		return nil, err
	}
	res := &flowResult{Freezer: c.Freezer, From: c.FlowFrom}
	t0 := time.Now()
	switch c.FlowFrom {
	case "memory":
		if err := cloneDir(filepath.Join(c.Dir, "memory"), dir); err != nil {
			return nil, err
		}
	case "empty":
	default:
		return nil, fmt.Errorf("-flow-from %q: want memory or empty", c.FlowFrom)
	}
	res.CloneSecs = time.Since(t0).Seconds()
	opts := []inmem.Option{inmem.WithColdAfter(0)}
	if c.Freezer == "bench" {
		opts = []inmem.Option{inmem.WithColdAfter(-1)}
	}
	t0 = time.Now()
	db, err := inmem.Open(dir, opts...)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	res.OpenSecs = time.Since(t0).Seconds()
	res.Open = measure(db)
	base := db.Stats()
	runs := c.Flow / c.Steps
	res.Runs, res.Steps = runs, runs*c.Steps
	w := newWriter(c.Payload, 2)

	var mu sync.Mutex // guards res.Samples against the watchdog
	var done atomic.Int64
	go watchdog(c, res, &mu, &done)

	var ended chan inmem.RunID
	var freezerErr error
	freezerDone := make(chan struct{})
	if c.Freezer == "bench" {
		ended = make(chan inmem.RunID, runs)
		go func() {
			defer close(freezerDone)
			freezerErr = benchFreezer(db, ended)
		}()
	} else {
		close(freezerDone)
	}

	var paused time.Duration
	sample := func(steps, endedRuns int) {
		p0 := time.Now()
		st := db.Stats()
		m := measure(db)
		s := flowSample{Steps: steps, Secs: p0.Sub(t0).Seconds(), RSS: m.RSS, Used: m.Used, Reserved: m.Reserved,
			ColdRuns: st.ColdRuns - base.ColdRuns, Ended: endedRuns, Freezes: st.Freezes - base.Freezes,
			Reclaims: st.Reclaims - base.Reclaims, ColdBytes: st.ColdBytes, ColdFiles: len(coldFiles(dir))}
		mu.Lock()
		res.Samples = append(res.Samples, s)
		mu.Unlock()
		logf("flow %s: %d steps, rss %s used %s, %d/%d ended runs frozen, %d reclaims", c.Freezer, steps, mib(s.RSS), mib(s.Used), s.ColdRuns, endedRuns, s.Reclaims)
		paused += time.Since(p0)
	}
	t0 = time.Now()
	sample(0, 0)
	steps := 0
	for i := range runs {
		id, err := w.run(db, fmt.Sprintf("f%06d", i), c.Steps)
		if err != nil {
			return nil, err
		}
		if ended != nil {
			ended <- id
		}
		before := steps
		steps += c.Steps
		done.Store(int64(steps))
		if steps/c.SampleEvery != before/c.SampleEvery && i+1 < runs {
			sample(steps, i+1)
		}
	}
	st := db.Stats()
	res.WallSecs = time.Since(t0).Seconds()
	res.FlowSecs = res.WallSecs - paused.Seconds()
	res.Lag = runs - (st.ColdRuns - base.ColdRuns)
	res.FreezerRate = float64(st.Freezes-base.Freezes) / res.WallSecs
	res.EndRate = float64(runs) / res.WallSecs
	tc := time.Now()
	for db.Stats().ColdRuns-base.ColdRuns < runs && time.Since(tc) < 2*time.Minute {
		time.Sleep(10 * time.Millisecond)
	}
	res.CatchUpSecs = time.Since(tc).Seconds()
	if ended != nil {
		close(ended)
	}
	<-freezerDone
	if freezerErr != nil {
		return nil, freezerErr
	}
	sample(steps, runs)
	st = db.Stats()
	res.CacheHits = st.CacheHits
	res.ColdCompacts = st.ColdCompactions - base.ColdCompactions
	done.Store(-1)
	return res, db.Close()
}

// watchdog ends the flow phase when no step commits for -stall: it writes
// the goroutines' stacks beside the result, and the result so far.
func watchdog(c config, res *flowResult, mu *sync.Mutex, done *atomic.Int64) {
	last, at := done.Load(), time.Now()
	for range time.Tick(time.Second) {
		n := done.Load()
		if n < 0 {
			return
		}
		if n != last {
			last, at = n, time.Now()
			continue
		}
		if time.Since(at) < c.Stall {
			continue
		}
		stacks := strings.TrimSuffix(c.Out, ".json") + "-stacks.txt"
		if f, err := os.Create(stacks); err == nil {
			pprof.Lookup("goroutine").WriteTo(f, 2)
			f.Close()
		}
		logf("flow %s: no step committed for %v after %d steps: stacks in %s", c.Freezer, c.Stall, n, stacks)
		mu.Lock()
		out := *res
		out.Samples = slices.Clone(res.Samples)
		mu.Unlock()
		out.Stalled, out.StalledAfter, out.Stacks = true, int(n), stacks
		if b, err := json.MarshalIndent(&out, "", "  "); err == nil {
			os.WriteFile(c.Out, b, 0o644)
		}
		os.Exit(exitStalled)
	}
}

// exitStalled is a flow phase's exit status when the watchdog ended it.
const exitStalled = 3

// benchFreezer is the freezer the bench runs itself for -freezer bench:
// every freezeGap it freezes the runs ended since (Runs.Freeze, a file
// each) and merges the small files with CompactCold once there are
// mergeAfter of them.
func benchFreezer(db *inmem.DB, ended <-chan inmem.RunID) error {
	const (
		freezeGap  = 200 * time.Millisecond
		mergeAfter = 100
	)
	unmerged := 0
	tick := time.NewTicker(freezeGap)
	defer tick.Stop()
	var pending []inmem.RunID
	open := true
	for open {
		<-tick.C
	drain:
		for {
			select {
			case id, ok := <-ended:
				if !ok {
					open = false
					break drain
				}
				pending = append(pending, id)
			default:
				break drain
			}
		}
		for _, id := range pending {
			if err := db.Runs().Freeze(id); err != nil {
				return err
			}
			unmerged++
		}
		pending = pending[:0]
		if unmerged >= mergeAfter || (!open && unmerged > 0) {
			if err := db.CompactCold(); err != nil {
				return err
			}
			unmerged = 0
		}
	}
	return nil
}

// cloneDir copies a closed database's directory: immutable files (cold
// files, snapshots) as hard links, the rest (the WAL, which a writer
// appends to) byte for byte.
func cloneDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		if strings.HasSuffix(p, ".cold") || strings.HasSuffix(p, ".snap") {
			if err := os.Link(p, to); err == nil {
				return nil
			}
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(to)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// ---- phase: reads-build ----

type readsBuildResult struct {
	Runs, Steps, ColdRuns int
	ColdBytes             int64
	ColdFiles             int
	HotUsed               int64 // arena bytes of the hot half
}

func readsBuildPhase(c config) (*readsBuildResult, error) {
	dir := filepath.Join(c.Dir, "reads")
	if err := fresh(dir); err != nil {
		return nil, err
	}
	db, err := inmem.Open(dir, inmem.WithColdAfter(-1))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	w := newWriter(c.Payload, 3)
	var ids []inmem.RunID
	for i := range c.ReadRuns {
		id, err := w.run(db, fmt.Sprintf("r%06d", i), c.Steps)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	res := &readsBuildResult{Runs: c.ReadRuns, Steps: c.Steps}
	for i, id := range ids {
		if i%2 == 1 {
			if err := db.Runs().Freeze(id); err != nil {
				return nil, err
			}
		}
	}
	// Freeze wrote a file per run; merge them as the freezer would.
	if err := db.CompactCold(); err != nil {
		return nil, err
	}
	if _, err := db.Reclaim(); err != nil {
		return nil, err
	}
	st := db.Stats()
	res.ColdRuns, res.ColdBytes, res.ColdFiles, res.HotUsed = st.ColdRuns, st.ColdBytes, len(coldFiles(dir)), st.MemUsed
	if err := db.Checkpoint(); err != nil {
		return nil, err
	}
	logf("reads-build: %d runs, %d cold in %d files (%s)", res.Runs, res.ColdRuns, res.ColdFiles, mib(res.ColdBytes))
	return res, db.Close()
}

// ---- phase: reads ----

// dist is a latency distribution, in ns.
type dist struct {
	N                   int
	P50, P99, P999, Max float64
	Mean                float64
}

func summarize(ns []int64) dist {
	slices.Sort(ns)
	q := func(p float64) float64 { return float64(ns[min(int(p*float64(len(ns))), len(ns)-1)]) }
	var sum float64
	for _, x := range ns {
		sum += float64(x)
	}
	return dist{N: len(ns), P50: q(0.50), P99: q(0.99), P999: q(0.999), Max: float64(ns[len(ns)-1]), Mean: sum / float64(len(ns))}
}

type opResult struct {
	Op        string
	Hot, Cold dist
}

type readsResult struct {
	Variant     string
	Cache       int64
	Evict       bool
	Warm        bool
	HotRuns     int
	ColdRuns    int
	ColdBytes   int64
	Ops         []opResult
	Hits        uint64 // block cache hits and misses during the timed ops
	Misses      uint64
	WarmSecs    float64
	ReplayRuns  int
	ReplayMatch int
	ReplaySecs  float64 // per cold run
	RSS         int64
	// DiskRef is the disk itself, timed beside the ops when pages are
	// dropped: a diskRefBytes pread at a random offset of a cold file
	// whose pages were just dropped (what a block miss cannot beat).
	DiskRef *dist `json:",omitempty"`
}

// diskRefBytes is the disk reference's read: about a compressed block
// and a half.
const diskRefBytes = 16 << 10

// op kinds of the read phase.
var opNames = []string{"KV Get", "Events Range(10)", "AsOf + KV Get"}

func readsPhase(c config) (*readsResult, error) {
	dir := filepath.Join(c.Dir, "reads")
	db, err := inmem.Open(dir, inmem.WithColdAfter(-1), inmem.WithBlockCache(c.Cache))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var hot, cold []*inmem.Run
	for info, err := range db.Runs().All(inmem.RunQuery{}) {
		if err != nil {
			return nil, err
		}
		r, err := db.Run(info.ID)
		if err != nil {
			return nil, err
		}
		if info.Cold {
			cold = append(cold, r)
		} else {
			hot = append(hot, r)
		}
	}
	if len(hot) == 0 || len(cold) == 0 {
		return nil, fmt.Errorf("%d hot and %d cold runs: want both", len(hot), len(cold))
	}
	res := &readsResult{Variant: c.Variant, Cache: c.Cache, Evict: c.Evict, Warm: c.Warm, HotRuns: len(hot), ColdRuns: len(cold),
		ColdBytes: db.Stats().ColdBytes}
	var evict func() error
	var files []*os.File
	if c.Evict {
		for _, p := range coldFiles(dir) {
			f, err := os.Open(p)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			files = append(files, f)
		}
		evict = func() error {
			for _, f := range files {
				if err := dropPageCache(f); err != nil {
					return err
				}
			}
			return nil
		}
		if err := evict(); err != nil {
			return nil, fmt.Errorf("dropping the cold files' pages: %w", err)
		}
	}
	steps := c.Steps
	if c.Warm {
		t0 := time.Now()
		for range 2 { // the cache admits what it sees again
			for _, r := range cold {
				if _, err := r.Events().Range(0, uint64(steps)); err != nil {
					return nil, err
				}
				for s := 1; s <= steps; s++ {
					if _, err := r.KV().Get(stepKey(s)); err != nil {
						return nil, err
					}
				}
			}
		}
		res.WarmSecs = time.Since(t0).Seconds()
	}

	rng := rand.New(rand.NewSource(7))
	// op runs one read of kind k on run r; the arguments are drawn before
	// the clock starts.
	type args struct {
		key  string
		from uint64
		step int
	}
	draw := func(k int) args {
		switch k {
		case 0:
			return args{key: stepKey(1 + rng.Intn(steps))}
		case 1:
			return args{from: uint64(rng.Intn(steps - 9))}
		default:
			s := 1 + rng.Intn(steps)
			return args{step: s, key: stepKey(1 + rng.Intn(s))}
		}
	}
	do := func(k int, r *inmem.Run, a args) error {
		switch k {
		case 0:
			v, err := r.KV().Get(a.key)
			if err == nil && len(v) != kvBytes {
				err = fmt.Errorf("kv get: %d bytes", len(v))
			}
			return err
		case 1:
			es, err := r.Events().Range(a.from, a.from+10)
			if err == nil && len(es) != 10 {
				err = fmt.Errorf("events range: %d events", len(es))
			}
			return err
		default:
			v, err := r.AsOf(a.step)
			if err != nil {
				return err
			}
			b, err := v.KV().Get(a.key)
			if err == nil && len(b) != kvBytes {
				err = fmt.Errorf("kv get through a view: %d bytes", len(b))
			}
			return err
		}
	}
	lat := make([][2][]int64, len(opNames))
	for k := range lat {
		for t := range 2 {
			lat[k][t] = make([]int64, 0, c.Samples)
		}
	}
	timed := func(k, tier int) error {
		var r *inmem.Run
		if tier == 0 {
			r = hot[rng.Intn(len(hot))]
		} else {
			r = cold[rng.Intn(len(cold))]
			if evict != nil {
				if err := evict(); err != nil {
					return err
				}
			}
		}
		a := draw(k)
		t0 := time.Now()
		err := do(k, r, a)
		lat[k][tier] = append(lat[k][tier], int64(time.Since(t0)))
		return err
	}
	var ref []int64
	refBuf := make([]byte, diskRefBytes)
	diskRef := func() error {
		f := files[rng.Intn(len(files))]
		st, err := f.Stat()
		if err != nil {
			return err
		}
		off := rng.Int63n(max(st.Size()-diskRefBytes, 1))
		if err := evict(); err != nil {
			return err
		}
		t0 := time.Now()
		_, err = f.ReadAt(refBuf, off)
		ref = append(ref, int64(time.Since(t0)))
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return err
	}
	settle()
	st0 := db.Stats()
	for i := range c.Samples {
		if evict != nil && i%4 == 0 {
			if err := diskRef(); err != nil {
				return nil, err
			}
		}
		for k := range opNames {
			// Hot and cold alternate, and which goes first too, so noise
			// and the previous op's cache footprint fall on both alike.
			first := i & 1
			if err := timed(k, first); err != nil {
				return nil, err
			}
			if err := timed(k, 1-first); err != nil {
				return nil, err
			}
		}
	}
	st1 := db.Stats()
	res.Hits, res.Misses = st1.CacheHits-st0.CacheHits, st1.CacheMisses-st0.CacheMisses
	if len(ref) > 0 {
		d := summarize(ref)
		res.DiskRef = &d
	}
	for k, name := range opNames {
		res.Ops = append(res.Ops, opResult{Op: name, Hot: summarize(lat[k][0]), Cold: summarize(lat[k][1])})
	}
	res.RSS = vmRSS()

	// Replay rebuilds a cold run from its file and compares.
	n := min(5, len(cold))
	t0 := time.Now()
	for _, r := range cold[:n] {
		rep, err := db.Replay(r.ID())
		if err != nil {
			return nil, err
		}
		res.ReplayRuns++
		if rep.Match {
			res.ReplayMatch++
		}
	}
	res.ReplaySecs = time.Since(t0).Seconds() / float64(n)
	logf("reads %s: hits %d misses %d, replay %d/%d match", c.Variant, res.Hits, res.Misses, res.ReplayMatch, res.ReplayRuns)
	return res, db.Close()
}

// ---- the report ----

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func us(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e4:
		return fmt.Sprintf("%.0f µs", ns/1e3)
	}
	return fmt.Sprintf("%.2f µs", ns/1e3)
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func report(w io.Writer, c config, m memResult, flows []flowResult, b readsBuildResult, reads []readsResult) {
	fmt.Fprintf(w, "`cd bench && go run ./cmd/coldtier -runs %d -steps %d -flow %d -sample-every %d -read-runs %d -samples %d -payload %s -compact-every %d`\n\n",
		c.Runs, c.Steps, c.Flow, c.SampleEvery, c.ReadRuns, c.Samples, c.Payload, c.CompactEvery)
	fmt.Fprintf(w, "Machine: %d CPUs, %s, GOMAXPROCS %d. Payloads: %s (gzip -6 makes them %.0f%% of their size).\n\n",
		runtime.NumCPU(), runtime.Version(), runtime.GOMAXPROCS(0), c.Payload, 100*m.GzipRatio)

	steps := m.Runs * m.Steps
	hotArena := m.Hot.Used - m.Empty.Used
	fmt.Fprintf(w, "**Memory bound**: %d runs x %d agent steps (%d steps), all ended; RSS = VmRSS after runtime.GC + debug.FreeOSMemory.\n\n", m.Runs, m.Steps, steps)
	fmt.Fprintln(w, "| state | RSS | MemUsed | MemReserved | entries | Go heap |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: |")
	row := func(name string, x mem) {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %d | %s |\n", name, mib(x.RSS), mib(x.Used), mib(x.Reserved), x.Entries, mib(int64(x.HeapLive)))
	}
	row("empty database", m.Empty)
	row("all hot", m.Hot)
	row("all frozen, before Reclaim", m.Frozen)
	row("all frozen, after Reclaim", m.Cold)
	row(fmt.Sprintf("then %d one-key commits", trailingCommits), m.AfterCommits)
	row("after CompactCold", m.Compacted)
	fmt.Fprintln(w)
	ratio := float64(m.Cold.RSS) / float64(m.Hot.RSS)
	ratio2 := float64(m.AfterCommits.RSS) / float64(m.Hot.RSS)
	fmt.Fprintf(w, "| measure | value | goal |\n| --- | ---: | --- |\n")
	fmt.Fprintf(w, "| cold RSS / hot RSS, right after Reclaim | %.1f%% | <= 10%%: %s |\n", 100*ratio, yes(ratio <= 0.10))
	fmt.Fprintf(w, "| cold RSS / hot RSS, after %d more commits | %.1f%% | <= 10%%: %s |\n", trailingCommits, 100*ratio2, yes(ratio2 <= 0.10))
	fmt.Fprintf(w, "| RSS given back by Reclaim itself | %s (%s -> %s) | |\n", mib(m.Frozen.RSS-m.Cold.RSS), mib(m.Frozen.RSS), mib(m.Cold.RSS))
	fmt.Fprintf(w, "| RSS given back once %d more commits landed | %s (%s -> %s) | |\n", trailingCommits, mib(m.Frozen.RSS-m.AfterCommits.RSS), mib(m.Frozen.RSS), mib(m.AfterCommits.RSS))
	fmt.Fprintf(w, "| build (hot writes) | %.1f s, %.0f steps/s | |\n", m.BuildSecs, float64(steps)/m.BuildSecs)
	fmt.Fprintf(w, "| Runs.Freeze loop, the calls alone | %.1f s: %.0f runs/s, %.0f steps/s (%d reclaims by themselves meanwhile) | |\n",
		m.FreezeSecs, float64(m.Runs)/m.FreezeSecs, float64(steps)/m.FreezeSecs, m.AutoReclaims)
	if m.CompactEvery > 0 {
		fmt.Fprintf(w, "| CompactCold every %d freezes, in the loop | %d calls, %.1f s in all | |\n", m.CompactEvery, m.InLoopCompacts, m.InLoopCompactSecs)
	}
	fmt.Fprintf(w, "| Reclaim | %.2f s, arena %s -> %s, %d entries dropped | |\n", m.ReclaimSecs, mib(m.Reclaim.Before), mib(m.Reclaim.After), m.Reclaim.Dropped)
	fmt.Fprintf(w, "| CompactCold after the loop, of %d files | %.1f s, to %d files | |\n", m.ColdFiles, m.CompactSecs, m.CompactFiles)
	fmt.Fprintf(w, "| Checkpoint after | %.2f s | |\n", m.CheckpointSecs)
	fmt.Fprintf(w, "| open file descriptors at the end | %d | |\n\n", m.OpenFDs)

	fmt.Fprintf(w, "**Disk**: the same %d runs.\n\n| measure | bytes | / hot arena bytes | goal |\n| --- | ---: | ---: | --- |\n", m.Runs)
	fmt.Fprintf(w, "| hot arena bytes (MemUsed all hot - empty) | %s | 1 | |\n", mib(hotArena))
	fmt.Fprintf(w, "| payload bytes written (%d B a step) | %s | %.2f | |\n", eventBytes+kvBytes+inBytes+outBytes,
		mib(int64(steps)*(eventBytes+kvBytes+inBytes+outBytes)), float64(int64(steps)*(eventBytes+kvBytes+inBytes+outBytes))/float64(hotArena))
	cr := float64(m.ColdBytes) / float64(hotArena)
	fmt.Fprintf(w, "| ColdBytes, all frozen (%d files) | %s | %.2f | <= 0.5: %s |\n", m.ColdFiles, mib(m.ColdBytes), cr, yes(cr <= 0.5))
	fmt.Fprintf(w, "| du of cold/ (allocated blocks) | %s | %.2f | |\n", mib(m.DiskBytes), float64(m.DiskBytes)/float64(hotArena))
	fmt.Fprintf(w, "| ColdBytes after CompactCold (%d files) | %s | %.2f | |\n\n", m.CompactFiles, mib(m.CompactBytes), float64(m.CompactBytes)/float64(hotArena))

	for _, f := range flows {
		how := "WithColdAfter(0): the background freezer"
		if f.Freezer == "bench" {
			how = "WithColdAfter(-1), the bench freezing each run as it ends (Runs.Freeze every 200 ms, CompactCold per 100 files)"
		}
		from := "a copy of the directory above opened again"
		if f.From == "empty" {
			from = "an empty database"
		}
		fmt.Fprintf(w, "**Flat under flow, %s freezer, from %s**: %s with %s (opened in %.2f s, RSS %s, MemUsed %s), then %d steps in %d runs of %d, one writer; default WithReclaimAt.\n\n",
			f.Freezer, f.From, from, how, f.OpenSecs, mib(f.Open.RSS), mib(f.Open.Used), f.Steps, f.Runs, m.Steps)
		fmt.Fprintln(w, "| steps | s | RSS | MemUsed | MemReserved | runs ended | frozen | reclaims | cold files | ColdBytes |")
		fmt.Fprintln(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
		for _, s := range f.Samples {
			fmt.Fprintf(w, "| %d | %.1f | %s | %s | %s | %d | %d | %d | %d | %s |\n", s.Steps, s.Secs, mib(s.RSS), mib(s.Used), mib(s.Reserved), s.Ended, s.ColdRuns, s.Reclaims, s.ColdFiles, mib(s.ColdBytes))
		}
		if f.Stalled {
			fmt.Fprintf(w, "\n**Stalled**: no step committed for %v after %d steps; the goroutines' stacks are in %s.\n\n", c.Stall, f.StalledAfter, f.Stacks)
			continue
		}
		fmt.Fprintf(w, "\nFlow: %.1f s of writes (%.0f steps/s; %.1f s with the samples' pauses, in which the freezer went on): %.1f runs ended/s and the freezer froze %.1f runs/s over those %.1f s; lag when the last step committed: %d runs, all frozen %.2f s later; %d cold compactions meanwhile. \"frozen\" and \"runs ended\" are read as each sample starts.\n\n",
			f.FlowSecs, float64(f.Steps)/f.FlowSecs, f.WallSecs, f.EndRate, f.FreezerRate, f.WallSecs, f.Lag, f.CatchUpSecs, f.ColdCompacts)
	}

	fmt.Fprintf(w, "**Reads**: %d runs x %d steps, %d frozen (%d files, %s), the rest hot; each op on a random run and a random key/step, timed alone, hot and cold alternating; %d samples per cell.\n\n",
		b.Runs, b.Steps, b.ColdRuns, b.ColdFiles, mib(b.ColdBytes), c.Samples)
	fmt.Fprintln(w, "| cache | op | hot p50 | hot p99 | cold p50 | cold p99 | cold p99.9 | p50 cold/hot | p99 cold/hot |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range reads {
		name := fmt.Sprintf("%s (%s", r.Variant, mib(r.Cache))
		if r.Evict {
			name += ", pages dropped"
		}
		name += ")"
		for _, o := range r.Ops {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %.2f | %.2f |\n", name, o.Op, us(o.Hot.P50), us(o.Hot.P99),
				us(o.Cold.P50), us(o.Cold.P99), us(o.Cold.P999), o.Cold.P50/o.Hot.P50, o.Cold.P99/o.Hot.P99)
		}
	}
	fmt.Fprintln(w)
	for _, r := range reads {
		hit := 0.0
		if r.Hits+r.Misses > 0 {
			hit = float64(r.Hits) / float64(r.Hits+r.Misses)
		}
		fmt.Fprintf(w, "- %s: block cache hits %d, misses %d (%.1f%% hits) during the timed ops", r.Variant, r.Hits, r.Misses, 100*hit)
		if r.Warm {
			fmt.Fprintf(w, "; warmed by two passes in %.1f s", r.WarmSecs)
		}
		fmt.Fprintf(w, "; Replay of %d cold runs: %d Match (%.1f ms each); RSS %s", r.ReplayRuns, r.ReplayMatch, r.ReplaySecs*1e3, mib(r.RSS))
		if r.DiskRef != nil {
			fmt.Fprintf(w, "; the disk itself, timed between the ops (%d KiB pread at a random offset of a cold file, its pages dropped, %d samples): p50 %s, p99 %s",
				diskRefBytes>>10, r.DiskRef.N, us(r.DiskRef.P50), us(r.DiskRef.P99))
		}
		fmt.Fprintf(w, ".\n")
	}
	var warm, miss *readsResult
	for i := range reads {
		switch reads[i].Variant {
		case "warm":
			warm = &reads[i]
		case "miss-disk":
			miss = &reads[i]
		}
	}
	if warm != nil && miss != nil {
		fmt.Fprintln(w, "\n| goal | measured | met |\n| --- | --- | --- |")
		for k, o := range warm.Ops {
			fmt.Fprintf(w, "| warm cold p50 <= 2x hot (%s) | %.2fx | %s |\n", o.Op, o.Cold.P50/o.Hot.P50, yes(o.Cold.P50 <= 2*o.Hot.P50))
			mo := miss.Ops[k]
			fmt.Fprintf(w, "| miss p99 <= 500 µs, pages dropped (%s) | %s | %s |\n", mo.Op, us(mo.Cold.P99), yes(mo.Cold.P99 <= 500e3))
		}
	}
}
