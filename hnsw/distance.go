package hnsw

import (
	"fmt"
	"math"

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
//	Cosine:    1 - <a,b>            (a, b unit length)
//	Dot:       -<a,b>
//	Euclidean: |a|² + |b|² - 2<a,b> (squared; |v|² is stored per node)
//
// Expanding the squared Euclidean distance around the dot product keeps the
// hot loop to one vek32.Dot call with no scratch vector, which also makes it
// safe to call from any number of goroutines at once.

// distTo returns the distance from query q (already prepared: normalised for
// Cosine, qsq = |q|² for Euclidean) to node id.
func (x *Index) distTo(q []float32, qsq float32, id uint32) float32 {
	off := int(id) * x.dim
	d := vek32.Dot(q, x.vecs[off:off+x.dim])
	return x.fromDot(d, qsq, x.sqn[id])
}

// distIDs returns the distance between two stored nodes.
func (x *Index) distIDs(a, b uint32) float32 {
	oa, ob := int(a)*x.dim, int(b)*x.dim
	d := vek32.Dot(x.vecs[oa:oa+x.dim], x.vecs[ob:ob+x.dim])
	return x.fromDot(d, x.sqn[a], x.sqn[b])
}

func (x *Index) fromDot(dot, asq, bsq float32) float32 {
	switch x.metric {
	case Cosine:
		return 1 - dot
	case Dot:
		return -dot
	default:
		d := asq + bsq - 2*dot
		if d < 0 { // rounding on near-identical vectors
			d = 0
		}
		return d
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
		return -float32(math.Sqrt(float64(d)))
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

// prepare copies v into dst, normalising it for Cosine, and returns the
// squared norm of what was written.
func (x *Index) prepare(dst, v []float32, sq float32) float32 {
	copy(dst, v)
	if x.metric != Cosine {
		return sq
	}
	inv := float32(1 / math.Sqrt(float64(sq)))
	vek32.MulNumber_Inplace(dst, inv)
	return 1
}
