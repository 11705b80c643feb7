package hnsw

// tagSet is a set of node ids that clears in O(1): a slot belongs to the set
// when it holds the current epoch. Bumping the epoch empties the set, so a
// pooled tagSet is reused across searches without touching its memory; only
// on the wrap-around of the epoch, every 65535 resets, is the array zeroed.
// Tags are 16 bits so that the set for 100k nodes (200 KB) stays in a
// core's L2 cache with room for the search's other data: 6-10% faster
// searches than 32-bit tags on 100k x 128.
type tagSet struct {
	tags  []uint16
	epoch uint16
}

// reset empties the set and makes room for ids below n.
func (t *tagSet) reset(n int) {
	if len(t.tags) < n {
		// Grow with headroom so a growing index does not reallocate
		// on every search.
		t.tags = make([]uint16, n+n/4)
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
