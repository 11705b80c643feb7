package inmem

import "github.com/inmem-db/inmem/primitives"

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
	// MaxLabelSize bounds, in bytes, each tag (of a run or a span), run
	// metadata key, event type, cell name, span name and attribute name.
	// None of them may be empty.
	MaxLabelSize = primitives.MaxName
	// MaxRunTags bounds the number of a run's tags.
	MaxRunTags = 256
	// MaxRunMeta bounds the number of a run's metadata entries.
	MaxRunMeta = 256
	// MaxRunTextSize bounds, in bytes, each run metadata value and the
	// reason given to End. A run's record holds all of them and is
	// rewritten at every status change, so they are kept far below a
	// value's limit.
	MaxRunTextSize = 64 << 10
)
