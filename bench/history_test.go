package bench

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/inmem-db/inmem"
)

// The history benchmarks: time travel, fork and replay.
//
//   - BenchmarkAsOfGet: a point read of one of 100k keys, live (run.KV())
//     and as of the middle step (run.AsOf(k).KV()), after every key was
//     overwritten twice since that step. Target: as-of at most 2x live.
//   - BenchmarkFork: db.Fork of a run holding 100k keys at its last step,
//     then one read through the fork. Target: under 1 ms (copy-on-write).
//   - BenchmarkReplay: db.Replay of a 1,000-step run (each step an event,
//     a KV put, a cell CAS and a span, as BenchmarkAgentStep). Target:
//     under 10 ms.
//
//	go test -run xxx -bench 'AsOfGet|Fork|Replay' -count 5

const histKeys = 100_000

var (
	histOnce sync.Once
	histDB   *inmem.DB
	histRun  *inmem.Run
	histMid  int // the step every key was first written by
)

func histKey(buf []byte, i int) string { return string(fmt.Appendf(buf[:0], "key%08d", i)) }

// loadHistory builds a run with 100k keys written in 100 steps, then
// overwritten twice in 200 more.
func loadHistory(b *testing.B) (*inmem.DB, *inmem.Run) {
	histOnce.Do(func() {
		db, err := inmem.OpenInMemory()
		if err != nil {
			b.Fatal(err)
		}
		run, err := db.BeginRun(inmem.Name("history"))
		if err != nil {
			b.Fatal(err)
		}
		var buf [32]byte
		for round := range 3 {
			for part := range 100 {
				err := run.Update(func(tx *inmem.Tx) error {
					for i := part * histKeys / 100; i < (part+1)*histKeys/100; i++ {
						if err := tx.KV().Put(histKey(buf[:], i), fill(64, byte(round))); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			if round == 0 {
				histMid = 100
			}
		}
		histDB, histRun = db, run
	})
	return histDB, histRun
}

func BenchmarkAsOfGet(b *testing.B) {
	_, run := loadHistory(b)
	view, err := run.AsOf(histMid)
	if err != nil {
		b.Fatal(err)
	}
	probes := make([]int, 1<<16)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range probes {
		probes[i] = r.IntN(histKeys)
	}
	for _, c := range []struct {
		name string
		kv   *inmem.KV
		want byte
	}{{"live", run.KV(), fill(64, 2)[0]}, {"asof", view.KV(), fill(64, 0)[0]}} {
		b.Run(c.name, func(b *testing.B) {
			var buf [32]byte
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				v, err := c.kv.Get(histKey(buf[:], probes[i&(len(probes)-1)]))
				if err != nil || v[0] != c.want {
					b.Fatal(err, v)
				}
			}
		})
	}
}

func BenchmarkFork(b *testing.B) {
	db, run := loadHistory(b)
	info, err := run.Info()
	if err != nil {
		b.Fatal(err)
	}
	var buf [32]byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		child, err := db.Fork(run.ID(), info.Steps)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := child.KV().Get(histKey(buf[:], i%histKeys)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReplay(b *testing.B) {
	db, err := inmem.OpenInMemory()
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	run, err := db.BeginRun()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := run.State().Init(stepCell, []byte("0")); err != nil {
		b.Fatal(err)
	}
	root, err := run.Traces().Record(inmem.Span{Kind: inmem.Decision, Name: "root"})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 998 {
		err := run.Update(func(tx *inmem.Tx) error {
			if _, err := tx.Events().Append(stepEventType, stepPayload); err != nil {
				return err
			}
			if err := tx.KV().Put(fmt.Sprintf("step/%d", i%100), stepKVValue); err != nil {
				return err
			}
			if _, err := tx.State().Set(stepCell, []byte(fmt.Sprint(i))); err != nil {
				return err
			}
			_, err := tx.Traces().Record(inmem.Span{Parent: root, Kind: inmem.LLMCall, Name: "chat", Input: spanInput, Output: spanOutput, Attrs: spanAttrs})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := db.Replay(run.ID())
		if err != nil || !rep.Match || rep.Steps != 1000 {
			b.Fatal(err, rep)
		}
	}
}
