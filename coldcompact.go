package inmem

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/inmem-db/inmem/internal/coldfile"
	"github.com/inmem-db/inmem/occ"
)

// Cold-tier compaction: files whose runs were mostly deleted, and runs of
// many small files, are rewritten into one new file holding only what is
// still read; files no manifest entry names any more are removed. It runs
// in the freezer's goroutine, after each batch, and from CompactCold.

const (
	// coldSmallFile is the size under which a file counts as small: a
	// freeze of a few runs, or Runs.Freeze of one.
	coldSmallFile = 4 << 20
	// coldMergeSmall is how many small files make a merge worth it.
	coldMergeSmall = 8
)

// CompactCold rewrites now every cold file that holds anything no longer
// read (runs deleted, history dropped by Runs.Compact) and merges every
// small file into one, then removes the files nothing names any more. The
// background freezer does the same by itself for files that are mostly
// dead and for runs of small files; this is for tools and tests.
func (db *DB) CompactCold() error {
	if db.closed.Load() {
		return ErrClosed
	}
	if err := db.canFreeze(); err != nil {
		return err
	}
	return db.compactCold(true)
}

// coldMove is one manifest entry a compaction carries into its new file,
// or drops.
type coldMove struct {
	scope   string
	ref     *coldRef
	rs      *runState // nil for a deleted run some fork still reads through
	horizon uint64    // versions at or below it keep only their newest (Runs.Compact)
	drop    bool      // a deleted run no fork reads through
}

func (db *DB) compactCold(force bool) error {
	db.freezeMu.Lock()
	defer db.freezeMu.Unlock()
	t := db.cold
	if err := db.retireDeadCold(); err != nil {
		return err
	}
	moves, pick := db.planColdCompaction(force)
	if len(moves) == 0 {
		return nil
	}
	var keep []*coldMove
	for _, m := range moves {
		if !m.drop {
			keep = append(keep, m)
		}
	}
	recs := map[*coldMove]*coldRecord{}
	if len(keep) > 0 {
		id, path, err := t.newFile()
		if err != nil {
			return err
		}
		w, err := coldfile.Create(t.fs, path, coldfile.DefaultCodec)
		if err != nil {
			return fmt.Errorf("cold compaction: %w", err)
		}
		// The old files are read past the block cache (their blocks are
		// about to be dead) and past the tier's open files (its bound).
		readers := map[*coldFile]*coldfile.Reader{}
		defer func() {
			for _, r := range readers {
				r.Close()
			}
		}()
		for _, m := range keep {
			r := readers[m.ref.file]
			if r == nil {
				if r, err = coldfile.Open(t.fs, m.ref.file.path, m.ref.file.id, nil); err != nil {
					w.Abort()
					return fmt.Errorf("cold compaction: %w", err)
				}
				readers[m.ref.file] = r
			}
			n, err := copyColdScope(w, r, m)
			if err != nil {
				w.Abort()
				return fmt.Errorf("cold compaction: %w", err)
			}
			recs[m] = &coldRecord{File: id, Version: m.ref.version, Scope: []byte(m.scope), Bytes: n, Runs: len(keep)}
		}
		size, err := w.Finish()
		if err != nil {
			return fmt.Errorf("cold compaction: %w", err)
		}
		for _, r := range recs {
			r.Size = size
		}
	}
	// Commit every move, make the commits durable, then apply them: from
	// the apply on, the old files may be removed, and a crash must not
	// find a durable entry naming a removed file.
	var done []*coldMove
	at := map[*coldMove]uint64{}
	for _, m := range moves {
		var g occ.Guard = admitAll{}
		if m.rs != nil {
			g = notDeleted{m.rs}
		}
		v, err := db.commitColdRecord(m.ref.run, recs[m], g)
		if errors.Is(err, ErrRunNotFound) {
			continue // deleted meanwhile: its delete dropped the entry
		}
		if err != nil {
			return fmt.Errorf("cold compaction: %w", err)
		}
		done = append(done, m)
		at[m] = v
	}
	if err := db.store.Log.Sync(); err != nil {
		return fmt.Errorf("cold compaction: %w", err)
	}
	for _, m := range done {
		db.applyColdRecord(m.ref.run, recs[m], at[m])
	}
	_ = pick
	db.coldCompactions.Add(1)
	return db.retireDeadCold()
}

// retireDeadCold removes the files no manifest entry names, once what
// made them so is durable.
func (db *DB) retireDeadCold() error {
	t := db.cold
	var dead []*coldFile
	t.mu.Lock()
	for id, f := range t.files {
		if f.live == 0 {
			dead = append(dead, f)
			delete(t.files, id)
		}
	}
	t.mu.Unlock()
	if len(dead) == 0 {
		return nil
	}
	if err := db.store.Log.Sync(); err != nil {
		return fmt.Errorf("cold tier: %w", err)
	}
	for _, f := range dead {
		f.retire()
	}
	return t.fs.SyncDir(t.dir)
}

// planColdCompaction picks the files to rewrite and says what becomes of
// each manifest entry in them.
func (db *DB) planColdCompaction(force bool) ([]*coldMove, map[*coldFile]bool) {
	t := db.cold
	// Scopes forks read through, and the runs there are.
	db.runsMu.RLock()
	bases := map[string]bool{}
	runs := make(map[RunID]*runState, len(db.runs))
	for id, rs := range db.runs {
		runs[id] = rs
		for _, b := range rs.bases {
			bases[string(b.scope)] = true
		}
	}
	db.runsMu.RUnlock()

	t.mu.RLock()
	defer t.mu.RUnlock()
	dead := map[*coldFile]int{} // entries that would be dropped or shrink
	for scope, ref := range t.scopes {
		rs := runs[ref.run]
		if rs == nil && !bases[scope] {
			dead[ref.file]++
		} else if rs != nil && rs.compacted.Load() > 0 {
			dead[ref.file]++
		}
	}
	pick := map[*coldFile]bool{}
	var small []*coldFile
	for _, f := range t.files {
		switch {
		case f.live == 0:
		case 2*(f.live-dead[f]) < f.runs: // mostly dead
			pick[f] = true
		case force && (dead[f] > 0 || f.live < f.runs): // a run gone or compacted
			pick[f] = true
		case f.size < coldSmallFile:
			small = append(small, f)
		}
	}
	if len(small) >= coldMergeSmall || (force && len(small)+len(pick) > 1) {
		for _, f := range small {
			pick[f] = true
		}
	}
	var moves []*coldMove
	for scope, ref := range t.scopes {
		if !pick[ref.file] {
			continue
		}
		m := &coldMove{scope: scope, ref: ref, rs: runs[ref.run]}
		switch {
		case m.rs == nil && !bases[scope]:
			m.drop = true
		case m.rs != nil && !bases[scope]:
			if c := int(m.rs.compacted.Load()); c > 0 && c <= m.rs.Log.Len() {
				m.horizon = m.rs.Log.At(c - 1).Version
			}
		}
		moves = append(moves, m)
	}
	slices.SortFunc(moves, func(a, b *coldMove) int { return bytes.Compare([]byte(a.scope), []byte(b.scope)) })
	return moves, pick
}

// copyColdScope copies one scope's entries from its file into w, keeping
// at or below the move's horizon only each key's newest version; it
// returns the bytes copied.
func copyColdScope(w *coldfile.Writer, r *coldfile.Reader, m *coldMove) (int64, error) {
	scope := []byte(m.scope)
	it := r.Iter()
	var n int64
	var cur []byte
	decided := false // cur's newest version at or below the horizon is copied
	for it.SeekGE(scope, ^uint64(0)); it.Valid() && bytes.HasPrefix(it.Key(), scope); it.Next() {
		k, v := it.Key(), it.Version()
		if !bytes.Equal(k, cur) {
			cur, decided = append(cur[:0], k...), false
		}
		if v <= m.horizon {
			if decided {
				continue // older than what a read at the horizon sees
			}
			decided = true
		}
		if err := w.Add(k, v, it.Value()); err != nil {
			return n, err
		}
		n += int64(len(k) + len(it.Value()) + 8)
	}
	return n, it.Err()
}
