package main

import (
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"
	"text/tabwriter"
)

//go:embed targets.json
var defaultTargets []byte

//go:embed baseline.json
var defaultBaseline []byte

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Exit codes: a regression is 1, so CI can tell it from a broken run (2).
const (
	exitPass       = 0
	exitRegression = 1
	exitError      = 2
)

// run is the command, testable: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("perfcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cases      = fs.String("case", "", "comma-separated cases to run (default all: "+strings.Join(caseNames(), ", ")+")")
		rounds     = fs.Int("rounds", 5, "rounds; every metric is the median over rounds")
		scale      = fs.Float64("scale", 1, "multiplies ops per round and data sizes (0.1 for a quick run; baselines compare only at the same scale)")
		vectors    = fs.Int("vectors", 100_000, "base vectors (dim 128) of vector-search")
		vectorRank = fs.Int("vector-rank", sharedRank, "rank of vector-search's data: 16 is the shared annbench set (the baseline's), 128 full rank (no baseline comparison)")
		slowdown   = fs.Duration("slowdown", 0, "busy-wait added to every library op: a deliberate regression, to see the gate fail")
		targetsF   = fs.String("targets", "", "targets file (default: perfcheck/targets.json as built in)")
		baselineF  = fs.String("baseline", "", "baseline report to compare with (default: perfcheck/baseline.json as built in; \"none\" to skip)")
		writeBase  = fs.String("write-baseline", "", "write this run's report to this file, to become the baseline")
		enforceAll = fs.Bool("enforce-all", false, "fail on targets marked known_miss too")
		targetMets = fs.String("target-metrics", "", "comma-separated metrics whose absolute targets gate the run (default all); the others are reported, OVER when missed")
		threshold  = fs.Float64("threshold", DefaultGate.Threshold, "regression threshold: ratio to the baseline, both normalised by the reference workload, before the noise allowance")
		jsonOut    = fs.Bool("json", false, "print the report as JSON (for CI dashboards) instead of a table")
		cpuProf    = fs.String("cpuprofile", "", "write a CPU profile of the timed rounds to this file")
		memProf    = fs.String("memprofile", "", "write a heap profile (allocations of the whole run) to this file")
		mutexProf  = fs.String("mutexprofile", "", "write a mutex contention profile to this file")
		blockProf  = fs.String("blockprofile", "", "write a goroutine blocking profile to this file")
		traceF     = fs.String("trace", "", "write an execution trace of the timed rounds to this file")
		listCases  = fs.Bool("list", false, "list the cases and exit")
		quietSetup = fs.Bool("q", false, "no progress lines on stderr")
		confirm    = fs.Int("confirm", 0, "measure a case that fails a gate again, up to this many times; it passes if a measurement passes (a regression fails every one, a neighbour's burst on a shared machine seldom repeats)")
	)
	if err := fs.Parse(args); err != nil {
		return exitError
	}
	if *listCases {
		for _, c := range append([]Case{refCase}, libCases...) {
			fmt.Fprintf(stdout, "%-14s %s\n", c.Name, c.Doc)
		}
		return exitPass
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "perfcheck:", err)
		return exitError
	}

	tb := defaultTargets
	if *targetsF != "" {
		var err error
		if tb, err = os.ReadFile(*targetsF); err != nil {
			return fail(err)
		}
	}
	targets, err := ParseTargets(tb)
	if err != nil {
		return fail(err)
	}
	var base *Report
	switch *baselineF {
	case "none":
	case "":
		if base, err = parseReport(defaultBaseline); err != nil {
			return fail(fmt.Errorf("built-in baseline: %w", err))
		}
	default:
		b, err := os.ReadFile(*baselineF)
		if err != nil {
			return fail(err)
		}
		if base, err = parseReport(b); err != nil {
			return fail(fmt.Errorf("%s: %w", *baselineF, err))
		}
	}

	if *confirm < 0 {
		return fail(fmt.Errorf("-confirm %d: want 0 or more", *confirm))
	}
	if *vectorRank < 1 || *vectorRank > vecDim {
		return fail(fmt.Errorf("-vector-rank %d: want 1 to %d", *vectorRank, vecDim))
	}
	cfg := Config{Rounds: *rounds, Scale: *scale, Vectors: *vectors, Rank: *vectorRank, Slowdown: *slowdown}
	if *cases != "" {
		cfg.Cases = strings.Split(*cases, ",")
	}
	if !*quietSetup {
		cfg.Progress = stderr
	}
	if *mutexProf != "" {
		runtime.SetMutexProfileFraction(5)
		defer runtime.SetMutexProfileFraction(0)
	}
	if *blockProf != "" {
		runtime.SetBlockProfileRate(1000) // one sample per µs spent blocked
		defer runtime.SetBlockProfileRate(0)
	}
	cfg.During = func(rounds func() error) error {
		if *cpuProf != "" {
			f, err := os.Create(*cpuProf)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		if *traceF != "" {
			f, err := os.Create(*traceF)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := trace.Start(f); err != nil {
				return err
			}
			defer trace.Stop()
		}
		return rounds()
	}
	rep, err := RunSuite(cfg)
	if err != nil {
		return fail(err)
	}
	for _, p := range []struct{ file, name string }{{*memProf, "allocs"}, {*mutexProf, "mutex"}, {*blockProf, "block"}} {
		if p.file != "" {
			if err := writeProfile(p.name, p.file); err != nil {
				return fail(err)
			}
		}
	}
	if base != nil && len(base.Cases) == 0 {
		rep.Notes = append(rep.Notes, "the baseline is empty: write one with -write-baseline perfcheck/baseline.json")
		base = nil
	}
	opt := DefaultGate
	opt.Threshold = *threshold
	opt.EnforceAll = *enforceAll
	if *targetMets != "" {
		opt.TargetMetrics = strings.Split(*targetMets, ",")
	}
	Gate(rep, targets, base, opt)
	if err := confirmFailures(rep, *confirm, func(cases []string) (*Report, error) {
		again := cfg
		again.Cases, again.During = cases, nil
		r, err := RunSuite(again)
		if err == nil {
			Gate(r, targets, base, opt)
		}
		return r, err
	}); err != nil {
		return fail(err)
	}
	if *writeBase != "" {
		if err := writeReport(*writeBase, rep); err != nil {
			return fail(err)
		}
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fail(err)
		}
	} else {
		printReport(stdout, rep)
	}
	if !rep.Pass {
		return exitRegression
	}
	return exitPass
}

func parseReport(b []byte) (*Report, error) {
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func writeReport(path string, rep *Report) error {
	// A baseline holds measurements only: checks against another baseline
	// mean nothing to the next run.
	saved := *rep
	saved.Checks, saved.Notes, saved.Pass = nil, nil, false
	b, err := json.MarshalIndent(saved, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func writeProfile(name, path string) error {
	if name == "allocs" {
		runtime.GC() // the heap profile is as of the last GC
	}
	p := pprof.Lookup(name)
	if p == nil {
		return errors.New("no profile " + name)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := p.WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func printReport(w io.Writer, rep *Report) {
	m := rep.Machine
	fmt.Fprintf(w, "perfcheck: %s/%s, %s, %d CPUs (GOMAXPROCS %d), %s; %d rounds, scale %v",
		m.OS, m.Arch, m.CPU, m.NumCPU, m.GOMAXPROCS, m.Go, rep.Rounds, rep.Scale)
	if rep.Slow != "" {
		fmt.Fprintf(w, ", slowdown %s per op", rep.Slow)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\tops\tops/s\tp50\tp99\tp99.9\tmax\tns/op\tx ref\tnoise\tfloor p99\t")
	for _, c := range append([]CaseResult{rep.Ref}, rep.Cases...) {
		floor := "-"
		if c.Floor != nil {
			floor = fmtNs(c.Floor.P99)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%.0f\t%.2f\t%.3f\t%s\t\n", c.Name, c.Ops, c.OpsPerSec,
			fmtNs(c.P50), fmtNs(c.P99), fmtNs(c.P999), fmtNs(c.Max), c.Round["ns/op"], c.Norm["ns/op"], c.Noise["ns/op"], floor)
	}
	tw.Flush()
	fmt.Fprintln(w, "floor p99: a busy loop as long as the case's p50, timed the same way after each round: the machine's own tail at that speed")
	for _, c := range rep.Cases {
		if c.Data != "" {
			fmt.Fprintf(w, "%s data: %s\n", c.Name, c.Data)
		}
		for k, v := range c.Extra {
			fmt.Fprintf(w, "%s %s: %.4g\n", c.Name, k, v)
		}
	}
	fmt.Fprintln(w)
	for _, c := range rep.Checks {
		verdict := "PASS"
		switch {
		case !c.Pass && c.Known:
			verdict = "MISS"
		case !c.Pass && c.Ungated:
			verdict = "OVER"
		case !c.Pass:
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "%s %-8s %-14s %-9s %s\n", verdict, c.Kind, c.Case, c.Metric, c.Detail)
	}
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	if rep.Pass {
		fmt.Fprintln(w, "perfcheck: PASS")
	} else {
		fmt.Fprintln(w, "perfcheck: FAIL")
	}
}

// failedCases names the cases with a check that fails the run.
func failedCases(rep *Report) []string {
	var out []string
	for _, c := range rep.Checks {
		if !c.Pass && !c.Known && !c.Ungated && !slices.Contains(out, c.Case) {
			out = append(out, c.Case)
		}
	}
	return out
}

// confirmFailures measures the cases that failed rep's gate again, up to
// times, through measure (which runs and gates them), and passes rep if
// each one passed a measurement. The first measurement's checks stay in
// rep as they were; a note per case says what the others found.
func confirmFailures(rep *Report, times int, measure func(cases []string) (*Report, error)) error {
	failed := failedCases(rep)
	if rep.Pass || len(failed) == 0 {
		return nil
	}
	for try := 1; try <= times && len(failed) > 0; try++ {
		again, err := measure(failed)
		if err != nil {
			return err
		}
		still := failedCases(again)
		for _, name := range failed {
			verdict := "passed"
			if slices.Contains(still, name) {
				verdict = "failed again"
			}
			var got []string
			for _, c := range again.Checks {
				if c.Case == name && !c.Pass && !c.Known && !c.Ungated {
					got = append(got, c.Metric+" "+c.Detail)
				}
			}
			note := fmt.Sprintf("%s measured again (%d of %d): %s", name, try, times, verdict)
			if len(got) > 0 {
				note += ": " + strings.Join(got, "; ")
			}
			rep.Notes = append(rep.Notes, note)
		}
		failed = still
	}
	rep.Pass = len(failed) == 0
	return nil
}
