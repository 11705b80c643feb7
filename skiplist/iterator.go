package skiplist

// Iterator walks a List. It is a value type so it can live on the stack; the
// zero value is invalid until positioned. Iterators see entries inserted
// concurrently if they land ahead of the cursor, which is why the layer above
// filters by version.
type Iterator struct {
	list *List
	off  uint64
}

// Iter returns an unpositioned iterator over s.
func (s *List) Iter() Iterator { return Iterator{list: s} }

// Valid reports whether the iterator is at an entry.
func (it *Iterator) Valid() bool { return it.off != 0 }

// Key returns the current key, aliasing arena memory.
func (it *Iterator) Key() []byte { return it.list.key(it.off, it.list.node(it.off)) }

// Version returns the current entry's version.
func (it *Iterator) Version() uint64 { return it.list.node(it.off).version }

// Value returns the current value, aliasing arena memory.
func (it *Iterator) Value() []byte { return it.list.value(it.off, it.list.node(it.off)) }

// Unindexed reports whether the current entry was linked unindexed (see
// Splice.Unindexed).
func (it *Iterator) Unindexed() bool { return it.list.node(it.off).flags&flagUnindexed != 0 }

// Offset returns the arena offset of the current entry.
func (it *Iterator) Offset() uint64 { return it.off }

// SeekGE moves to the first entry >= (key, version). Use version
// math.MaxUint64 to land on the newest version of key.
func (it *Iterator) SeekGE(key []byte, version uint64) { it.off = it.list.seekGE(key, version) }

// SeekLT moves to the last entry < (key, version).
func (it *Iterator) SeekLT(key []byte, version uint64) { it.off = it.list.seekLT(key, version) }

// First moves to the first entry.
func (it *Iterator) First() { it.off = it.list.node(it.list.head).tower[0].Load() }

// Last moves to the last entry.
func (it *Iterator) Last() { it.off = it.list.last() }

// Next moves to the next entry.
func (it *Iterator) Next() { it.off = it.list.node(it.off).tower[0].Load() }

// Prev moves to the previous entry. The list has no back links, so this is
// a descent from the top: O(log n), still without allocation.
func (it *Iterator) Prev() {
	n := it.list.node(it.off)
	it.off = it.list.seekLT(it.list.key(it.off, n), n.version)
}
