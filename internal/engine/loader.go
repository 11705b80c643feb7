package engine

import (
	"bytes"

	"github.com/inmem-db/inmem/skiplist"
)

// Loader inserts entries whose versions are already known (recovery from a
// snapshot and the WAL) on two goroutines: the caller decodes and copies
// each entry into the arena, a second goroutine links the copies. Entries
// with explicit versions link to the same list in any order, so the split
// is safe, and it overlaps the two halves of the work on two cores.
type Loader struct {
	list  *skiplist.List
	batch []loadItem
	full  chan []loadItem
	free  chan []loadItem
	done  chan struct{}
}

type loadItem struct {
	off, version uint64
	unindexed    bool // a secondary-index entry (ScanOnly)
}

// loadBatch is how many entries travel to the linker at a time: enough to
// make the channel's cost per entry small.
const loadBatch = 1024

// NewLoader starts a loader into l; Finish must be called once.
func NewLoader(l *skiplist.List) *Loader {
	ld := &Loader{
		list: l,
		full: make(chan []loadItem, 4),
		free: make(chan []loadItem, 6),
		done: make(chan struct{}),
	}
	for i := 0; i < cap(ld.free); i++ {
		ld.free <- nil // allocated on first use: most recoveries are small
	}
	ld.batch = <-ld.free
	go ld.link()
	return ld
}

// link links what Add queued. Entries mostly come in the list's order (a
// snapshot's are sorted; a WAL record's are in key order), so each one's
// search starts from the entry before it when that sorts before it,
// rather than from the head: a short walk instead of a descent.
func (ld *Loader) link() {
	defer close(ld.done)
	unindexed := &skiplist.Splice{Unindexed: true} // not located: the link searches
	var sps [2]skiplist.Splice
	var prev loadItem
	have := false // sps[1] holds prev's splice
	for b := range ld.full {
		for _, it := range b {
			if it.unindexed {
				ld.list.LinkAt(it.off, it.version, unindexed)
				continue
			}
			var hint *skiplist.Splice
			if have && ld.sortsAfter(it, prev) {
				hint = &sps[1]
			}
			ld.list.LinkFrom(it.off, it.version, &sps[0], hint)
			sps[0], sps[1] = sps[1], sps[0]
			prev, have = it, true
		}
		ld.free <- b[:0]
	}
}

// sortsAfter reports whether a sorts after b in the list: key ascending,
// then version descending.
func (ld *Loader) sortsAfter(a, b loadItem) bool {
	if c := bytes.Compare(ld.list.PreparedKey(a.off), ld.list.PreparedKey(b.off)); c != 0 {
		return c > 0
	}
	return a.version < b.version
}

// Add copies the entry into the arena and queues it for linking.
func (ld *Loader) Add(key []byte, version uint64, value []byte) error {
	off, err := ld.list.Prepare(key, value, nil)
	if err != nil {
		return err
	}
	if ld.batch == nil {
		ld.batch = make([]loadItem, 0, loadBatch)
	}
	ld.batch = append(ld.batch, loadItem{off, version, ScanOnly(value)})
	if len(ld.batch) == loadBatch {
		ld.full <- ld.batch
		ld.batch = <-ld.free
	}
	return nil
}

// Finish links what is queued and stops the linker. Everything added is in
// the list when it returns. It must be called exactly once.
func (ld *Loader) Finish() {
	if len(ld.batch) > 0 {
		ld.full <- ld.batch
	}
	close(ld.full)
	<-ld.done
}
