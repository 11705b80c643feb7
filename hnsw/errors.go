package hnsw

import "errors"

// Sentinel errors. Returned errors wrap them with context; compare with
// errors.Is.
var (
	// ErrDimension: a vector's length differs from Config.Dim.
	ErrDimension = errors.New("hnsw: wrong vector dimension")
	// ErrInvalidVector: a vector has a NaN or infinite component, its
	// squared norm overflows float32, or it is the zero vector under Cosine.
	ErrInvalidVector = errors.New("hnsw: invalid vector")
	// ErrInvalidArgument: a bad Config, k <= 0, a negative ef, an id out of
	// range, or a delete version that precedes the insert version.
	ErrInvalidArgument = errors.New("hnsw: invalid argument")
	// ErrNotFound: Delete of an id that was never inserted or is already
	// deleted.
	ErrNotFound = errors.New("hnsw: id not found")
	// ErrExists: Insert of an id that is already in the index (deleted ids
	// included: a tombstoned node keeps its slot for older snapshots until
	// Vacuum removes it).
	ErrExists = errors.New("hnsw: id already exists")
	// ErrCorrupt: UnmarshalBinary was given data it cannot decode.
	ErrCorrupt = errors.New("hnsw: corrupt encoding")
)
