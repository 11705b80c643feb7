// Command ann measures vector search through the public API on a data set
// in annbench's layout (base.fvecs, query.fvecs, gt.ivecs with the exact
// top-100): build rate with one and two goroutines, and recall@10,
// queries/s and latency at ef 32, 64 and 128 (-efs), with M=16 and
// EfConstruction=200, the settings the hnswlib reference is measured
// with. The searches run on the graph built by one goroutine, as
// hnswlib's reference build is one thread; the recall of the two-goroutine
// graph is printed beside them.
//
// The data decides the recall. The shared set (../shared/annbench, 100k x
// 128) is a rank-16 linear structure plus noise of deviation 0.1:
// SIFT-like, nearly 16-dimensional, with queries from the same structure,
// the easy case for a graph index. annbench -rank 128 makes it full rank;
// cmd/anngen keeps a base and draws queries off its distribution:
//
//	go run ../shared/annbench/main.go -out /tmp/ann                  # rank 16 (the shared set)
//	go run ../shared/annbench/main.go -rank 128 -out /tmp/ann-full   # full rank
//	cd bench && go run ./cmd/anngen -base /tmp/ann -out /tmp/ann-offdist
//	cd bench && go run ./ann -data /tmp/ann -runs 3
//	cd bench && go run ./ann -data /tmp/ann -restart   # reopen: graph loaded vs rebuilt
//	cd bench && go run ./ann -data /tmp/ann -churn     # replaced vectors: graph size, searches during a vacuum
//
// It prints each run and the median of the runs. Within a run each ef gets
// -passes passes over the queries, interleaved, and the median pass counts:
// a single pass is too short to outlast other work on a shared machine.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/inmem-db/inmem"
)

func main() {
	data := flag.String("data", "", "directory in annbench's layout (base.fvecs, query.fvecs, gt.ivecs), as annbench or cmd/anngen write it")
	runs := flag.Int("runs", 3, "runs; the median is reported")
	restartOnly := flag.Bool("restart", false, "measure reopening a durable database instead (graph loaded from the snapshot vs rebuilt)")
	churnOnly := flag.Bool("churn", false, "measure vectors being replaced instead (graph size under churn, searches during a vacuum)")
	two := flag.Bool("two", true, "also build from two goroutines (its rate, its graph's recall); false halves a run's time")
	efList := flag.String("efs", "32,64,128", "search ef values, comma-separated")
	passes := flag.Int("passes", 5, "search passes over the queries per ef, the efs interleaved; a run reports its median pass")
	flag.Parse()
	if *data == "" {
		flag.Usage()
		os.Exit(2)
	}
	var efs []int
	for _, f := range strings.Split(*efList, ",") {
		ef, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || ef < 1 {
			check(fmt.Errorf("-efs %q: want positive integers", *efList))
		}
		efs = append(efs, ef)
	}
	base, err := readFvecs(filepath.Join(*data, "base.fvecs"))
	check(err)
	queries, err := readFvecs(filepath.Join(*data, "query.fvecs"))
	check(err)
	gt, err := readIvecs(filepath.Join(*data, "gt.ivecs"))
	check(err)
	fmt.Printf("%s: %d base, %d queries, dim %d, GOMAXPROCS %d\n", *data, len(base), len(queries), len(base[0]), runtime.GOMAXPROCS(0))
	if *restartOnly {
		restart(base, queries, gt)
		return
	}
	if *churnOnly {
		churn(base, queries, gt)
		return
	}

	var build1, build2, bytesPer []float64
	recall := make([][]float64, len(efs))
	recall2 := make([][]float64, len(efs))
	qps := make([][]float64, len(efs))
	p99 := make([][]float64, len(efs))
	for r := 0; r < *runs; r++ {
		rate, bpv := build(base, 1, func(vs *inmem.Vectors) {
			// A pass over 1k queries is under a second: on a shared
			// machine one burst of other work decides it, so each ef gets
			// several passes, interleaved, and the median pass counts.
			// Recall is the same in every pass (the graph does not change).
			qs := make([][]float64, len(efs))
			lats := make([][]float64, len(efs))
			var recs []float64
			for range max(*passes, 1) {
				recs = recs[:0]
				for i, ef := range efs {
					rec, q, lat := search(vs, queries, gt, ef)
					recs = append(recs, rec)
					qs[i] = append(qs[i], q)
					lats[i] = append(lats[i], lat)
				}
			}
			for i, ef := range efs {
				recall[i] = append(recall[i], recs[i])
				qps[i] = append(qps[i], median(qs[i]))
				p99[i] = append(p99[i], median(lats[i]))
				fmt.Printf("run %d ef=%d recall@10 %.4f %.0f q/s p99 %.0f us (median of %d passes; q/s %.0f to %.0f)\n",
					r+1, ef, recs[i], median(qs[i]), median(lats[i]), len(qs[i]), slices.Min(qs[i]), slices.Max(qs[i]))
			}
		})
		build1 = append(build1, rate)
		bytesPer = append(bytesPer, bpv)
		if !*two {
			fmt.Printf("run %d build: %.0f upserts/s (1 goroutine); %.0f bytes per vector\n", r+1, rate, bpv)
			continue
		}
		rate2, _ := build(base, 2, func(vs *inmem.Vectors) {
			for i, ef := range efs {
				rec, _, _ := search(vs, queries, gt, ef)
				recall2[i] = append(recall2[i], rec)
			}
		})
		build2 = append(build2, rate2)
		fmt.Printf("run %d build: %.0f upserts/s (1 goroutine), %.0f (2 goroutines); %.0f bytes per vector\n", r+1, rate, rate2, bpv)
	}
	fmt.Printf("\nmedian of %d runs:\n", *runs)
	if *two {
		fmt.Printf("build %.0f upserts/s with 1 goroutine, %.0f with 2 (%.2fx); %.0f bytes per vector\n",
			median(build1), median(build2), median(build2)/median(build1), median(bytesPer))
	} else {
		fmt.Printf("build %.0f upserts/s with 1 goroutine; %.0f bytes per vector\n", median(build1), median(bytesPer))
	}
	for i, ef := range efs {
		fmt.Printf("ef=%d recall@10 %.4f, %.0f q/s, p99 %.0f us", ef, median(recall[i]), median(qps[i]), median(p99[i]))
		if *two {
			fmt.Printf(" (graph built by 2 goroutines: recall@10 %.4f)", median(recall2[i]))
		}
		fmt.Println()
	}
}

// build upserts every base vector into a fresh in-memory database from g
// goroutines and returns upserts per second and memory per vector (arena
// plus Go heap growth), then runs then on the built collection.
func build(base [][]float32, g int, then func(*inmem.Vectors)) (float64, float64) {
	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	db, err := inmem.OpenInMemory()
	check(err)
	defer db.Close()
	vs := db.Shared(inmem.Namespace{Tenant: "ann"}).Vectors()
	check(vs.CreateCollection("sift", inmem.VectorConfig{Dim: len(base[0]), Metric: inmem.Euclidean, M: 16, EfConstruction: 200}))
	_, err = vs.Search("sift", base[0], 1) // build the empty graph now, not on the first query
	check(err)
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < g; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(base); i += g {
				check(vs.Upsert("sift", strconv.Itoa(i), base[i], nil))
			}
		}()
	}
	wg.Wait()
	rate := float64(len(base)) / time.Since(t0).Seconds()
	runtime.GC()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	// The graph's flat arrays are mapped outside the Go heap, so they are
	// counted from Stats; its few heap parts (upper-level lists) are then
	// counted twice, which errs on the side of more bytes.
	st := db.Stats()
	n := float64(len(base))
	arenaB, graphB, heapB := float64(st.MemUsed)/n, float64(st.VectorGraphBytes)/n, (float64(m1.HeapAlloc)-float64(m0.HeapAlloc))/n
	fmt.Printf("memory per vector: arena %.0f B (stored vectors, keys, records), graph %.0f B, Go heap %.0f B\n", arenaB, graphB, heapB)
	bpv := arenaB + graphB + heapB
	if then != nil {
		then(vs)
	}
	return rate, bpv
}

func search(vs *inmem.Vectors, queries [][]float32, gt [][]int32, ef int) (recall, qps, p99us float64) {
	hits := 0
	lat := make([]time.Duration, 0, len(queries))
	t0 := time.Now()
	for qi, q := range queries {
		s := time.Now()
		res, err := vs.Search("sift", q, 10, inmem.Ef(ef))
		lat = append(lat, time.Since(s))
		check(err)
		for _, m := range res {
			id, _ := strconv.Atoi(m.Key)
			if slices.Contains(gt[qi][:10], int32(id)) {
				hits++
			}
		}
	}
	el := time.Since(t0)
	slices.Sort(lat)
	return float64(hits) / float64(10*len(queries)), float64(len(queries)) / el.Seconds(), float64(lat[len(lat)*99/100].Microseconds())
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func readFvecs(path string) ([][]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out [][]float32
	for off := 0; off+4 <= len(b); {
		d := int(binary.LittleEndian.Uint32(b[off:]))
		off += 4
		if off+4*d > len(b) {
			return nil, fmt.Errorf("%s: truncated", path)
		}
		v := make([]float32, d)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[off+4*i:]))
		}
		out = append(out, v)
		off += 4 * d
	}
	return out, nil
}

func readIvecs(path string) ([][]int32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out [][]int32
	for off := 0; off+4 <= len(b); {
		d := int(binary.LittleEndian.Uint32(b[off:]))
		off += 4
		if off+4*d > len(b) {
			return nil, fmt.Errorf("%s: truncated", path)
		}
		v := make([]int32, d)
		for i := range v {
			v[i] = int32(binary.LittleEndian.Uint32(b[off+4*i:]))
		}
		out = append(out, v)
		off += 4 * d
	}
	return out, nil
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "ann:", err)
		os.Exit(1)
	}
}
