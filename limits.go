package inmem

// Limits. Exceeding one returns ErrTooLarge; an empty key returns
// ErrInvalidArgument.
const (
	// MaxKeySize is the largest user key in bytes.
	MaxKeySize = 64 << 10
	// MaxValueSize is the largest value in bytes.
	MaxValueSize = 16 << 20
	// MaxTxSize bounds the encoded keys and values one transaction writes.
	MaxTxSize = 256 << 20
	// MaxNameSize bounds each Namespace field and a run's name.
	MaxNameSize = 256
)
