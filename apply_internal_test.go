package inmem

import (
	"fmt"
	"testing"

	"github.com/inmem-db/inmem/internal/keys"

	"github.com/stretchr/testify/require"
)

// TestApplyRunRecordKeepsNewest: the commit path applies a run record after
// its commit, outside the critical section, so a record can arrive after a
// newer one was applied; it must change nothing then, or a late status
// change would bring a deleted run back into the registry.
func TestApplyRunRecordKeepsNewest(t *testing.T) {
	db, err := OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	r, err := db.BeginRun(Tags("x"))
	require.NoError(t, err)
	rs := r.st
	rs.mu.Lock()
	old := runRecord{RunInfo: rs.info}
	at := rs.recordAt
	rs.mu.Unlock()
	require.NoError(t, r.End(Completed, ""))

	// The begin record again, at its own version: the run stays completed.
	db.applyRunRecord(rs, &old, at)
	info, err := db.Runs().Get(r.ID())
	require.NoError(t, err)
	require.Equal(t, Completed, info.Status)
	list, err := db.Runs().List(RunQuery{Status: Active})
	require.NoError(t, err)
	require.Empty(t, list, "the index moved back to Active")

	require.NoError(t, db.Runs().Delete(r.ID()))
	db.applyRunRecord(rs, &old, at+1) // older than the tombstone
	_, err = db.Runs().Get(r.ID())
	require.ErrorIs(t, err, ErrRunNotFound)
	require.Equal(t, statusDeleted, RunStatus(rs.status.Load()))
}

// TestApplyVectorWriteSkipsWhatTheBuildRead: a graph built at a snapshot
// already holds every write at or below it; applying one of those again
// (a commit that published before the build and applied after it) must not
// add a node.
func TestApplyVectorWriteSkipsWhatTheBuildRead(t *testing.T) {
	db, err := OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	sh := db.Shared(Namespace{Tenant: "t"})
	vs := sh.Vectors()
	require.NoError(t, vs.CreateCollection("c", VectorConfig{Dim: 2, Metric: Cosine}))
	require.NoError(t, vs.Upsert("c", "a", []float32{1, 0}, nil))
	_, err = vs.Search("c", []float32{1, 0}, 1)
	require.NoError(t, err)

	db.vecMu.Lock()
	var vi *vecIndex
	for k, x := range db.vecs {
		if k.coll == "c" {
			vi = x
		}
	}
	db.vecMu.Unlock()
	require.NotNil(t, vi)
	nodes := len(vi.byID)

	// Find the stored write of "a" and apply it again at its version.
	g, _ := db.store.ReadAt()
	var key, val []byte
	var ver uint64
	prefix := append(append([]byte(nil), sh.st.scope...), keys.TagVector)
	it := g.List.Iter()
	for it.SeekGE(prefix, ^uint64(0)); it.Valid(); it.Next() {
		if string(it.Key()[len(prefix):len(prefix)+1]) == string(vecRecord) {
			key, val, ver = append([]byte(nil), it.Key()...), append([]byte(nil), it.Value()...), it.Version()
			break
		}
	}
	require.NotNil(t, key)
	db.applyVectorWrite(key, val, ver)
	require.Len(t, vi.byID, nodes, "a write the build read was inserted again")

	// A newer write of the same key is applied.
	db.applyVectorWrite(key, val, vi.builtAt+1)
	require.Len(t, vi.byID, nodes+1)
}

// unindexedEntries lists the entries db's list keeps out of the point
// index.
func unindexedEntries(db *DB) []string {
	var out []string
	it := db.store.Current().List.Iter()
	for it.First(); it.Valid(); it.Next() {
		if it.Unindexed() {
			out = append(out, fmt.Sprintf("%x@%d", it.Key(), it.Version()))
		}
	}
	return out
}

// TestSecondaryIndexEntriesStayUnindexed: the entries a commit keeps out of
// the point index (events by type, spans by kind, name, parent, time) are
// linked the same way by recovery, from a snapshot and from the WAL after
// it, and by a reclaim's copy: the value header carries the mark.
func TestSecondaryIndexEntriesStayUnindexed(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir)
	require.NoError(t, err)
	r, err := db.BeginRun()
	require.NoError(t, err)
	step := func(i int) {
		_, err := r.Events().Append("tool_call", []byte(fmt.Sprint(i)))
		require.NoError(t, err)
		_, err = r.Traces().Record(Span{Name: "llm", Kind: LLMCall})
		require.NoError(t, err)
	}
	step(0)
	require.NoError(t, db.Checkpoint())
	step(1) // in the WAL after the snapshot
	live := unindexedEntries(db)
	require.NotEmpty(t, live)
	require.NoError(t, db.Close())

	db, err = Open(dir)
	require.NoError(t, err)
	defer db.Close()
	require.Equal(t, live, unindexedEntries(db))
	_, err = db.Reclaim()
	require.NoError(t, err)
	require.Equal(t, live, unindexedEntries(db))
}

// TestEndedHistoryIsReleased: compacting a run reports what it wrote to
// reclaim as garbage, through the apply of its record; ending or
// archiving a run does not (its history is kept).
func TestEndedHistoryIsReleased(t *testing.T) {
	db, err := OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	write := func() *Run {
		r, err := db.BeginRun()
		require.NoError(t, err)
		for i := range 10 {
			require.NoError(t, r.KV().Put(fmt.Sprint(i), make([]byte, 100)))
		}
		return r
	}
	ended, archived, compacted := write(), write(), write()
	base := db.released.Load()
	require.NoError(t, ended.End(Completed, ""))
	require.Equal(t, base, db.released.Load(), "an ended run keeps its history")
	require.NoError(t, db.Runs().SetStatus(archived.ID(), Archived))
	require.Equal(t, base, db.released.Load(), "an archived run keeps its history")
	require.NoError(t, db.Runs().Compact(compacted.ID()))
	require.Equal(t, base+compacted.st.Written.Load(), db.released.Load())
}

// TestApplyVectorWriteMalformedKeys: a vector key cut short after its tag
// or its configuration marker (never written, but a record is input)
// changes nothing and does not panic.
func TestApplyVectorWriteMalformedKeys(t *testing.T) {
	db, err := OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	scope := db.Shared(Namespace{Tenant: "t"}).st.scope
	for _, k := range [][]byte{
		append(append([]byte(nil), scope...), keys.TagVector),
		append(append([]byte(nil), scope...), keys.TagVector, vecConfig),
		append(append([]byte(nil), scope...), keys.TagVector, vecConfig, 5, 'a'),
		append(append([]byte(nil), scope...), keys.TagVector, vecRecord),
		{keys.TagVector},
	} {
		_, vi := db.applyVectorWrite(k, []byte{0}, 1)
		require.Nil(t, vi, "%q", k)
	}
	_, ok := collectionOfConfigKey([]byte{vecConfig})
	require.False(t, ok, "no length")
	_, ok = collectionOfConfigKey([]byte{vecConfig, 2, 'a'})
	require.False(t, ok, "shorter than its length")
	c, ok := collectionOfConfigKey([]byte{vecConfig, 1, 'a'})
	require.True(t, ok)
	require.Equal(t, "a", c)
}
