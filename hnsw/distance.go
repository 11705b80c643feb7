package hnsw

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/inmem-db/inmem/internal/prefetch"
	"github.com/viterin/vek/vek32"
)

// Metric chooses how similarity is measured. The zero value is invalid so
// that a forgotten field is an error rather than a silent default.
type Metric uint8

const (
	// Cosine similarity. Vectors are normalised once at insert and the
	// query once per search, so the inner loop is a plain dot product.
	// Score is the cosine similarity in [-1, 1].
	Cosine Metric = iota + 1
	// Euclidean (L2) distance. Score is the negative Euclidean distance,
	// so that higher is better like the other metrics; 0 is an exact match.
	Euclidean
	// Dot is the raw inner product. Score is the dot product.
	Dot
)

// String returns the metric's lower-case name ("cosine", "euclidean",
// "dot"), or Metric(n) for a value that names none.
func (m Metric) String() string {
	switch m {
	case Cosine:
		return "cosine"
	case Euclidean:
		return "euclidean"
	case Dot:
		return "dot"
	}
	return fmt.Sprintf("Metric(%d)", uint8(m))
}

func (m Metric) valid() bool { return m >= Cosine && m <= Dot }

// Internally every metric is a lower-is-better "distance" so that one set of
// heaps and one search loop serve all three:
//
//	Cosine:    1 - <a,b>   (a, b unit length)
//	Dot:       -<a,b>
//	Euclidean: |a - b|
//
// Each is one vek32 call over the two vectors, with no scratch memory (safe
// from any number of goroutines) and nothing else read per node: a stored
// norm would cost a second cache miss per distance, and distances are
// bounded by memory, not arithmetic.

// distTo returns the distance from query q (already prepared: normalised
// for Cosine) to node id.
func (x *Index) distTo(q []float32, id uint32) float32 {
	off := int(id) * x.dim
	return x.dist(q, x.vecs[off:off+x.dim])
}

// rowLines is how many cache lines of a vector a prefetch asks for.
func (x *Index) rowLines() int {
	row := 4 * x.dim
	// A row not aligned to a line spans one line more.
	return min((row+63)/64+min(row%64, 1), maxPrefetchLines)
}

// prefetchOne is prefetch for one node.
func (x *Index) prefetchOne(id uint32, checks bool) {
	prefetch.Lines(unsafe.Pointer(&x.vecs[int(id)*x.dim]), x.rowLines())
	if checks {
		prefetch.Lines(unsafe.Pointer(&x.meta[id]), 1)
		prefetch.Lines(unsafe.Pointer(&x.insVer[id]), 1)
	}
}

// distIDs returns the distance between two stored nodes.
func (x *Index) distIDs(a, b uint32) float32 {
	oa, ob := int(a)*x.dim, int(b)*x.dim
	return x.dist(x.vecs[oa:oa+x.dim], x.vecs[ob:ob+x.dim])
}

func (x *Index) dist(a, b []float32) float32 {
	switch x.metric {
	case Cosine:
		return 1 - vek32.Dot(a, b)
	case Dot:
		return -vek32.Dot(a, b)
	default:
		return vek32.Distance(a, b)
	}
}

// prefetchAhead is how many neighbours ahead of the one being scored a
// search prefetches. Asking for every neighbour at once queued more misses
// than the processor tracks, so it stalled on the prefetches themselves:
// on 100k x 128, 2 to 6 ahead searched 30-40% faster than all at once, in
// one process with the two ways alternating query by query.
const prefetchAhead = 3

// l2Ahead is how far ahead the vectors are asked for into the outer caches
// only, which does not take the first-level miss buffers that limit
// prefetchAhead: with both, the misses of six neighbours overlap instead
// of three (+6-9% at ef 32/64/128 on 100k x 128; 5 and 6 ahead were best,
// 9 and 12 gained less, alternating query by query).
const l2Ahead = 2 * prefetchAhead

// maxPrefetchLines bounds the cache lines prefetched per vector: enough
// for a 128-dimension row; the hardware streams the rest of longer ones.
const maxPrefetchLines = 8

// prefetch starts loading the vectors of ids and, if checks, their records
// and insert versions (a search at a snapshot, as every search through the
// database is, checks the insert version too), so that the distances and
// visibility checks that follow find them in cache instead of waiting for
// memory one node at a time. Caller holds mu for reading.
func (x *Index) prefetch(ids []uint32, checks bool) {
	for _, id := range ids {
		x.prefetchOne(id, checks)
	}
}

// prefetchL2 starts loading the vectors of ids into the outer caches.
func (x *Index) prefetchL2(ids []uint32) {
	for _, id := range ids {
		prefetch.LinesL2(unsafe.Pointer(&x.vecs[int(id)*x.dim]), x.rowLines())
	}
}

// score converts an internal distance to the public higher-is-better score.
func (x *Index) score(d float32) float32 {
	switch x.metric {
	case Cosine:
		return 1 - d
	case Dot:
		return -d
	default:
		return -d
	}
}

// checkVector validates v for the index and returns its squared norm.
func (x *Index) checkVector(v []float32) (float32, error) {
	if x.dim == 0 {
		return 0, fmt.Errorf("%w: index not created with New", ErrInvalidArgument)
	}
	if len(v) != x.dim {
		return 0, fmt.Errorf("%w: got %d, want %d", ErrDimension, len(v), x.dim)
	}
	for i, c := range v {
		if math.IsNaN(float64(c)) || math.IsInf(float64(c), 0) {
			return 0, fmt.Errorf("%w: component %d is %v", ErrInvalidVector, i, c)
		}
	}
	sq := vek32.Dot(v, v)
	if math.IsInf(float64(sq), 0) || math.IsNaN(float64(sq)) {
		return 0, fmt.Errorf("%w: squared norm overflows float32", ErrInvalidVector)
	}
	if x.metric == Cosine && sq == 0 {
		return 0, fmt.Errorf("%w: zero vector has no direction under cosine", ErrInvalidVector)
	}
	return sq, nil
}

// prepare copies v, whose squared norm is sq, into dst, normalising it for
// Cosine.
func (x *Index) prepare(dst, v []float32, sq float32) {
	copy(dst, v)
	if x.metric == Cosine {
		vek32.MulNumber_Inplace(dst, float32(1/math.Sqrt(float64(sq))))
	}
}
