package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// printTable writes the report as markdown: the machine and command, then
// one row per workload, distribution and thread count with a column per
// database and inmem's throughput ratio to each peer, then the loads.
func printTable(w io.Writer, c config, p plan, rep *Report) {
	m := rep.Machine
	fmt.Fprintf(w, "Machine: %d CPUs (%s), GOMAXPROCS %d, %s %s/%s.\n\n", m.CPUs, m.CPUModel, m.GOMAXPROCS, m.GoVersion, m.OS, m.Arch)
	fmt.Fprintf(w, "Command: `%s`\n\n", rep.Command)
	fmt.Fprintf(w, "%d records of 10 fields x 100 B per database and distribution, loaded with %d threads; %d operations per run. "+
		"A cell is throughput (operations/s) and p99 latency of one operation. "+
		"Workloads ran in this order on each load; D reads the latest records whatever the pass's distribution (YCSB's \"latest\").\n\n",
		c.records, c.loadThreads, c.ops)

	cells := map[string]Cell{}
	for _, cl := range rep.Cells {
		cells[key(cl.DB, cl.Pass, cl.Workload, cl.Threads)] = cl
	}
	var peers []string
	hasInmem := false
	for _, d := range p.dbs {
		if d.Name == "inmem" {
			hasInmem = true
		} else {
			peers = append(peers, d.Name)
		}
	}
	hdr := []string{"workload", "distribution", "threads"}
	for _, d := range p.dbs {
		hdr = append(hdr, d.Name)
	}
	if hasInmem {
		for _, peer := range peers {
			hdr = append(hdr, "inmem/"+peer)
		}
	}
	row(w, hdr)
	align := []string{"---", "---", "---:"}
	for range len(hdr) - 3 {
		align = append(align, "---:")
	}
	row(w, align)
	for _, wl := range p.workloads {
		for _, dist := range p.dists {
			for _, th := range p.threads {
				d := wl.Distribution(dist)
				if wl.Latest {
					d = fmt.Sprintf("latest (%s pass)", dist)
				}
				r := []string{wl.Name + ": " + wl.Mix, d, fmt.Sprint(th)}
				for _, db := range p.dbs {
					r = append(r, cellText(cells, key(db.Name, dist, wl.Name, th)))
				}
				if hasInmem {
					in, inOK := cells[key("inmem", dist, wl.Name, th)]
					for _, peer := range peers {
						pc, ok := cells[key(peer, dist, wl.Name, th)]
						if !inOK || !ok || in.Error != "" || pc.Error != "" || pc.Throughput == 0 {
							r = append(r, "-")
							continue
						}
						r = append(r, fmt.Sprintf("%.2fx", in.Throughput/pc.Throughput))
					}
				}
				row(w, r)
			}
		}
	}

	fmt.Fprintf(w, "\nLoads (one insert per operation):\n\n")
	row(w, []string{"database", "pass", "records", "time", "inserts/s", "p99", "max"})
	row(w, []string{"---", "---", "---:", "---:", "---:", "---:", "---:"})
	for _, l := range rep.Loads {
		row(w, []string{l.DB, l.Pass, fmt.Sprint(l.Records), l.Elapsed.Round(10 * time.Millisecond).String(),
			num(l.Throughput), dur(l.Latency.P99), dur(l.Latency.Max)})
	}

	var notes []string
	for _, cl := range rep.Cells {
		if cl.NotFound > 0 {
			notes = append(notes, fmt.Sprintf("%s %s %s %d threads: %d of %d operations met an absent record",
				cl.DB, cl.Distribution, cl.Workload, cl.Threads, cl.NotFound, cl.Ops))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\nAbsent records (YCSB's zipfian key range runs past the records loaded):\n\n")
		for _, n := range notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
}

func key(db, pass, wl string, threads int) string {
	return fmt.Sprintf("%s|%s|%s|%d", db, pass, wl, threads)
}

func cellText(cells map[string]Cell, k string) string {
	c, ok := cells[k]
	switch {
	case !ok:
		return "-"
	case c.Error != "":
		return "error"
	}
	return num(c.Throughput) + " · " + dur(c.Latency.P99)
}

func row(w io.Writer, cols []string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(cols, " | "))
}

// num formats a rate with three significant digits: 812k, 1.23M.
func num(v float64) string {
	switch {
	case v >= 1e6:
		return trim(v/1e6) + "M"
	case v >= 1e3:
		return trim(v/1e3) + "k"
	}
	return trim(v)
}

func trim(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// dur formats a latency with three significant digits.
func dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return trim(d.Seconds()) + " s"
	case d >= time.Millisecond:
		return trim(float64(d)/1e6) + " ms"
	case d >= time.Microsecond:
		return trim(float64(d)/1e3) + " µs"
	}
	return fmt.Sprintf("%d ns", d)
}
