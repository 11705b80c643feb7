package inmem

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/inmem-db/inmem/internal/engine"
	"github.com/stretchr/testify/require"
)

// applier returns an in-memory database with the apply side of a cluster
// node attached (no raft): what a raft log entry does to a node.
func applier(t testing.TB) (*DB, clusterFSM) {
	db, err := OpenInMemory()
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	c := &clusterNode{db: db}
	return db, clusterFSM{c}
}

// entry encodes records as one raft log entry.
func entry(recs ...[]byte) *raft.Log {
	var b []byte
	for _, r := range recs {
		b = binary.AppendUvarint(b, uint64(len(r)))
		b = append(b, r...)
	}
	return &raft.Log{Type: raft.LogCommand, Data: b}
}

// record encodes a commit record of version v writing key=val.
func record(v uint64, key, val string) []byte {
	rec := binary.LittleEndian.AppendUint64(nil, v)
	rec = binary.LittleEndian.AppendUint64(rec, 0)
	rec = binary.AppendUvarint(rec, 1)
	var hdr [engine.MaxValueHeader]byte
	return engine.AppendBatchEntry(rec, []byte(key), engine.EncodeHeader(&hdr, false, 0), []byte(val))
}

// TestClusterApplyChecks: an entry the node cannot apply as the next
// version stops the node with ErrCorruption instead of applying it, and
// the node says so from then on; an entry it already applied is passed
// over.
func TestClusterApplyChecks(t *testing.T) {
	key := string(sharedKey(t))
	for name, e := range map[string]*raft.Log{
		"a torn length":  {Type: raft.LogCommand, Data: []byte{0x80}},
		"a long length":  {Type: raft.LogCommand, Data: append(binary.AppendUvarint(nil, 1000), 1, 2, 3)},
		"a short record": entry([]byte{1, 2, 3}),
		"a bad batch":    entry(append(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 1), 0), 5, 0xff)),
		"version zero":   entry(record(0, key, "x")),
	} {
		db, f := applier(t)
		res, _ := f.Apply(e).(error)
		require.ErrorIs(t, res, ErrCorruption, name)
		require.ErrorIs(t, f.c.broken(), ErrCorruption, name)
		require.ErrorIs(t, f.c.Enter(0, false), ErrCorruption, name)
		require.Zero(t, db.store.Oracle.Visible(), name)
	}
	db, f := applier(t)
	require.Equal(t, appliedRange{1, 2}, f.Apply(entry(record(1, key, "a"), record(2, key, "b"))))
	require.Equal(t, appliedRange{}, f.Apply(entry(record(2, key, "stale"))), "applied already: passed over")
	// A record past a gap (a lost proposal of a leader that leads again)
	// is passed over, and so is the rest of its entry; the node goes on.
	require.Equal(t, appliedRange{}, f.Apply(entry(record(4, key, "gap"), record(5, key, "gap"))))
	require.Equal(t, appliedRange{3, 3}, f.Apply(entry(record(3, key, "c"), record(5, key, "gap"))))
	require.NoError(t, f.c.broken())
	require.Equal(t, uint64(3), db.store.Oracle.Visible())
	got, err := db.Shared(Namespace{}).KV().Get("k")
	require.NoError(t, err)
	require.Equal(t, "c", string(got))
	_, f = applier(t)
	require.Equal(t, appliedRange{1, 2}, f.Apply(entry(record(1, key, "a"), record(2, key, "b"))))
	got, err = f.c.db.Shared(Namespace{}).KV().Get("k")
	require.NoError(t, err)
	require.Equal(t, "b", string(got))
}

// sharedKey returns a shared-scope KV key of the default namespace, encoded.
func sharedKey(t testing.TB) []byte {
	db, err := OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	return db.Shared(Namespace{}).st.kvKey(nil, "k")
}

// TestClusterRestoreChecks: a raft snapshot that is not one of ours, or
// whose database snapshot is damaged, is refused with ErrCorruption.
func TestClusterRestoreChecks(t *testing.T) {
	_, f := applier(t)
	require.ErrorIs(t, f.Restore(io.NopCloser(bytes.NewReader([]byte("not a snapshot at all")))), ErrCorruption)
	require.ErrorIs(t, f.Restore(io.NopCloser(bytes.NewReader(nil))), ErrCorruption)
}

// FuzzClusterApply: whatever a raft log entry holds, applying it never
// panics; it applies or stops the node with an error.
func FuzzClusterApply(f *testing.F) {
	key := sharedKey(f)
	f.Add(entry(record(1, string(key), "a")).Data)
	f.Add(entry(record(1, string(key), "a"), record(2, string(key), "b")).Data)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, fsm := applier(t)
		if err, ok := fsm.Apply(&raft.Log{Type: raft.LogCommand, Data: data}).(error); ok && err != nil {
			require.Error(t, fsm.c.broken())
		}
	})
}

// TestClusterProposalOutcome: a committer learns from its group whether
// its own version was applied; one the cluster passed over wrote nothing
// and may be retried (ErrConflict).
func TestClusterProposalOutcome(t *testing.T) {
	g := &proposalGroup{n: 3, done: make(chan struct{}), applied: appliedRange{7, 8}}
	g.finish(nil)
	require.True(t, g.passedOver())
	require.NoError(t, g.Wait(7))
	require.NoError(t, g.Wait(8))
	require.ErrorIs(t, g.Wait(9), ErrConflict)
	whole := &proposalGroup{n: 2, done: make(chan struct{}), applied: appliedRange{7, 8}}
	require.False(t, whole.passedOver())
	none := &proposalGroup{n: 1, done: make(chan struct{})}
	none.finish(nil)
	require.True(t, none.passedOver())
	require.ErrorIs(t, none.Wait(1), ErrConflict)
	failed := &proposalGroup{n: 1, done: make(chan struct{})}
	failed.finish(ErrUnknownOutcome)
	require.ErrorIs(t, failed.Wait(1), ErrUnknownOutcome)
}
