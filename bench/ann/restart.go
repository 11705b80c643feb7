package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/inmem-db/inmem"
)

// restart measures what reopening a durable database costs before its
// first vector search: with the collection's graph carried by a snapshot
// (loaded) and with only the WAL (the graph rebuilt from the stored
// vectors), on the same data, with recall@10 at ef=64 after each.
func restart(base [][]float32, queries [][]float32, gt [][]int32) {
	dir, err := os.MkdirTemp("", "ann-restart-")
	check(err)
	defer os.RemoveAll(dir)
	ns := inmem.Namespace{Tenant: "ann"}
	cfg := inmem.VectorConfig{Dim: len(base[0]), Metric: inmem.Euclidean, M: 16, EfConstruction: 200}

	fill := func(path string) {
		db, err := inmem.Open(path)
		check(err)
		vs := db.Shared(ns).Vectors()
		check(vs.CreateCollection("sift", cfg))
		_, err = vs.Search("sift", base[0], 1)
		check(err)
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < len(base); i += 2 {
					check(vs.Upsert("sift", strconv.Itoa(i), base[i], nil))
				}
			}()
		}
		wg.Wait()
		check(db.Checkpoint())
		check(db.Close())
	}
	reopen := func(path, what string) {
		t0 := time.Now()
		db, err := inmem.Open(path)
		check(err)
		opened := time.Since(t0)
		vs := db.Shared(ns).Vectors()
		_, err = vs.Search("sift", queries[0], 10)
		check(err)
		first := time.Since(t0)
		rec, qps, _ := search(vs, queries, gt, 64)
		st := db.Stats()
		fmt.Printf("%s: Open %.2f s, Open + first search %.2f s (graphs loaded %d, built %d); ef=64 recall@10 %.4f, %.0f q/s\n",
			what, opened.Seconds(), first.Seconds(), st.VectorGraphsLoaded, st.VectorGraphsBuilt, rec, qps)
		check(db.Close())
	}

	path := dir + "/db"
	fill(path)
	reopen(path, "graph in the snapshot")
	// The same data without the graph: a snapshot written before the
	// collection was ever searched carries none.
	path2 := dir + "/db2"
	db, err := inmem.Open(path2)
	check(err)
	vs := db.Shared(ns).Vectors()
	check(vs.CreateCollection("sift", cfg))
	for i := range base {
		check(vs.Upsert("sift", strconv.Itoa(i), base[i], nil))
	}
	check(db.Checkpoint())
	check(db.Close())
	reopen(path2, "graph rebuilt     ")
}
