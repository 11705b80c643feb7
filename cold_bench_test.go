package inmem_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
)

const (
	benchRuns  = 1000
	benchSteps = 50
)

func benchStepKey(s int) string { return fmt.Sprintf("step/%06d", s) }

// openColdBench makes a database of benchRuns runs of benchSteps steps
// each (an event, a KV put of a fresh key, a span: what a run's blocks
// hold), every other run frozen and reclaimed, the block cache large
// enough to hold every block, warmed, and returns its hot and cold runs.
func openColdBench(b *testing.B) (hot, cold []*inmem.Run) {
	db, err := inmem.Open(b.TempDir(), inmem.WithColdAfter(-1), inmem.WithBlockCache(512<<20))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := fillColdBench(db, &hot, &cold); err != nil {
		b.Fatal(err)
	}
	return hot, cold
}

func fillColdBench(db *inmem.DB, hot, cold *[]*inmem.Run) error {
	val := make([]byte, 400)
	for i := range benchRuns {
		run, err := db.BeginRun()
		if err != nil {
			return err
		}
		for s := 1; s <= benchSteps; s++ {
			err := run.Update(func(tx *inmem.Tx) error {
				if _, err := tx.Events().Append("step", val); err != nil {
					return err
				}
				if err := tx.KV().Put(benchStepKey(s), val); err != nil {
					return err
				}
				_, err := tx.Traces().Record(inmem.Span{Kind: inmem.LLMCall, Name: "chat", Input: val, Output: val})
				return err
			})
			if err != nil {
				return err
			}
		}
		if err := run.End(inmem.Completed, ""); err != nil {
			return err
		}
		if i%2 == 1 {
			if err := db.Runs().Freeze(run.ID()); err != nil {
				return err
			}
			*cold = append(*cold, run)
		} else {
			*hot = append(*hot, run)
		}
	}
	// Freezing one run at a time wrote a file each; merge them as the
	// background compaction would.
	if err := db.CompactCold(); err != nil {
		return err
	}
	if _, err := db.Reclaim(); err != nil {
		return err
	}
	for range 2 { // the cache admits what it sees twice
		for _, r := range *cold {
			for s := 1; s <= benchSteps; s++ {
				if _, err := r.KV().Get(benchStepKey(s)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// BenchmarkColdKVGet reads a random key of a random run, hot and (the
// cache warm) cold, alternating in batches so both see the same machine:
// it reports each tier's ns per Get and their ratio (the tier's goal is
// cold at most twice hot).
func BenchmarkColdKVGet(b *testing.B) {
	hot, cold := openColdBench(b)
	keys := make([]string, benchSteps)
	for s := range keys {
		keys[s] = benchStepKey(s + 1)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const batch = 256
	var spent [2]time.Duration
	var n [2]int
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tier := i / batch % 2
		runs := hot
		if tier == 1 {
			runs = cold
		}
		r, key := runs[rng.IntN(len(runs))], keys[rng.IntN(benchSteps)]
		t0 := time.Now()
		_, err := r.KV().Get(key)
		spent[tier] += time.Since(t0)
		n[tier]++
		if err != nil {
			b.Fatal(err)
		}
	}
	if n[0] > 0 && n[1] > 0 {
		hot, cold := float64(spent[0])/float64(n[0]), float64(spent[1])/float64(n[1])
		b.ReportMetric(hot, "hot-ns/get")
		b.ReportMetric(cold, "cold-ns/get")
		b.ReportMetric(cold/hot, "cold/hot")
	}
}
