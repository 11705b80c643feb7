package inmem

import "errors"

// Sentinel errors. Compare with errors.Is: returned errors wrap them with
// context.
var (
	// ErrNotFound: the key, cell, event or record does not exist.
	ErrNotFound = errors.New("inmem: not found")
	// ErrExists: the thing being created already exists.
	ErrExists = errors.New("inmem: already exists")
	// ErrConflict: an optimistic transaction lost to a concurrent commit.
	// Nothing it wrote is visible; it is safe to retry (Run.Update does).
	ErrConflict = errors.New("inmem: transaction conflict")
	// ErrVersionMismatch: a compare-and-swap saw a different version.
	ErrVersionMismatch = errors.New("inmem: version mismatch")
	// ErrInvalidTransition: a status or state-machine change that is not allowed.
	ErrInvalidTransition = errors.New("inmem: invalid transition")
	// ErrRunNotFound: no run has that ID.
	ErrRunNotFound = errors.New("inmem: run not found")
	// ErrRunEnded: a write to a run that has completed, failed, been
	// cancelled or archived.
	ErrRunEnded = errors.New("inmem: run ended")
	// ErrCorruption: data on disk failed a check. Never silently skipped.
	ErrCorruption = errors.New("inmem: corruption")
	// ErrClosed: the database (or transaction) is closed.
	ErrClosed = errors.New("inmem: closed")
	// ErrReadOnly: a write through a read-only transaction or view.
	ErrReadOnly = errors.New("inmem: read-only")
	// ErrTooLarge: a key, value or transaction over its documented limit.
	ErrTooLarge = errors.New("inmem: too large")
	// ErrInvalidArgument: an argument the operation cannot accept.
	ErrInvalidArgument = errors.New("inmem: invalid argument")
	// ErrTxDone: the transaction was already committed or discarded.
	ErrTxDone = errors.New("inmem: transaction already committed or discarded")
)
