// Command anngen writes the vector data sets the benchmarks read, in the
// fvecs/ivecs layout (base.fvecs, query.fvecs, gt.ivecs: the ids of the
// 100 nearest base vectors by L2, nearest first), so that bench/ann and
// any other program (hnswlib's, say) read the same vectors.
//
//	go run ./cmd/anngen -rank 16 -out /tmp/ann                   # the SIFT-like set
//	go run ./cmd/anngen -base /tmp/ann -out /tmp/ann-offdist     # its off-distribution queries
//
// With -rank it draws the base and its queries as perfcheck's vector case
// does: 100k x 128 vectors on a linear structure of that rank plus Gaussian
// noise of deviation 0.1, seed 42, queries from the same structure (rank
// 128 is full rank).
//
// With -base it copies base.fvecs from there and draws the queries from an isotropic
// Gaussian with the base's mean and the base's mean squared distance to
// that mean. annbench's queries come from the same rank-16 linear structure
// as its base, so they lie on the subspace the graph was built on; these
// lie off it in every direction, at the distances the base's own points
// have, which is what a query from another source (another model, another
// kind of text) looks like to the index, with no tuning knob to choose.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	"github.com/inmem-db/inmem/bench/internal/annset"
)

func main() {
	baseDir := flag.String("base", "", "directory with the base.fvecs to draw off-distribution queries for")
	rank := flag.Int("rank", 0, "draw the base and its queries on a linear structure of this rank instead (16: the SIFT-like set)")
	n := flag.Int("n", 100000, "base vectors, with -rank")
	dim := flag.Int("d", 128, "dimension, with -rank")
	out := flag.String("out", "", "output directory (required)")
	nq := flag.Int("q", 1000, "queries")
	k := flag.Int("k", 100, "ground-truth neighbours per query")
	seed := flag.Int64("seed", 7, "random seed of the queries, with -base")
	flag.Parse()
	if (*baseDir == "") == (*rank == 0) || *out == "" || *rank < 0 || *rank > *dim {
		fmt.Fprintln(os.Stderr, "anngen: give -out and one of -base DIR or -rank R (1 to -d)")
		flag.Usage()
		os.Exit(2)
	}
	if *rank > 0 {
		base, queries := annset.Structured(*n, *nq, *dim, *rank)
		check(os.MkdirAll(*out, 0o755))
		check(writeVecs(filepath.Join(*out, "base.fvecs"), base, math.Float32bits))
		check(writeVecs(filepath.Join(*out, "query.fvecs"), queries, math.Float32bits))
		check(writeVecs(filepath.Join(*out, "gt.ivecs"), groundTruth(base, queries, *k), func(x int32) uint32 { return uint32(x) }))
		fmt.Printf("wrote %d base and %d query vectors of dim %d (rank %d), ground truth top-%d, to %s\n", *n, *nq, *dim, *rank, *k, *out)
		return
	}
	raw, err := os.ReadFile(filepath.Join(*baseDir, "base.fvecs"))
	check(err)
	base, err := decodeFvecs(raw)
	check(err)
	queries := isotropicQueries(base, *nq, *seed)
	gt := groundTruth(base, queries, *k)

	check(os.MkdirAll(*out, 0o755))
	check(os.WriteFile(filepath.Join(*out, "base.fvecs"), raw, 0o644))
	check(writeVecs(filepath.Join(*out, "query.fvecs"), queries, math.Float32bits))
	check(writeVecs(filepath.Join(*out, "gt.ivecs"), gt, func(x int32) uint32 { return uint32(x) }))
	fmt.Printf("wrote %d base vectors (from %s) and %d isotropic queries of dim %d, ground truth top-%d, to %s\n",
		len(base), *baseDir, len(queries), len(base[0]), *k, *out)
}

// isotropicQueries draws n vectors from N(mean, s²I), with mean the base's
// mean and s² chosen so that a query's expected squared distance to the
// mean is the base's average one: same centre and spread, no structure.
func isotropicQueries(base [][]float32, n int, seed int64) [][]float32 {
	d := len(base[0])
	mean := make([]float64, d)
	for _, v := range base {
		for i, x := range v {
			mean[i] += float64(x)
		}
	}
	for i := range mean {
		mean[i] /= float64(len(base))
	}
	var ss float64
	for _, v := range base {
		for i, x := range v {
			dx := float64(x) - mean[i]
			ss += dx * dx
		}
	}
	s := math.Sqrt(ss / float64(len(base)) / float64(d))
	rng := rand.New(rand.NewSource(seed))
	qs := make([][]float32, n)
	for j := range qs {
		q := make([]float32, d)
		for i := range q {
			q[i] = float32(mean[i] + s*rng.NormFloat64())
		}
		qs[j] = q
	}
	return qs
}

// groundTruth is, for each query, the ids of the k base vectors nearest by
// L2, nearest first, ties to the lower id: annbench's order, with its
// float32 distance, so the two generators' files mean the same.
func groundTruth(base, queries [][]float32, k int) [][]int32 {
	type cand struct {
		id int32
		d  float32
	}
	less := func(a, b cand) int {
		switch {
		case a.d < b.d || (a.d == b.d && a.id < b.id):
			return -1
		case a == b:
			return 0
		}
		return 1
	}
	k = min(k, len(base))
	gt := make([][]int32, len(queries))
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			best := make([]cand, 0, k+1)
			for q := range next {
				best = best[:0]
				for i, b := range base {
					c := cand{int32(i), l2(queries[q], b)}
					if len(best) == k && less(c, best[k-1]) >= 0 {
						continue
					}
					at, _ := slices.BinarySearchFunc(best, c, less)
					best = slices.Insert(best, at, c)
					if len(best) > k {
						best = best[:k]
					}
				}
				ids := make([]int32, len(best))
				for j, c := range best {
					ids[j] = c.id
				}
				gt[q] = ids
			}
		}()
	}
	for q := range queries {
		next <- q
	}
	close(next)
	wg.Wait()
	return gt
}

func l2(a, b []float32) float32 {
	var s float32
	for i := range a {
		x := a[i] - b[i]
		s += x * x
	}
	return s
}

// decodeFvecs reads the fvecs layout: per vector, a little-endian int32
// dimension and that many float32.
func decodeFvecs(b []byte) ([][]float32, error) {
	var out [][]float32
	for off := 0; off < len(b); {
		if off+4 > len(b) {
			return nil, io.ErrUnexpectedEOF
		}
		d := int(binary.LittleEndian.Uint32(b[off:]))
		off += 4
		if d == 0 || off+4*d > len(b) {
			return nil, fmt.Errorf("fvecs: bad vector at byte %d", off-4)
		}
		v := make([]float32, d)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[off+4*i:]))
		}
		out = append(out, v)
		off += 4 * d
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("fvecs: no vectors")
	}
	return out, nil
}

// writeVecs writes vs in the fvecs/ivecs layout, each value as bits(x).
func writeVecs[T any](path string, vs [][]T, bits func(T) uint32) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	var buf [4]byte
	for _, v := range vs {
		binary.LittleEndian.PutUint32(buf[:], uint32(len(v)))
		bw.Write(buf[:])
		for _, x := range v {
			binary.LittleEndian.PutUint32(buf[:], bits(x))
			bw.Write(buf[:])
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "anngen:", err)
		os.Exit(1)
	}
}
