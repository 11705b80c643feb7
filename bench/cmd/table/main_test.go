package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/inmem-db/inmem/bench
cpu: AMD EPYC
BenchmarkPut/inmem-2         	 1000000	       800 ns/op	     238 B/op	       0 allocs/op
BenchmarkPut/inmem-2         	 1000000	       900 ns/op	     238 B/op	       0 allocs/op
BenchmarkPut/inmem-2         	 1000000	      1000 ns/op	     238 B/op	       0 allocs/op
BenchmarkPut/inmem-batched-2 	  500000	      2000 ns/op	     750 B/op	       1 allocs/op
BenchmarkPut/badger-mem-2    	  200000	      8000 ns/op	    1239 B/op	      23 allocs/op
BenchmarkPut/badger-mem-2    	  200000	      9000 ns/op	    1239 B/op	      23 allocs/op
BenchmarkPut/badger-disk-2   	  200000	     10000 ns/op	    1476 B/op	      33 allocs/op
BenchmarkStrictCommit/committers=8/inmem-strict-2 	 200	 20000 ns/op	 7.4 commits/fsync	 166212 p50-ns	 309620 p99-ns	 301 B/op	 0 allocs/op
BenchmarkStrictCommit/committers=8/bbolt-2        	 200	 300000 ns/op	 2453394 p50-ns	 5562125 p99-ns	 14169 B/op	 60 allocs/op
BenchmarkGet/sqlite-2 	 200	 14000 ns/op	 744 B/op	 22 allocs/op
BenchmarkGet/inmem-2  	 200	   700 ns/op	  64 B/op	  1 allocs/op
BenchmarkFsync-2      	 3000	 400000 ns/op
BenchmarkSlow/inmem
some log line
PASS
`

func TestParseAndRatios(t *testing.T) {
	r, err := parse(strings.NewReader(sample))
	require.NoError(t, err)
	require.Equal(t, []string{"Put", "StrictCommit/committers=8", "Get", "Fsync"}, r.workloads)
	require.Equal(t, []string{"inmem", "inmem-batched", "badger-mem", "badger-disk"}, r.impls["Put"])
	require.Equal(t, 3, r.runs())
	require.Equal(t, 900.0, r.get("Put", "inmem").median("ns/op"))
	require.Equal(t, 8500.0, r.get("Put", "badger-mem").median("ns/op"))
	require.InDelta(t, 200.0/900, r.get("Put", "inmem").spread(), 1e-9)

	for _, c := range []struct {
		wl, impl, ref string
		ratio         float64
	}{
		{"Put", "badger-mem", "inmem", 8500.0 / 900},
		{"Put", "badger-disk", "inmem-batched", 5},                 // same durability
		{"StrictCommit/committers=8", "bbolt", "inmem-strict", 15}, // fsync per commit
		{"Get", "sqlite", "inmem", 20},                             // no inmem-batched here: falls back
	} {
		ratio, ref := r.ratio(c.wl, c.impl)
		require.Equal(t, c.ref, ref, "%s/%s", c.wl, c.impl)
		require.InDelta(t, c.ratio, ratio, 1e-9, "%s/%s", c.wl, c.impl)
	}
	_, ref := r.ratio("Put", "inmem-batched")
	require.Empty(t, ref, "inmem is not its own peer")
	_, ref = r.ratio("Fsync", "-")
	require.Empty(t, ref)

	var out bytes.Buffer
	require.NoError(t, r.write(&out))
	s := out.String()
	require.Contains(t, s, "cpu: AMD EPYC")
	require.Contains(t, s, "medians of 3 runs")
	require.Contains(t, s, "| Put | badger-mem | 8500 | 12% | 1239 | 23 |  | 9.44x inmem |")
	require.Contains(t, s, "| StrictCommit/committers=8 | bbolt | 300000 |  | 14169 | 60 | 5562125 | 15.0x inmem-strict |")
	require.Contains(t, s, "| workload | badger-mem | badger-disk | bbolt | sqlite |")
	require.Contains(t, s, "| Put | 9.44 | 5.00 |  |  |")
	require.Contains(t, s, "| Fsync | - | 400000 |")
}

func TestParseFailures(t *testing.T) {
	_, err := parse(strings.NewReader("PASS\nok x 1s\n"))
	require.ErrorContains(t, err, "no benchmark results")
	_, err = parse(strings.NewReader(sample + "--- FAIL: BenchmarkX\nFAIL\n"))
	require.ErrorContains(t, err, "failed")
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 0.5: "0.5", 0.01234: "0.0123", 1.234: "1.23", 12.34: "12.3", 1234.5: "1235"} {
		require.Equal(t, want, num(v))
	}
}
