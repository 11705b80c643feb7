package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	t, err := parse(os.Stdin)
	if err == nil {
		err = t.write(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
}

// classRef is the inmem each peer is compared with: the one with the same
// durability.
var classRef = map[string]string{
	"badger-disk":  "inmem-batched",
	"bbolt-nosync": "inmem-batched",
	"sqlite":       "inmem-batched",
	"badger-sync":  "inmem-strict",
	"bbolt":        "inmem-strict",
	"bbolt-batch":  "inmem-strict",
	"sqlite-full":  "inmem-strict",
}

// inmems are the implementations that are the library itself.
var inmems = []string{"inmem", "inmem-batched", "inmem-strict"}

// peerOrder is the order of the matrix's columns; peers not listed follow
// in name order.
var peerOrder = []string{"badger-mem", "badger-disk", "badger-sync", "bbolt", "bbolt-nosync", "bbolt-batch",
	"btree", "sqlite", "sqlite-full", "badger-skl", "exact"}

// results is the parsed input.
type results struct {
	header    []string              // goos, goarch, cpu lines
	workloads []string              // in input order
	impls     map[string][]string   // workload -> implementations, in input order
	samples   map[string]*benchmark // "workload\x00impl" -> samples
}

// benchmark holds every run's value of every metric of one benchmark.
type benchmark struct {
	metrics map[string][]float64 // unit -> one value per run
}

// median of the unit's values; NaN when there are none.
func (b *benchmark) median(unit string) float64 {
	xs := b.metrics[unit]
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

// spread is (max - min) / median of ns/op over the runs.
func (b *benchmark) spread() float64 {
	xs := b.metrics["ns/op"]
	if len(xs) < 2 {
		return math.NaN()
	}
	return (slices.Max(xs) - slices.Min(xs)) / b.median("ns/op")
}

var procsSuffix = regexp.MustCompile(`-\d+$`)

// parse reads benchmark lines: "BenchmarkName-P  N  v unit  v unit ...".
func parse(r io.Reader) (*results, error) {
	res := &results{impls: map[string][]string{}, samples: map[string]*benchmark{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	failed := false
	seenHeader := map[string]bool{}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "goos:"), strings.HasPrefix(line, "goarch:"), strings.HasPrefix(line, "cpu:"):
			if !seenHeader[line] {
				seenHeader[line] = true
				res.header = append(res.header, line)
			}
			continue
		case strings.HasPrefix(line, "FAIL"), strings.HasPrefix(line, "--- FAIL"), strings.HasPrefix(line, "panic:"):
			failed = true
			continue
		case !strings.HasPrefix(line, "Benchmark"):
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue // a name printed before its result, or a log line
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := procsSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		workload, impl := name, "-"
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			workload, impl = name[:i], name[i+1:]
		}
		key := workload + "\x00" + impl
		b := res.samples[key]
		if b == nil {
			b = &benchmark{metrics: map[string][]float64{}}
			res.samples[key] = b
			if res.impls[workload] == nil {
				res.workloads = append(res.workloads, workload)
			}
			res.impls[workload] = append(res.impls[workload], impl)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			b.metrics[f[i+1]] = append(b.metrics[f[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if failed {
		return nil, errors.New("the benchmark run failed (FAIL in its output)")
	}
	if len(res.samples) == 0 {
		return nil, errors.New("no benchmark results in the input")
	}
	return res, nil
}

func (r *results) get(workload, impl string) *benchmark { return r.samples[workload+"\x00"+impl] }

// ref is the implementation impl is compared with in workload, or "".
func (r *results) ref(workload, impl string) string {
	if slices.Contains(inmems, impl) || impl == "-" {
		return ""
	}
	if want, ok := classRef[impl]; ok && r.get(workload, want) != nil {
		return want
	}
	for _, m := range inmems {
		if r.get(workload, m) != nil {
			return m
		}
	}
	return ""
}

// ratio is impl's median ns/op over its reference's, or NaN.
func (r *results) ratio(workload, impl string) (float64, string) {
	ref := r.ref(workload, impl)
	if ref == "" {
		return math.NaN(), ""
	}
	return r.get(workload, impl).median("ns/op") / r.get(workload, ref).median("ns/op"), ref
}

func (r *results) runs() int {
	n := 0
	for _, b := range r.samples {
		n = max(n, len(b.metrics["ns/op"]))
	}
	return n
}

func (r *results) write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, h := range r.header {
		fmt.Fprintln(bw, h)
	}
	fmt.Fprintf(bw, "medians of %d runs; spread is (max - min) / median of ns/op; ratio is ns/op over the named inmem's (>1: inmem is faster)\n\n", r.runs())
	fmt.Fprintln(bw, "| workload | impl | ns/op | spread | B/op | allocs/op | p99 ns | ratio |")
	fmt.Fprintln(bw, "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, wl := range r.workloads {
		for _, impl := range r.impls[wl] {
			b := r.get(wl, impl)
			ratio, ref := r.ratio(wl, impl)
			rs := ""
			if ref != "" {
				rs = fmt.Sprintf("%sx %s", num(ratio), ref)
			}
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", wl, impl, num(b.median("ns/op")),
				pct(b.spread()), count(b.median("B/op")), count(b.median("allocs/op")), count(b.median("p99-ns")), rs)
		}
	}

	// The matrix: one row per workload that has a ratio, one column per peer.
	var peers []string
	seen := map[string]bool{}
	for _, wl := range r.workloads {
		for _, impl := range r.impls[wl] {
			if r.ref(wl, impl) != "" && !seen[impl] {
				seen[impl] = true
				peers = append(peers, impl)
			}
		}
	}
	slices.SortStableFunc(peers, func(a, b string) int {
		ia, ib := slices.Index(peerOrder, a), slices.Index(peerOrder, b)
		switch {
		case ia >= 0 && ib >= 0:
			return ia - ib
		case ia >= 0:
			return -1
		case ib >= 0:
			return 1
		}
		return strings.Compare(a, b)
	})
	if len(peers) > 0 {
		fmt.Fprintf(bw, "\nratio of each peer's ns/op to inmem's (the same-durability inmem, as above)\n\n")
		fmt.Fprintf(bw, "| workload | %s |\n", strings.Join(peers, " | "))
		fmt.Fprintf(bw, "| --- |%s\n", strings.Repeat(" ---: |", len(peers)))
		for _, wl := range r.workloads {
			var cells []string
			any := false
			for _, p := range peers {
				c := ""
				if r.get(wl, p) != nil {
					if ratio, ref := r.ratio(wl, p); ref != "" {
						c = num(ratio)
						any = true
					}
				}
				cells = append(cells, c)
			}
			if any {
				fmt.Fprintf(bw, "| %s | %s |\n", wl, strings.Join(cells, " | "))
			}
		}
	}
	return bw.Flush()
}

// num formats with three significant digits, no exponent; "" for NaN.
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return ""
	case v == 0:
		return "0"
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	case math.Abs(v) >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case math.Abs(v) >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// count formats a whole number (a median of counts may end in .5).
func count(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}
