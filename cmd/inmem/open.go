package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/inmem-db/inmem"
)

// openReadOnly opens the database in dir for a command that only reads: it
// changes nothing there, works while another process (an agent, `inmem
// serve`) holds the database, and refuses a directory with no database.
func openReadOnly(dir string, errOut io.Writer) (*inmem.DB, error) {
	return openExisting(dir, errOut, inmem.WithReadOnly())
}

// openExisting opens the database in dir for a command, with a clear
// message when another process holds it or there is none. When errOut is
// a terminal a bar shows recovery of a large database, which can take a
// while.
func openExisting(dir string, errOut io.Writer, opts ...inmem.Option) (*inmem.DB, error) {
	var bar *recoveryBar
	if isTerminal(errOut) {
		bar = &recoveryBar{w: errOut}
		opts = append(opts, bar.option())
	}
	db, err := inmem.Open(dir, opts...)
	bar.finish()
	if err != nil {
		return nil, lockedMessage(dir, err)
	}
	return db, nil
}

// lockedMessage says what to do about a directory another process holds,
// or one that holds no database; other errors pass through.
func lockedMessage(dir string, err error) error {
	switch {
	case errors.Is(err, inmem.ErrLocked):
		return fmt.Errorf("%s is open in another process (close it; runs, show, export, asof, replay, diff and ui work beside it): %w", dir, err)
	case errors.Is(err, inmem.ErrNotFound):
		return fmt.Errorf("%w (`inmem demo %s` makes one)", err, dir)
	}
	return err
}

// recoveryBar draws inmem.WithRecoveryProgress as a progress bar. The bar
// is made at the first report, when the total is known; a nil
// *recoveryBar does nothing.
type recoveryBar struct {
	w   io.Writer
	bar *progress
}

func (r *recoveryBar) option() inmem.Option {
	return inmem.WithRecoveryProgress(func(done, total int64) {
		if r.bar == nil {
			r.bar = newBar(r.w, "recover", total)
		}
		r.bar.total = total // grows if a damaged snapshot sends recovery to an older one
		r.bar.set(done)
	})
}

// finish erases the bar once the database is open (or failed to open).
func (r *recoveryBar) finish() {
	if r != nil {
		r.bar.finish()
	}
}

// openWithRun opens dir and finds the run a command's RUN argument names
// (resolveRun): its ID, its name or a prefix of its ID.
func openWithRun(dir, run string, errOut io.Writer) (*inmem.DB, inmem.RunID, error) {
	db, err := openReadOnly(dir, errOut)
	if err != nil {
		return nil, inmem.RunID{}, err
	}
	id, err := resolveRun(db, run)
	if err != nil {
		db.Close()
		return nil, id, err
	}
	return db, id, nil
}
