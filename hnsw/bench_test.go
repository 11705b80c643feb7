package hnsw

import (
	"sync"
	"testing"
)

var (
	benchOnce  sync.Once
	benchIndex *Index
	benchData  [][]float32
)

func benchSetup(b *testing.B) (*Index, [][]float32) {
	benchOnce.Do(func() {
		benchData = clustered(71, 10000, 128, 40)
		benchIndex = build(b, Config{Dim: 128, Metric: Cosine, Seed: 1}, benchData)
	})
	return benchIndex, benchData
}

// BenchmarkSearch is top-10 on 10k x 128 cosine vectors at the default ef.
func BenchmarkSearch(b *testing.B) {
	x, data := benchSetup(b)
	qs := queries(72, data, 256)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := x.Search(qs[i%len(qs)], 10, SearchOptions{}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSearchFiltered keeps one node in ten through a Filter.
func BenchmarkSearchFiltered(b *testing.B) {
	x, data := benchSetup(b)
	qs := queries(73, data, 256)
	filter := func(id uint32) bool { return id%10 == 0 }
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := x.Search(qs[i%len(qs)], 10, SearchOptions{Filter: filter}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkInsert measures building a 10k x 128 index one node at a time.
func BenchmarkInsert(b *testing.B) {
	data := clustered(74, 10000, 128, 40)
	b.ReportAllocs()
	for b.Loop() {
		x, err := New(Config{Dim: 128, Metric: Cosine, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		for i, v := range data {
			if err := x.Insert(uint32(i), v, 1); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(data)), "ns/insert")
}
