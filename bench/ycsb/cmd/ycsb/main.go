package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/inmem-db/inmem/bench/ycsb/harness"
	"github.com/inmem-db/inmem/bench/ycsb/ycsbdb"
	"github.com/pingcap/go-ycsb/pkg/ycsb"
)

// defaultOps was sized so that the default run (six databases, two
// distributions, six workloads, one and two threads: 144 runs and 12 loads
// of 1,000,000 records) takes at most about 25 minutes on a 2-core VM: a
// run of the whole matrix at a 25th of the size took 40 s, and passes at a
// fifth of the size, scaled up (1M records cost about 6x 200k, and the
// loads alone about 9 minutes), come to about 20 minutes with 80,000
// operations.
const defaultOps = 80_000

type config struct {
	dbs, workloads, dists, threads string
	records, ops                   int64
	loadThreads                    int
	dir, out                       string
}

func main() {
	var c config
	flag.StringVar(&c.dbs, "dbs", "inmem,badger,pebble,bbolt,btree,sqlite", "databases, comma-separated")
	flag.StringVar(&c.workloads, "workloads", "A,B,C,F,D,E", "workloads, comma-separated; they run in the order A, B, C, F, D, E")
	flag.StringVar(&c.dists, "dists", "zipfian,uniform", "request distributions, comma-separated (D uses latest whatever this says)")
	flag.StringVar(&c.threads, "threads", "1,2", "client thread counts, comma-separated")
	flag.Int64Var(&c.records, "records", 1_000_000, "records loaded per database and distribution")
	flag.Int64Var(&c.ops, "ops", defaultOps, "operations per run")
	flag.IntVar(&c.loadThreads, "load-threads", 2, "client threads of the load")
	flag.StringVar(&c.dir, "dir", os.TempDir(), "where each database gets a fresh directory, removed after its runs")
	flag.StringVar(&c.out, "out", "ycsb.json", "the JSON results, rewritten after each database and distribution (empty: none)")
	flag.Parse()
	if flag.NArg() > 0 {
		fatalf("unexpected arguments %q", flag.Args())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, c); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ycsb: "+format+"\n", args...)
	os.Exit(1)
}

// plan is what the flags ask for, checked.
type plan struct {
	dbs       []ycsbdb.Database
	workloads []harness.Workload
	dists     []string
	threads   []int
}

func parse(c config) (plan, error) {
	var p plan
	for _, name := range split(c.dbs) {
		d, err := ycsbdb.Lookup(name)
		if err != nil {
			return p, err
		}
		p.dbs = append(p.dbs, d)
	}
	want := map[string]bool{}
	for _, name := range split(c.workloads) {
		w, err := harness.LookupWorkload(name)
		if err != nil {
			return p, err
		}
		want[w.Name] = true
	}
	for _, w := range harness.Workloads { // YCSB's order, whatever the flag's
		if want[w.Name] {
			p.workloads = append(p.workloads, w)
		}
	}
	for _, d := range split(c.dists) {
		if !slices.Contains(harness.Distributions, d) {
			return p, fmt.Errorf("distribution %q: one of %s", d, strings.Join(harness.Distributions, ", "))
		}
		p.dists = append(p.dists, d)
	}
	for _, s := range split(c.threads) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return p, fmt.Errorf("thread count %q: a positive integer", s)
		}
		p.threads = append(p.threads, n)
	}
	switch {
	case len(p.dbs) == 0 || len(p.workloads) == 0 || len(p.dists) == 0 || len(p.threads) == 0:
		return p, errors.New("nothing to run: -dbs, -workloads, -dists and -threads each need a value")
	case c.loadThreads < 1 || c.records < int64(c.loadThreads):
		return p, fmt.Errorf("-records %d with -load-threads %d: need records >= load threads >= 1", c.records, c.loadThreads)
	case c.ops < int64(slices.Max(p.threads)):
		return p, fmt.Errorf("-ops %d: at least the largest thread count", c.ops)
	}
	return p, nil
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Cell is one run: a workload on one database, distribution and thread
// count.
type Cell struct {
	DB           string
	Pass         string // the distribution of the load's pass
	Workload     string
	Distribution string // the one the workload used: Pass, or latest for D
	Threads      int
	Records      int64 // in the database when the run began
	harness.Result
	Error string `json:",omitempty"`
}

// LoadResult is one load.
type LoadResult struct {
	DB, Pass string
	Records  int64
	Threads  int
	harness.Result
}

// Report is the JSON output.
type Report struct {
	Machine machine
	Command string
	Started time.Time
	Loads   []LoadResult
	Cells   []Cell
}

type machine struct {
	CPUs       int
	GOMAXPROCS int
	CPUModel   string
	GoVersion  string
	OS, Arch   string
}

func thisMachine() machine {
	return machine{
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		CPUModel:   cpuModel(),
		GoVersion:  runtime.Version(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
	}
}

// cpuModel is the first "model name" of /proc/cpuinfo, or "" elsewhere.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// command is the command line with every flag's value spelled out, so a
// table says exactly what made it.
func command() string {
	var b strings.Builder
	b.WriteString("cd bench/ycsb && go run ./cmd/ycsb")
	flag.VisitAll(func(f *flag.Flag) {
		v := f.Value.String()
		if f.Name == "dir" {
			return // a machine's temp dir, not a setting of the run
		}
		if v == "" || strings.ContainsAny(v, " \t'\"") {
			v = strconv.Quote(v)
		}
		fmt.Fprintf(&b, " -%s %s", f.Name, v)
	})
	return b.String()
}

func run(ctx context.Context, c config) error {
	p, err := parse(c)
	if err != nil {
		return err
	}
	rep := &Report{Machine: thisMachine(), Command: command(), Started: time.Now()}
	passes := len(p.dbs) * len(p.dists)
	fmt.Fprintf(os.Stderr, "%s\n%d databases x %d distributions: %d loads of %d records and %d runs of %d operations\n",
		rep.Command, len(p.dbs), len(p.dists), passes, c.records, passes*len(p.workloads)*len(p.threads), c.ops)
	if c.records == 1_000_000 && c.ops == defaultOps && passes == 12 && len(p.workloads) == 6 && slices.Equal(p.threads, []int{1, 2}) {
		fmt.Fprintln(os.Stderr, "estimate: the defaults take about 20 minutes on a 2-core VM")
	}
	failed := 0
	done := 0
	for _, d := range p.dbs {
		for _, dist := range p.dists {
			n, err := pass(ctx, c, p, d, dist, rep)
			failed += n
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "%s %s: %v\n", d.Name, dist, err)
				failed++
			}
			done++
			el := time.Since(rep.Started)
			left := time.Duration(float64(el) / float64(done) * float64(passes-done))
			fmt.Fprintf(os.Stderr, "-- %d of %d passes in %s; about %s left\n", done, passes, el.Round(time.Second), left.Round(time.Second))
			if err := writeJSON(c.out, rep); err != nil {
				return err
			}
		}
	}
	printTable(os.Stdout, c, p, rep)
	if failed > 0 {
		return fmt.Errorf("%d runs or passes failed (see above)", failed)
	}
	return nil
}

// pass loads a fresh database and runs every workload on it; it returns
// the number of runs that failed.
func pass(ctx context.Context, c config, p plan, d ycsbdb.Database, dist string, rep *Report) (failed int, err error) {
	dir, err := os.MkdirTemp(c.dir, "ycsb-"+d.Name+"-")
	if err != nil {
		return 0, err
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = rerr
		}
		// The next database should not pay for this one's garbage.
		runtime.GC()
		debug.FreeOSMemory()
	}()
	db, err := d.Open(dir)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close: %w", cerr)
		}
	}()
	lr, err := harness.Load(ctx, db, c.records, c.loadThreads)
	if err != nil {
		return 0, fmt.Errorf("load: %w", err)
	}
	rep.Loads = append(rep.Loads, LoadResult{DB: d.Name, Pass: dist, Records: c.records, Threads: c.loadThreads, Result: lr})
	fmt.Fprintf(os.Stderr, "%-7s %-8s load  %8d records  %9s  %s/s\n", d.Name, dist, c.records, lr.Elapsed.Round(time.Millisecond), num(lr.Throughput))
	records := c.records
	for _, w := range p.workloads {
		for _, th := range p.threads {
			cell, err := runOne(ctx, db, w, harness.Options{Records: records, Ops: c.ops, Threads: th, Distribution: dist})
			cell.DB, cell.Pass = d.Name, dist
			records += cell.Inserted
			rep.Cells = append(rep.Cells, cell)
			if err != nil {
				if ctx.Err() != nil {
					return failed, ctx.Err()
				}
				failed++
				fmt.Fprintf(os.Stderr, "%s %s %s %d threads: %v\n", d.Name, dist, w.Name, th, err)
				continue
			}
			fmt.Fprintf(os.Stderr, "%-7s %-8s %s %dt  %8d ops  %9s  %s/s  p99 %s\n", d.Name, cell.Distribution, w.Name, th,
				cell.Ops, cell.Elapsed.Round(time.Millisecond), num(cell.Throughput), dur(cell.Latency.P99))
		}
	}
	return failed, nil
}

func runOne(ctx context.Context, db ycsb.DB, w harness.Workload, o harness.Options) (Cell, error) {
	r, err := harness.Run(ctx, db, w, o)
	cell := Cell{Workload: w.Name, Distribution: w.Distribution(o.Distribution), Threads: o.Threads, Records: o.Records, Result: r}
	if err != nil {
		cell.Error = err.Error()
	}
	return cell, err
}

func writeJSON(path string, rep *Report) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
