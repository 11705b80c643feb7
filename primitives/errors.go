package primitives

import "github.com/inmem-db/inmem/internal/errs"

// Sentinel errors, re-exported by package inmem under the same names. The
// values are the module's one set (internal/errs), which the engine wraps
// too.
var (
	ErrNotFound          = errs.ErrNotFound
	ErrExists            = errs.ErrExists
	ErrVersionMismatch   = errs.ErrVersionMismatch
	ErrInvalidTransition = errs.ErrInvalidTransition
	ErrReadOnly          = errs.ErrReadOnly
	ErrTooLarge          = errs.ErrTooLarge
	ErrInvalidArgument   = errs.ErrInvalidArgument
	ErrCorruption        = errs.ErrCorruption
)

// Limits on what callers hand in. Exceeding one is ErrTooLarge.
const (
	// MaxName bounds event types, cell names, span names and tags, in bytes.
	MaxName = 1024
	// MaxPayload bounds an event payload, a cell value, and each of a
	// span's input and output, in bytes.
	MaxPayload = 16 << 20
	// MaxAttrs bounds the number of a span's attributes and of its tags.
	MaxAttrs = 256
)
