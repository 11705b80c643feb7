package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

// Config is one run of the suite.
type Config struct {
	Cases    []string      // library cases to run; empty: all. The reference always runs.
	Rounds   int           // rounds; each case is measured once per round, next to the reference
	Scale    float64       // multiplies ops per round and data sizes (1 is the fixed suite)
	Vectors  int           // base vectors of vector-search
	Rank     int           // rank of vector-search's data; 0 is the shared set's 16
	Slowdown time.Duration // busy-wait added to every library op, to prove the gate fails
	Progress io.Writer     // progress lines; nil: none
	// During, if set, runs around the timed rounds (setup excluded): the
	// profiles are started and stopped there.
	During func(rounds func() error) error
}

// Report is the result of one run: what was measured, and after Gate,
// what was checked. It is also the baseline file's format.
type Report struct {
	Machine Machine      `json:"machine"`
	Rounds  int          `json:"rounds"`
	Scale   float64      `json:"scale"`
	Slow    string       `json:"slowdown,omitempty"`
	Ref     CaseResult   `json:"ref"`
	Cases   []CaseResult `json:"cases"`
	Checks  []Check      `json:"checks,omitempty"`
	Notes   []string     `json:"notes,omitempty"`
	Pass    bool         `json:"pass"`
}

// Machine describes where a report was measured.
type Machine struct {
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	CPU        string `json:"cpu"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Go         string `json:"go"`
	Time       string `json:"time"`
}

// CaseResult is one case over all rounds. Latencies are in nanoseconds.
type CaseResult struct {
	Name   string `json:"name"`
	Doc    string `json:"doc,omitempty"`
	Params string `json:"params"`
	Data   string `json:"data,omitempty"` // the data set, where it decides the numbers
	Ops    uint64 `json:"ops"`
	// OpsPerSec is all ops over all rounds' wall time.
	OpsPerSec float64 `json:"ops_per_s"`
	// P50..Max are from the histogram of every op of every round.
	P50  float64 `json:"p50_ns"`
	P99  float64 `json:"p99_ns"`
	P999 float64 `json:"p999_ns"`
	Max  float64 `json:"max_ns"`
	// Round holds each metric's median over rounds (ns/op, p50, p99,
	// p999): what a target bounds, so one round disturbed by another
	// process does not decide the result.
	Round map[string]float64 `json:"round_median_ns"`
	// Norm is each metric divided by the reference's ns/op of the same
	// round, median over rounds: the baseline is compared on these.
	Norm map[string]float64 `json:"norm"`
	// Noise is each normalised metric's spread over rounds, relative to
	// its median (1.4826 MAD / median, a robust standard deviation).
	Noise map[string]float64 `json:"noise"`
	Extra map[string]float64 `json:"extra,omitempty"`
	// Floor is the machine's own tail at this case's speed: a busy loop as
	// long as the case's p50, timed the same way right after each round.
	// A case's p99 cannot be told from noise below the floor's p99; on a
	// shared VM most of the tail of a 10 us op is there (interrupts, the
	// hypervisor taking the core), whatever the op does.
	Floor *Floor `json:"floor,omitempty"`
}

// Floor is the latency of a busy loop of fixed length (OpNs), in ns.
type Floor struct {
	OpNs float64 `json:"op_ns"`
	P50  float64 `json:"p50_ns"`
	P99  float64 `json:"p99_ns"`
	P999 float64 `json:"p999_ns"`
}

// roundMetrics are measured per round, normalised and gated.
var roundMetrics = []string{"ns/op", "p50", "p99", "p999"}

// caseByName returns the library case called name.
func caseByName(name string) (Case, bool) {
	for _, c := range libCases {
		if c.Name == name {
			return c, true
		}
	}
	return Case{}, false
}

// RunSuite sets up the selected cases, then measures them in rounds, each
// right after a round of the reference workload.
func RunSuite(cfg Config) (*Report, error) {
	if cfg.Rounds < 1 {
		return nil, fmt.Errorf("rounds = %d", cfg.Rounds)
	}
	if cfg.Scale <= 0 {
		return nil, fmt.Errorf("scale = %v", cfg.Scale)
	}
	cases := libCases
	if len(cfg.Cases) > 0 {
		cases = nil
		for _, n := range cfg.Cases {
			c, ok := caseByName(n)
			if !ok {
				return nil, fmt.Errorf("no case %q (cases: %s)", n, strings.Join(caseNames(), ", "))
			}
			cases = append(cases, c)
		}
	}
	dir, err := os.MkdirTemp("", "perfcheck-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	rank := cfg.Rank
	if rank == 0 {
		rank = sharedRank
	}
	env := &Env{Scale: cfg.Scale, Vectors: cfg.Vectors, Rank: rank, Dir: dir, Rounds: cfg.Rounds,
		Params: map[string]string{}, Data: map[string]string{}, Extra: map[string]map[string]float64{}}
	progress := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", args...)
		}
	}

	type live struct {
		c       Case
		op      func(int) error
		slow    time.Duration
		next    int
		rounds  []roundResult
		refs    []roundResult // the reference round measured just before each
		floors  []roundResult // the floor measured just after each
		cleanup func() error
	}
	all := []*live{{c: refCase}}
	for _, c := range cases {
		all = append(all, &live{c: c, slow: cfg.Slowdown})
	}
	defer func() {
		for _, l := range all {
			if l.cleanup != nil {
				l.cleanup()
			}
		}
	}()
	for _, l := range all {
		t0 := time.Now()
		if l.op, l.cleanup, err = l.c.Setup(env); err != nil {
			return nil, fmt.Errorf("%s: setup: %w", l.c.Name, err)
		}
		progress("setup %-14s %v", l.c.Name, time.Since(t0).Round(time.Millisecond))
	}
	ref := all[0]
	measure := func(l *live) (roundResult, error) {
		// One case's garbage is not charged to the next.
		runtime.GC()
		n := env.scaled(l.c.Ops)
		var r roundResult
		var err error
		// The label lets a profile be cut down to one case:
		// go tool pprof -tagfocus case=agent-step cpu.out
		pprof.Do(context.Background(), pprof.Labels("case", l.c.Name), func(context.Context) {
			r, err = timeRound(l.op, l.next, n, l.slow)
		})
		l.next += n
		return r, err
	}
	rounds := func() error {
		for r := 0; r < cfg.Rounds; r++ {
			for _, l := range all[1:] {
				rr, err := measure(ref)
				if err != nil {
					return fmt.Errorf("ref: %w", err)
				}
				ref.rounds = append(ref.rounds, rr)
				cr, err := measure(l)
				if err != nil {
					return fmt.Errorf("%s: round %d: %w", l.c.Name, r+1, err)
				}
				l.rounds = append(l.rounds, cr)
				l.refs = append(l.refs, rr)
				fr, err := measureFloor(env, l.c, cr)
				if err != nil {
					return err
				}
				l.floors = append(l.floors, fr)
			}
			if len(all) == 1 {
				rr, err := measure(ref)
				if err != nil {
					return fmt.Errorf("ref: %w", err)
				}
				ref.rounds = append(ref.rounds, rr)
			}
			progress("round %d/%d done", r+1, cfg.Rounds)
		}
		return nil
	}
	if cfg.During != nil {
		err = cfg.During(rounds)
	} else {
		err = rounds()
	}
	if err != nil {
		return nil, err
	}

	rep := &Report{Machine: describeMachine(), Rounds: cfg.Rounds, Scale: cfg.Scale}
	if cfg.Slowdown > 0 {
		rep.Slow = cfg.Slowdown.String()
	}
	rep.Ref = summarise(ref.c, env, ref.rounds, ref.rounds)
	for _, l := range all[1:] {
		cr := summarise(l.c, env, l.rounds, l.refs)
		cr.Floor = summariseFloor(l.floors)
		rep.Cases = append(rep.Cases, cr)
	}
	return rep, nil
}

// floorShare is the part of a round's ops the floor after it runs: enough
// samples for its p99 over the rounds, at a fifth of the case's time.
const floorShare = 5

// measureFloor times busy loops as long as round r's p50.
func measureFloor(env *Env, c Case, r roundResult) (roundResult, error) {
	d := time.Duration(r.metric("p50"))
	n := max(env.scaled(c.Ops)/floorShare, 10)
	return timeRound(func(int) error { spin(d); return nil }, 0, n, 0)
}

func summariseFloor(rounds []roundResult) *Floor {
	if len(rounds) == 0 {
		return nil
	}
	all := new(Histogram)
	ops := make([]float64, len(rounds))
	for i, r := range rounds {
		all.Merge(r.h)
		ops[i] = r.metric("ns/op")
	}
	return &Floor{OpNs: median(ops), P50: float64(all.Quantile(0.50)),
		P99: float64(all.Quantile(0.99)), P999: float64(all.Quantile(0.999))}
}

func caseNames() []string {
	var out []string
	for _, c := range libCases {
		out = append(out, c.Name)
	}
	return out
}

// roundResult is one round of one case.
type roundResult struct {
	h    *Histogram
	wall time.Duration
	n    int
}

func (r roundResult) metric(m string) float64 {
	switch m {
	case "ns/op":
		return float64(r.wall) / float64(r.n)
	case "p50":
		return float64(r.h.Quantile(0.50))
	case "p99":
		return float64(r.h.Quantile(0.99))
	case "p999":
		return float64(r.h.Quantile(0.999))
	}
	panic("unknown metric " + m)
}

// timeRound runs op for i in [start, start+n), reading the clock once per
// op: each op's latency runs from the previous op's end to its own, loop
// overhead included, which halves the clock reads a start and an end
// stamp per op would cost.
func timeRound(op func(int) error, start, n int, slow time.Duration) (roundResult, error) {
	h := new(Histogram)
	t0 := time.Now()
	prev := t0
	for i := start; i < start+n; i++ {
		if err := op(i); err != nil {
			return roundResult{}, err
		}
		if slow > 0 {
			spin(slow)
		}
		now := time.Now()
		h.Record(now.Sub(prev))
		prev = now
	}
	return roundResult{h: h, wall: prev.Sub(t0), n: n}, nil
}

// spin busy-waits for d: a sleep would hand the core away and wake up
// late by the scheduler's whim, a spin costs exactly d of the op's time.
func spin(d time.Duration) {
	for t0 := time.Now(); time.Since(t0) < d; {
	}
}

func summarise(c Case, env *Env, rounds, refs []roundResult) CaseResult {
	res := CaseResult{Name: c.Name, Doc: c.Doc, Params: env.Params[c.Name], Data: env.Data[c.Name], Extra: env.Extra[c.Name],
		Round: map[string]float64{}, Norm: map[string]float64{}, Noise: map[string]float64{}}
	all := new(Histogram)
	var wall time.Duration
	for _, r := range rounds {
		all.Merge(r.h)
		wall += r.wall
	}
	res.Ops = all.Count()
	res.OpsPerSec = float64(res.Ops) / wall.Seconds()
	res.P50 = float64(all.Quantile(0.50))
	res.P99 = float64(all.Quantile(0.99))
	res.P999 = float64(all.Quantile(0.999))
	res.Max = float64(all.Max())
	for _, m := range roundMetrics {
		raw := make([]float64, len(rounds))
		norm := make([]float64, len(rounds))
		for i, r := range rounds {
			raw[i] = r.metric(m)
			norm[i] = raw[i] / refs[i].metric("ns/op")
		}
		res.Round[m] = median(raw)
		res.Norm[m] = median(norm)
		res.Noise[m] = relSpread(norm)
	}
	return res
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// relSpread is a robust relative standard deviation: 1.4826 times the
// median absolute deviation, over the median. One wild round moves it
// little; it is 0 for fewer than 3 rounds, which cannot tell noise apart.
func relSpread(xs []float64) float64 {
	if len(xs) < 3 {
		return 0
	}
	m := median(xs)
	if m == 0 {
		return 0
	}
	dev := make([]float64, len(xs))
	for i, x := range xs {
		dev[i] = math.Abs(x - m)
	}
	return 1.4826 * median(dev) / m
}

func describeMachine() Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, NumCPU: runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), Go: runtime.Version(), Time: time.Now().UTC().Format(time.RFC3339)}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}
