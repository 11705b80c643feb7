package engine

import "github.com/inmem-db/inmem/wal"

// Every record type the database writes, in the WAL and in snapshots (both
// use the wal package's framing: length, CRC-32C, type, payload). A number
// is never reused: files written with it may still be read.
const (
	// RecBatch is a committed transaction in the WAL, the older form
	// without a step time (still read, no longer written):
	//
	//	version uint64 LE | count uvarint | (keyLen uvarint key valLen uvarint value)*
	RecBatch = wal.TypeUser

	// RecBatchTimed is a committed transaction in the WAL:
	//
	//	version uint64 LE | step time int64 LE | count uvarint | (keyLen uvarint key valLen uvarint value)*
	//
	// The step time is the unix-nano time the commit was admitted as a
	// step of its run (0 for writes outside a run). Values are stored
	// exactly as in the engine (header included), so replay reinserts the
	// same bytes at the same version (batch.go).
	RecBatchTimed = wal.TypeUser + 4

	// The records of a snapshot file, in this order: the header, any
	// number of steps records, any number of entries records, one vectors
	// record per shared collection, the trailer. Layouts in snapshot.go
	// and vecsnap.go.
	RecSnapHeader  = wal.TypeUser + 1
	RecSnapSteps   = wal.TypeUser + 5
	RecSnapEntries = wal.TypeUser + 2
	RecSnapVectors = wal.TypeUser + 6
	RecSnapTrailer = wal.TypeUser + 3
)
