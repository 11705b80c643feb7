package main

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inmem-db/inmem"
)

// churn measures collections whose vectors keep being replaced, through the
// public API.
//
// First, memory under churn: 1,000 keys re-upserted for 50 rounds (round r
// gives key i base vector 1000r+i), with db.Reclaim every 10 rounds: graph
// nodes and bytes (Stats), Go heap and arena in use, search p50/p99 and
// recall@10 against brute force at ef=64.
//
// Second, searches during a vacuum: the whole base set, 30% of it upserted
// again (the same vectors, so the ground truth holds; the old nodes become
// tombstones, under the background trigger), then db.Reclaim vacuums the
// graph while one goroutine searches: latency during the vacuum against
// the same searches before it and beside a goroutine that only burns a
// processor for as long (the share of the difference that is CPU, not
// locking), and recall@10 after.
func churn(base, queries [][]float32, gt [][]int32) {
	const keys, rounds = 1000, 50
	db, err := inmem.OpenInMemory(inmem.WithReclaimAt(0))
	check(err)
	vs := db.Shared(inmem.Namespace{Tenant: "churn"}).Vectors()
	check(vs.CreateCollection("sift", inmem.VectorConfig{Dim: len(base[0]), Metric: inmem.Euclidean, M: 16, EfConstruction: 200}))
	_, err = vs.Search("sift", base[0], 1)
	check(err)
	cur := make([][]float32, keys)
	fmt.Printf("churn: %d keys re-upserted for %d rounds, db.Reclaim every 10\n", keys, rounds)
	for r := 0; r < rounds; r++ {
		for i := range keys {
			cur[i] = base[(r*keys+i)%len(base)]
			check(vs.Upsert("sift", strconv.Itoa(i), cur[i], nil))
		}
		if (r+1)%10 != 0 {
			continue
		}
		_, err := db.Reclaim()
		check(err)
		st := db.Stats()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		lat, hits := make([]time.Duration, 0, 200), 0
		for _, q := range queries[:200] {
			t0 := time.Now()
			res, err := vs.Search("sift", q, 10, inmem.Ef(64))
			lat = append(lat, time.Since(t0))
			check(err)
			exact := exactTop(cur, q, 10)
			for _, m := range res {
				id, _ := strconv.Atoi(m.Key)
				if slices.Contains(exact, id) {
					hits++
				}
			}
		}
		fmt.Printf("round %2d: %5d graph nodes (%d tombstones), graph %5.2f MiB, heap in use %6.1f MiB, arena %6.1f MiB, search p50 %4.0f us p99 %4.0f us, recall@10 %.3f\n",
			r+1, st.VectorNodes, st.VectorTombstones, float64(st.VectorGraphBytes)/(1<<20), float64(ms.HeapInuse)/(1<<20),
			float64(st.MemUsed)/(1<<20), us(pctl(lat, 0.5)), us(pctl(lat, 0.99)), float64(hits)/float64(10*200))
	}
	check(db.Close())

	db, err = inmem.OpenInMemory(inmem.WithReclaimAt(0))
	check(err)
	defer db.Close()
	vs = db.Shared(inmem.Namespace{Tenant: "churn"}).Vectors()
	check(vs.CreateCollection("sift", inmem.VectorConfig{Dim: len(base[0]), Metric: inmem.Euclidean, M: 16, EfConstruction: 200}))
	_, err = vs.Search("sift", base[0], 1)
	check(err)
	upsertAll := func(ids []int) {
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := w; j < len(ids); j += 2 {
					check(vs.Upsert("sift", strconv.Itoa(ids[j]), base[ids[j]], nil))
				}
			}()
		}
		wg.Wait()
	}
	all := make([]int, len(base))
	for i := range all {
		all[i] = i
	}
	t0 := time.Now()
	upsertAll(all)
	var again []int
	for i := range base {
		if i%10 < 3 {
			again = append(again, i)
		}
	}
	upsertAll(again)
	st := db.Stats()
	fmt.Printf("\nvacuum: %d vectors, %d upserted again (%d graph nodes, %d tombstones), in %v\n",
		len(base), len(again), st.VectorNodes, st.VectorTombstones, time.Since(t0).Round(time.Second))
	searchOnce := func(i int) time.Duration {
		s := time.Now()
		_, err := vs.Search("sift", queries[i%len(queries)], 10, inmem.Ef(64))
		check(err)
		return time.Since(s)
	}
	var before []time.Duration
	for i := range 3000 {
		before = append(before, searchOnce(i))
	}
	var done atomic.Bool
	var rs inmem.ReclaimStats
	var took time.Duration
	go func() {
		s := time.Now()
		var err error
		rs, err = db.Reclaim()
		check(err)
		took = time.Since(s)
		done.Store(true)
	}()
	var during []time.Duration
	for i := 0; !done.Load(); i++ {
		during = append(during, searchOnce(i))
	}
	// The control: as long again beside a goroutine that only burns a
	// processor, which is what the vacuum costs a search on a machine
	// with few cores, whatever it locks.
	done.Store(false)
	go func() {
		end := time.Now().Add(took)
		var sink float32
		for time.Now().Before(end) {
			for _, v := range base[:1000] {
				for j := range v {
					sink += v[j] * v[j]
				}
			}
		}
		_ = sink
		done.Store(true)
	}()
	var busy []time.Duration
	for i := 0; !done.Load(); i++ {
		busy = append(busy, searchOnce(i))
	}
	fmt.Printf("db.Reclaim removed %d graph nodes in %v (the store's copy %v)\n", rs.Vacuumed, took.Round(time.Millisecond), rs.Took.Round(time.Millisecond))
	fmt.Printf("searches before:      %5d, p50 %4.0f us p99 %5.0f us max %6.0f us\n", len(before), us(pctl(before, 0.5)), us(pctl(before, 0.99)), us(pctl(before, 1)))
	fmt.Printf("during the vacuum:    %5d, p50 %4.0f us p99 %5.0f us max %6.0f us\n", len(during), us(pctl(during, 0.5)), us(pctl(during, 0.99)), us(pctl(during, 1)))
	fmt.Printf("beside a busy loop:   %5d, p50 %4.0f us p99 %5.0f us max %6.0f us\n", len(busy), us(pctl(busy, 0.5)), us(pctl(busy, 0.99)), us(pctl(busy, 1)))
	rec, qps, p99 := search(vs, queries, gt, 64)
	fmt.Printf("after: ef=64 recall@10 %.4f, %.0f q/s, p99 %.0f us; %d graph nodes\n", rec, qps, p99, db.Stats().VectorNodes)
}

// exactTop is the brute-force top k of vs (by index) nearest to q.
func exactTop(vs [][]float32, q []float32, k int) []int {
	ids := make([]int, len(vs))
	d := make([]float64, len(vs))
	for i, v := range vs {
		ids[i] = i
		for j := range v {
			x := float64(v[j] - q[j])
			d[i] += x * x
		}
	}
	slices.SortFunc(ids, func(a, b int) int { return cmp.Compare(d[a], d[b]) })
	return ids[:k]
}

func pctl(lat []time.Duration, p float64) time.Duration {
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func us(d time.Duration) float64 { return float64(d.Microseconds()) }
