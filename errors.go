package inmem

import (
	"errors"

	"github.com/inmem-db/inmem/internal/errs"
	"github.com/inmem-db/inmem/primitives"
)

// Sentinel errors. Compare with errors.Is: returned errors wrap them with
// context. Those the primitives return are defined in package primitives
// and are the same values here.
var (
	// ErrNotFound: the key, cell, event or record does not exist.
	ErrNotFound = primitives.ErrNotFound
	// ErrExists: the thing being created already exists.
	ErrExists = primitives.ErrExists
	// ErrConflict: an optimistic transaction lost to a concurrent commit.
	// Nothing it wrote is visible; it is safe to retry (Run.Update does).
	ErrConflict = errs.ErrConflict
	// ErrVersionMismatch: a compare-and-swap saw a different version.
	ErrVersionMismatch = primitives.ErrVersionMismatch
	// ErrInvalidTransition: a status or state-machine change that is not allowed.
	ErrInvalidTransition = primitives.ErrInvalidTransition
	// ErrRunNotFound: no run has that ID.
	ErrRunNotFound = errors.New("inmem: run not found")
	// ErrRunEnded: a write to a run that has completed, failed, been
	// cancelled or archived.
	ErrRunEnded = errors.New("inmem: run ended")
	// ErrCorruption: data on disk failed a check. Never silently skipped.
	ErrCorruption = primitives.ErrCorruption
	// ErrClosed: the database (or transaction) is closed.
	ErrClosed = errors.New("inmem: closed")
	// ErrReadOnly: a write through a read-only transaction or view.
	ErrReadOnly = primitives.ErrReadOnly
	// ErrTooLarge: a key, value or transaction over its documented limit.
	ErrTooLarge = primitives.ErrTooLarge
	// ErrInvalidArgument: an argument the operation cannot accept.
	ErrInvalidArgument = primitives.ErrInvalidArgument
	// ErrTxDone: the transaction was already committed or discarded.
	ErrTxDone = errors.New("inmem: transaction already committed or discarded")
)
