package inmem

import "github.com/inmem-db/inmem/wal"

// Stats are counters describing a database. Fields for features a database
// does not use (WAL fields for OpenInMemory) stay zero.
type Stats struct {
	Commits     uint64 // transactions committed, one-operation writes included
	Conflicts   uint64 // commits refused with ErrConflict
	Version     uint64 // newest visible commit version
	ActiveTxns  int    // transactions begun and not yet finished
	Runs        int    // runs known to the database
	Entries     int64  // versioned entries in the engine, all versions counted
	MemReserved int64  // bytes of arena memory held
	MemUsed     int64  // bytes of arena memory handed out: entries, and the unused ends of writers' blocks (under an eighth)
	ArenaChunks int
	WALBytes    int64 // bytes appended to the write-ahead log
	Fsyncs      uint64
	Checkpoints uint64
	Reclaims    uint64 // reclaims that swapped in a new generation
	// ReclaimWaits counts commits that waited for a running background
	// reclaim because the arena had grown to twice what started it: the
	// wait is what bounds the arena under writes.
	ReclaimWaits uint64
	// VectorGraphsBuilt counts collection graphs built from stored vectors
	// (first use after Open, when no snapshot carried the graph);
	// VectorGraphsLoaded those loaded from a snapshot instead.
	VectorGraphsBuilt, VectorGraphsLoaded uint64
	// VectorNodes counts the nodes of the vector graphs in memory,
	// VectorTombstones those of them that are replaced or deleted vectors
	// kept for older snapshots; VectorGraphBytes estimates the graphs'
	// memory. Vacuums remove tombstones no reader can see:
	// VectorVacuums counts the passes that removed any, VectorVacuumed
	// the nodes removed. VectorVacuumWaits counts commits that waited
	// for a running vacuum because writes had outrun it by a whole
	// vacuum threshold: the wait is what bounds a graph under churn.
	VectorNodes, VectorTombstones, VectorGraphBytes  int64
	VectorVacuums, VectorVacuumed, VectorVacuumWaits uint64
	SharedScopes                                     int
	// ColdRuns counts the runs whose history lives in the cold tier,
	// ColdBytes the bytes of its files on disk; CacheHits and CacheMisses
	// count cold block reads the block cache answered and those it sent
	// to disk. Freezes counts runs moved to the tier, ColdCompactions its
	// files' rewrites.
	ColdRuns                 int
	ColdBytes                int64
	CacheHits, CacheMisses   uint64
	Freezes, ColdCompactions uint64
}

// Stats returns a snapshot of the database's counters.
func (db *DB) Stats() Stats {
	os := db.store.Oracle.Stats()
	g := db.store.Current()
	as := g.Arena.Stats()
	db.runsMu.RLock()
	runs, shared := len(db.runs), len(db.shared)
	coldRuns := 0
	for _, rs := range db.runs {
		if rs.cold.Load() != nil {
			coldRuns++
		}
	}
	db.runsMu.RUnlock()
	coldBytes, hits, misses := db.cold.stats()
	vn, vt, vb := db.vectorStats()
	var ws wal.Stats
	if db.store.Log != nil {
		ws = db.store.Log.Stats()
	}
	return Stats{
		WALBytes:           ws.Bytes,
		Fsyncs:             ws.Fsyncs,
		Checkpoints:        db.checkpoints.Load(),
		Reclaims:           db.reclaims.Load(),
		ReclaimWaits:       db.reclaimWaits.Load(),
		VectorGraphsBuilt:  db.vecBuilds.Load(),
		VectorGraphsLoaded: db.vecLoads.Load(),
		VectorNodes:        vn,
		VectorTombstones:   vt,
		VectorGraphBytes:   vb,
		VectorVacuums:      db.vecVacuums.Load(),
		VectorVacuumed:     db.vecVacuumed.Load(),
		VectorVacuumWaits:  db.vecWaits.Load(),
		Commits:            os.Commits,
		Conflicts:          os.Conflicts,
		Version:            os.Visible,
		ActiveTxns:         os.Active,
		Runs:               runs,
		SharedScopes:       shared,
		Entries:            g.List.Len(),
		MemReserved:        as.Reserved,
		MemUsed:            as.Used,
		ArenaChunks:        as.Chunks,
		ColdRuns:           coldRuns,
		ColdBytes:          coldBytes,
		CacheHits:          hits,
		CacheMisses:        misses,
		Freezes:            db.freezes.Load(),
		ColdCompactions:    db.coldCompactions.Load(),
	}
}
