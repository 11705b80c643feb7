package inmem

import (
	"fmt"
	"iter"
	"slices"
	"time"
)

// ListAfter is List for one page: the runs matching q that were created
// after the run after (whose ID sorts before theirs), in creation order,
// at most q.Limit of them (0: no limit). To page through runs, pass the
// zero RunID first and then the ID of the last run returned, until a page
// comes back shorter than q.Limit. The cursor need not name a run that
// still exists. Each page is its own read, so a run created between pages
// shows up on a later one, and one deleted before its page is not there.
func (rx *Runs) ListAfter(q RunQuery, after RunID) ([]RunInfo, error) {
	return rx.page(q, after, false)
}

// ListBefore is ListAfter newest first: the runs matching q that were
// created before the run before (whose ID sorts after theirs), the newest
// first, at most q.Limit of them. Pass the zero RunID for the newest page,
// then the ID of the last run returned. A run created between pages is
// not on a later page (it is newer than the cursor); start again from the
// zero RunID to see it.
func (rx *Runs) ListBefore(q RunQuery, before RunID) ([]RunInfo, error) {
	return rx.page(q, before, true)
}

// page lists one page of the runs matching q beyond cursor: after it in
// creation order, or, newest first, before it (the zero cursor is the
// start of either order).
func (rx *Runs) page(q RunQuery, cursor RunID, newestFirst bool) ([]RunInfo, error) {
	db := rx.db
	if db.closed.Load() {
		return nil, ErrClosed
	}
	if q.Limit < 0 {
		return nil, fmt.Errorf("run query limit %d: %w", q.Limit, ErrInvalidArgument)
	}
	if q.Status != 0 && (q.Status < Active || q.Status > Archived) {
		return nil, fmt.Errorf("run query status %d: %w", q.Status, ErrInvalidArgument)
	}
	// Candidates come from the most selective index the query names
	// (parent, tag, status, namespace, else the creation-ordered list from
	// Since on); IDs up to the cursor are dropped before any run's info is
	// copied, so a page costs the runs after the cursor that the index
	// names, not every run it names. The other fields filter them.
	beyond := func(id RunID) bool { return id.Compare(cursor) > 0 }
	if newestFirst {
		beyond = func(id RunID) bool { return cursor.IsZero() || id.Compare(cursor) < 0 }
	}
	db.runsMu.RLock()
	var cand []RunID
	switch ix := db.index; {
	case !q.Parent.IsZero():
		cand = filterIDs(ix.byParent[q.Parent], beyond)
	case q.Tag != "":
		cand = filterIDs(ix.byTag[q.Tag], beyond)
	case q.Status != 0:
		for id := range ix.byStatus[q.Status] {
			if beyond(id) {
				cand = append(cand, id)
			}
		}
	case q.Namespace != (Namespace{}):
		cand = filterIDs(ix.byNS[q.Namespace], beyond)
	default:
		// An ID's time (UUIDv7, milliseconds) is never before its run's
		// CreatedAt truncated to the millisecond, so runs created at or
		// after Since all sort at or after the first ID of that millisecond.
		lo, hi := 0, len(ix.order)
		if !q.Since.IsZero() {
			ms := time.UnixMilli(q.Since.UnixMilli())
			lo, _ = slices.BinarySearchFunc(ix.order, ms, func(id RunID, t time.Time) int { return id.Time().Compare(t) })
		}
		i, found := slices.BinarySearchFunc(ix.order, cursor, RunID.Compare)
		switch {
		case newestFirst && !cursor.IsZero():
			hi = i // i is the cursor's place, or the first ID after it
		case !newestFirst && found:
			lo = max(lo, i+1)
		case !newestFirst:
			lo = max(lo, i)
		}
		cand = slices.Clone(ix.order[lo:max(lo, hi)])
	}
	states := make([]*runState, 0, len(cand))
	for _, id := range cand {
		if rs, ok := db.runs[id]; ok {
			states = append(states, rs)
		}
	}
	db.runsMu.RUnlock()
	slices.SortFunc(states, func(a, b *runState) int { return a.id.Compare(b.id) })
	if newestFirst {
		slices.Reverse(states)
	}
	var out []RunInfo
	for _, rs := range states {
		info := rs.snapshotInfo()
		if !q.matches(&info) {
			continue
		}
		out = append(out, info)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

func filterIDs(ids []RunID, keep func(RunID) bool) []RunID {
	var out []RunID
	for _, id := range ids {
		if keep(id) {
			out = append(out, id)
		}
	}
	return out
}

// runPage is how many runs All reads at a time.
const runPage = 256

// All returns the runs matching q in creation order, at most q.Limit of
// them (0: no limit), as a sequence for range:
//
//	for info, err := range db.Runs().All(inmem.RunQuery{Status: inmem.Active}) {
//		if err != nil {
//			return err
//		}
//		use(info)
//	}
//
// It reads the runs a page at a time with ListAfter, holding no lock while
// the loop body runs, so the loop may stop early or take its time; a run
// created meanwhile is included if it was created after the last one
// yielded. An error is yielded once, with a zero RunInfo, and ends the
// sequence.
func (rx *Runs) All(q RunQuery) iter.Seq2[RunInfo, error] {
	return func(yield func(RunInfo, error) bool) {
		if q.Limit < 0 {
			yield(RunInfo{}, fmt.Errorf("run query limit %d: %w", q.Limit, ErrInvalidArgument))
			return
		}
		left := q.Limit
		var after RunID
		for {
			pq := q
			pq.Limit = runPage
			if left > 0 {
				pq.Limit = min(left, runPage)
			}
			page, err := rx.ListAfter(pq, after)
			if err != nil {
				yield(RunInfo{}, err)
				return
			}
			for _, info := range page {
				if !yield(info, nil) {
					return
				}
			}
			if left > 0 {
				if left -= len(page); left == 0 {
					return
				}
			}
			if len(page) < pq.Limit {
				return
			}
			after = page[len(page)-1].ID
		}
	}
}
