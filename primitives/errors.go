package primitives

import "errors"

// Sentinel errors, re-exported by package inmem under the same names.
var (
	ErrNotFound          = errors.New("inmem: not found")
	ErrExists            = errors.New("inmem: already exists")
	ErrVersionMismatch   = errors.New("inmem: version mismatch")
	ErrInvalidTransition = errors.New("inmem: invalid transition")
	ErrReadOnly          = errors.New("inmem: read-only")
	ErrTooLarge          = errors.New("inmem: too large")
	ErrInvalidArgument   = errors.New("inmem: invalid argument")
	ErrCorruption        = errors.New("inmem: corruption")
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
