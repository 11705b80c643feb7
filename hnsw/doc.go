// Package hnsw is an in-memory approximate nearest-neighbour index over
// float32 vectors: a Hierarchical Navigable Small World graph (Malkov and
// Yashunin) with snapshot visibility, tombstone deletes and filtered search,
// built to back vector retrieval in the database.
//
// # Model
//
// Every node is addressed by a caller-owned uint32 id. Ids index storage
// directly, so they should be dense: the index grows to the largest id
// inserted, and an id may be inserted only once. Each node records the
// version it was inserted at and, once deleted, the version it was deleted
// at; a search at Snapshot s returns exactly the nodes with
// insert <= s < delete (delete unset counts as infinity), and Snapshot 0
// means "latest": every node not deleted.
//
// Scores are higher-is-better for every metric: cosine similarity, dot
// product, or negative Euclidean distance.
//
// # Graph
//
// A node draws its top level from an exponential distribution with
// mL = 1/ln(M). It keeps up to M links on each upper level and up to 2M on
// level 0. Inserts and searches descend greedily through the upper levels
// and run an ef-wide beam search on the level they work on; links are chosen
// with the diversity heuristic (a candidate is kept only if it is closer to
// the node than to every link already kept), both for a new node and when a
// neighbour's full list is re-pruned to make room for a back-link.
//
// Deleted nodes are tombstones: they keep their vector and links, so older
// snapshots still see them and every search still routes through them, and
// the graph never loses connectivity to deletes. Vacuum(horizon) removes the
// tombstones no snapshot at or after horizon can see: every node that linked
// to one has its list rebuilt, with the heuristic and then the nearest of
// the rest, from its surviving links and the live nodes it used to reach
// through the removed ones, and every node no search could reach any more
// (its in-links all came from removed nodes, or an insert's pruning dropped
// its last one) is linked again from a node a search reaches; the freed
// ids may then be inserted again.
//
// Searches route through every node — deleted, not yet visible at the
// snapshot, or rejected by the filter — but only return acceptable ones, and
// only acceptable nodes count toward ef, so the walk widens by itself when
// the filter or tombstones reject most of what it reaches. A small
// SearchOptions.Allowed set is instead searched exactly by brute force, and
// so is the whole index when ef covers every node it holds (such a walk
// would visit them all, and could miss one nothing links to yet).
// When the index holds no tombstone and no node newer than the snapshot,
// every node a walk can reach is visible, and the walk skips the per-node
// check; because a node may be inserted or deleted while it runs, it then
// checks the k results it returns and, if one is not visible, walks again
// with every node checked.
//
// # Memory layout
//
// Vectors live in one contiguous []float32 (node id*Dim), Cosine vectors
// stored normalised. Level-0 links live in one contiguous []uint32 with a
// fixed 1+2M slots per node (count, then links). What a search checks of a
// node it reaches (state, delete version, level) is one 16-byte record, so
// the check costs one cache line. These arrays are mapped outside the Go
// heap with huge pages (storage.go): a search reads vectors at random, and
// with 4 KiB pages most of those reads also missed the TLB. Distances read
// nothing but the two vectors; a search prefetches the vectors and records
// of a node's unvisited neighbours before scoring them (three ahead into
// the first-level cache, six ahead into the outer ones), and the links of
// the candidate it will likely expand next. Upper-level links are small
// per-node slices; most nodes have none.
//
// # Concurrency
//
// Every method is safe for concurrent use. Inserts run in parallel with each
// other, with deletes and with searches. Link lists are guarded by a fixed
// array of striped mutexes (a goroutine holds at most one at a time); a
// node's vector, level and insert version are written once before the node
// is published with an atomic state store; delete versions are atomic. An
// RWMutex is taken for writing only to grow the storage arrays, so readers
// never see an array move under them (growth frees the old arrays, so no
// slice of them may be kept past the read lock). SearchOptions.Filter runs with that
// lock held for reading and must not call back into the Index.
//
// Vacuum runs alongside searches, inserts and deletes: the nodes it removes
// keep routing searches until their slots are freed, it rebuilds the lists
// that point to them a slice at a time under the read lock, and it takes
// the lock for writing only twice, briefly (see Vacuum).
//
// A warm Search allocates only the slice it returns: its visited set (an
// epoch-tagged uint16 array, not a map), heaps and buffers come from a pool.
package hnsw
