package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/inmem-db/inmem"
)

// uiSource hands the inspector the database to read: the live one of
// inmem serve, or a read-only open that follows a directory another
// process writes.
type uiSource interface {
	// acquire returns the database to read for one request and the
	// function that releases it; the database stays open until then.
	acquire() (*inmem.DB, func())
	readOnly() bool
}

// liveSource is the database the serving process holds: it sees every
// commit at once.
type liveSource struct{ db *inmem.DB }

func (s liveSource) acquire() (*inmem.DB, func()) { return s.db, func() {} }
func (s liveSource) readOnly() bool               { return false }

// followSource reads a directory read-only and opens it again when its
// files change, so that steps another process commits appear: a read-only
// open sees the durable state as of the open. A request holds the
// database it acquired; a database replaced by a newer open is closed
// when its last request releases it.
type followSource struct {
	dir   string
	every time.Duration // how often the directory is looked at

	mu   sync.Mutex
	cur  *heldDB
	sig  string // what the directory's files looked like at cur's open
	stop chan struct{}
	done chan struct{}
}

// heldDB is an open database and the requests reading it.
type heldDB struct {
	db      *inmem.DB
	readers int  // guarded by followSource.mu
	retired bool // replaced: close at the last release
}

// openFollow opens dir read-only and follows it until close.
func openFollow(dir string, every time.Duration, open func() (*inmem.DB, error)) (*followSource, error) {
	sig, err := dirSignature(dir)
	if err != nil {
		return nil, err
	}
	db, err := open()
	if err != nil {
		return nil, err
	}
	s := &followSource{dir: dir, every: every, cur: &heldDB{db: db}, sig: sig, stop: make(chan struct{}), done: make(chan struct{})}
	go s.follow(open)
	return s, nil
}

func (s *followSource) readOnly() bool { return true }

func (s *followSource) acquire() (*inmem.DB, func()) {
	s.mu.Lock()
	h := s.cur
	h.readers++
	s.mu.Unlock()
	var once sync.Once
	return h.db, func() { once.Do(func() { s.release(h) }) }
}

func (s *followSource) release(h *heldDB) {
	s.mu.Lock()
	h.readers--
	last := h.retired && h.readers == 0
	s.mu.Unlock()
	if last {
		h.db.Close()
	}
}

// follow opens the directory again whenever its files changed since the
// last open. A failed open (a file caught mid-rename) keeps the current
// database and is tried again at the next look. An open recovers the
// whole database, so after one that took d the next waits 3d: a large
// database written without pause costs the inspector a quarter of a core,
// not all of it, and its page lags by a few opens.
func (s *followSource) follow(open func() (*inmem.DB, error)) {
	defer close(s.done)
	t := time.NewTicker(s.every)
	defer t.Stop()
	var notBefore time.Time
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if time.Now().Before(notBefore) {
			continue
		}
		sig, err := dirSignature(s.dir)
		s.mu.Lock()
		same := sig == s.sig
		s.mu.Unlock()
		if err != nil || same {
			continue
		}
		start := time.Now()
		db, err := open()
		notBefore = time.Now().Add(3 * time.Since(start))
		if err != nil {
			continue
		}
		s.mu.Lock()
		old := s.cur
		s.cur, s.sig = &heldDB{db: db}, sig
		old.retired = true
		idle := old.readers == 0
		s.mu.Unlock()
		if idle {
			old.db.Close()
		}
	}
}

// close stops following and closes the current database; requests still
// reading an older one close it when they release it.
func (s *followSource) close() error {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	h := s.cur
	h.retired = true
	idle := h.readers == 0
	s.mu.Unlock()
	if idle {
		return h.db.Close()
	}
	return nil
}

// dirSignature names every file under dir with its size and modification
// time: a commit grows the WAL, a checkpoint writes a snapshot and retires
// segments.
func dirSignature(dir string) (string, error) {
	var b []byte
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // removed while walked: the next look sees it
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		b = fmt.Appendf(b, "%s %d %d\n", path, fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	return string(b), err
}
