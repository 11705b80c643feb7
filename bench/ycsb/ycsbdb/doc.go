// Package ycsbdb binds inmem and its peers to go-ycsb's ycsb.DB interface,
// so that the YCSB core workloads run the same client code against each of
// them.
//
// Every binding stores a record (YCSB's map of field names to values) as
// one value under the record's key, in the encoding of record.go, and
// ignores YCSB's table name: each database holds the one table YCSB uses.
// Reads hand out values the caller owns. A record that is absent reads as
// an error wrapping ErrNotFound; Update of an absent record is that error
// too, and Delete of one is not an error.
//
// The databases and their settings (one file each):
//
//	inmem    inmem.Open, default Batched durability; the shared scope of
//	         namespace {App: "ycsb"}
//	badger   badger v4 on disk, SyncWrites false
//	pebble   pebble v2 on disk, every write with pebble.NoSync
//	bbolt    bbolt with NoSync (by default bbolt fsyncs every commit)
//	btree    google/btree BTreeG under a sync.RWMutex, in memory
//	sqlite   modernc.org/sqlite, WAL, synchronous=NORMAL, one table
//
// All but btree keep their files in the directory given by the DirProperty
// property, and none makes an fsync per write: a machine crash may lose the
// last writes they acknowledged (inmem: up to its 100 ms batch). That is
// the durability class of inmem's default, so the numbers compare the
// engines rather than the disk's fsync latency.
package ycsbdb
