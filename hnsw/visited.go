package hnsw

// tagSet is a set of node ids that clears in O(1): a slot belongs to the set
// when it holds the current epoch. Bumping the epoch empties the set, so a
// pooled tagSet is reused across searches without touching its memory; only
// on the rare wrap-around of the epoch is the array zeroed.
type tagSet struct {
	tags  []uint32
	epoch uint32
}

// reset empties the set and makes room for ids below n.
func (t *tagSet) reset(n int) {
	if len(t.tags) < n {
		// Grow with headroom so a growing index does not reallocate
		// on every search.
		t.tags = make([]uint32, n+n/4)
		t.epoch = 1
		return
	}
	t.epoch++
	if t.epoch == 0 {
		clear(t.tags)
		t.epoch = 1
	}
}

// add inserts id and reports whether it was already present.
func (t *tagSet) add(id uint32) bool {
	if t.tags[id] == t.epoch {
		return true
	}
	t.tags[id] = t.epoch
	return false
}

func (t *tagSet) has(id uint32) bool { return t.tags[id] == t.epoch }
