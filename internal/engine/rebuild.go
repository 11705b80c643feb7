package engine

import (
	"bytes"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inmem-db/inmem/internal/keys"
)

// The engine's half of a reclaim (reclaim.go has the whole story and the
// rules of what is kept): copy the versions still needed into a new
// generation while commits go on, catch up with what they linked, and
// swap the copy in.

// rebuild is a reclaim in progress as commits see it.
type rebuild struct {
	base     uint64 // commits above it are not in the copy: they record their links
	cut      uint64 // set before swapping
	swapping atomic.Bool
	swapped  chan struct{} // closed when commits above cut may link (swapped or aborted)

	mu  sync.Mutex
	log []linkedEntry
}

type linkedEntry struct {
	g   *Generation
	off uint64
}

// record notes entries a commit above base linked in g.
func (rb *rebuild) record(g *Generation, offs []uint64, _ uint64) {
	rb.mu.Lock()
	for _, o := range offs {
		rb.log = append(rb.log, linkedEntry{g, o})
	}
	rb.mu.Unlock()
}

func (rb *rebuild) take() []linkedEntry {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	l := rb.log
	rb.log = nil
	return l
}

// KeepRule is what a reclaim keeps of one scope's keys: every version
// above horizon and the newest at or below it (unless dropDead and it is a
// delete or expired).
type KeepRule struct {
	Horizon  uint64
	DropDead bool
	// Cold drops every version at or below it: they are in a cold file,
	// which reads of the scope use instead.
	Cold uint64
}

// RebuildStats describes one rebuild, for ReclaimStats.
type RebuildStats struct {
	Before, After int64 // arena bytes in use
	Kept, Dropped int64 // entries copied and left behind
	CaughtUp      int64 // entries committed during the copy and copied after it
	Live          int64 // arena bytes of the copy alone, before the catch-up
	WriterGap     time.Duration
}

// RebuildGeneration copies the current generation into a new one, keeping
// per scope what retain's rules (given the horizon below which no
// registered snapshot reads) say, and swaps it in. clock decides expiry.
func (s *Store) RebuildGeneration(retain func(horizon uint64) (map[string]KeepRule, KeepRule), clock func() time.Time) (RebuildStats, error) {
	old := s.Current()
	st := RebuildStats{Before: old.Arena.Stats().Used}
	ng, err := NewGeneration()
	if err != nil {
		return st, err
	}
	rb := &rebuild{swapped: make(chan struct{})}
	s.Oracle.Exclusive(func(last uint64) {
		rb.base = last
		s.rebuild.Store(rb)
	})
	abort := func(err error) (RebuildStats, error) {
		rb.swapping.Store(false)
		s.rebuild.Store(nil)
		close(rb.swapped)
		return st, err
	}
	s.Oracle.WaitVisible(rb.base) // every commit at or below base is linked
	rules, def := retain(min(rb.base, s.Oracle.Watermark()))

	var (
		cur      []byte
		decided  bool
		rule     KeepRule
		lastScop []byte
	)
	it := old.List.Iter()
	for it.First(); it.Valid(); it.Next() {
		k, v := it.Key(), it.Version()
		if v > rb.base {
			continue // recorded by its commit
		}
		if !bytes.Equal(k, cur) {
			cur, decided = k, false
			if n := keys.ScopeLen(k); n < 0 {
				rule = KeepRule{} // not a key of any scope: keep it all
				lastScop = nil
			} else if lastScop == nil || !bytes.Equal(k[:n], lastScop) {
				lastScop = k[:n]
				r, ok := rules[string(lastScop)]
				if !ok {
					r = def
				}
				rule = r
			}
		}
		if v <= rule.Cold {
			st.Dropped++
			continue
		}
		if v <= rule.Horizon {
			if decided {
				st.Dropped++
				continue
			}
			decided = true
			if rule.DropDead {
				if _, live := DecodeValue(it.Value(), clock); !live {
					st.Dropped++
					continue
				}
			}
		}
		if _, _, err := ng.List.InsertEntry(k, v, it.Value(), it.Unindexed()); err != nil {
			return abort(err)
		}
		st.Kept++
	}
	// What the copy kept is the live data; the catch-up below adds what
	// commits wrote meanwhile, mostly to be overwritten again, so the next
	// trigger is measured from the copy alone.
	st.Live = ng.Arena.Stats().Used
	catchUp := func() (int, error) {
		batch := rb.take()
		for _, e := range batch {
			k, val, v, un := e.g.List.NodeAt(e.off)
			if _, _, err := ng.List.InsertEntry(k, v, val, un); err != nil {
				return 0, err
			}
		}
		st.CaughtUp += int64(len(batch))
		return len(batch), nil
	}
	for range 8 { // until little is left, so writers wait only for that
		n, err := catchUp()
		if err != nil {
			return abort(err)
		}
		if n < 256 {
			break
		}
	}
	s.Oracle.Exclusive(func(last uint64) {
		rb.cut = last
		rb.swapping.Store(true)
	})
	gap := time.Now()
	s.Oracle.WaitVisible(rb.cut) // every commit at or below the cut is linked and recorded
	if _, err := catchUp(); err != nil {
		return abort(err)
	}
	s.Gen.Store(ng)
	close(rb.swapped)
	st.WriterGap = time.Since(gap)
	s.rebuild.Store(nil)
	// The oracle's recent commit records hold the generation they were
	// prepared in: drop those no reader needs, so the old arena goes as
	// soon as its last reader does.
	s.Oracle.Trim()
	st.After = ng.Arena.Stats().Used
	return st, nil
}
