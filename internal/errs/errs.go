// Package errs defines the sentinel errors of the database, once, so that
// every layer returns the same values: the public packages (the root and
// primitives) export them under their documented names, and the engine
// below them wraps them without importing either.
//
// Invariant: each sentinel is one value for the whole module; a package
// that needs one imports it from here or re-exports it, never makes its own.
package errs

import "errors"

// The sentinels; their meanings are documented where the public packages
// export them (primitives and the root package).
var (
	ErrNotFound          = errors.New("inmem: not found")
	ErrExists            = errors.New("inmem: already exists")
	ErrVersionMismatch   = errors.New("inmem: version mismatch")
	ErrInvalidTransition = errors.New("inmem: invalid transition")
	ErrReadOnly          = errors.New("inmem: read-only")
	ErrTooLarge          = errors.New("inmem: too large")
	ErrInvalidArgument   = errors.New("inmem: invalid argument")
	ErrCorruption        = errors.New("inmem: corruption")
	ErrConflict          = errors.New("inmem: transaction conflict")
)
