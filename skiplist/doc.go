// Package skiplist is a lock-free concurrent skiplist whose nodes live in an
// arena.
//
// Entries are immutable (key, version, value) triples ordered by key
// ascending, then version descending, so the newest version of a key is the
// first entry seen when seeking to it. Nothing is ever removed or changed in
// place: a delete is a new version that the layer above interprets.
//
// Invariants:
//   - Insert links a node bottom-up with compare-and-swap; level 0 decides
//     membership, the upper levels are only shortcuts. Readers never lock and
//     never see a node whose key, version or value is still being written,
//     because a node is fully written before the CAS that publishes it.
//   - Nodes reference each other by arena offsets, never Go pointers.
//   - Insert, Get, seek and iterator steps allocate nothing on the Go heap.
//   - The optional PointIndex maps a key's hash to the node of its newest
//     version, so a point read costs one hash probe instead of a descent. It
//     only ever moves forward to a newer version of the same key. A shard's
//     table grows when half full; a large one is built by a background
//     goroutine while writers keep filling the old one (to three quarters
//     at most), and List.Wait returns once no such build runs.
//   - A node is at least two levels tall with probability 1/2, and each
//     level above that is one in four: the second level is dense for the
//     tall index, the others keep descents from the head short.
//   - The tall index is a sorted copy of the nodes of height tallHeight
//     and more, with their heights, built in the background each time they
//     grew by a quarter. A descent with no hint starts each of its levels
//     from the last node of that level the index names below its key,
//     instead of from the head. It is a snapshot of nodes that stay
//     linked, so a stale one only lengthens walks; every node it names for
//     a key is strictly below that key.
//
// Built with the invariants tag (go test -tags invariants ./skiplist), the
// list counts the nodes its searches step to, and tests bound the walks
// that hints, fingers and batch floors keep short: they change how far a
// search walks, never what it finds, so only a count can see them break.
package skiplist
