package inmem

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// dbFingerprint is everything a database's history derives: every run's
// record, step list and per-primitive hashes (Replay's, through the read
// path, TTLs judged at one fixed time), the shared scopes' data, the run
// index's answers, the counters that follow from the commits, and which
// entries are secondary-index entries.
func dbFingerprint(t *testing.T, db *DB, shared []Namespace) string {
	t.Helper()
	var out []any
	infos, err := db.Runs().List(RunQuery{})
	require.NoError(t, err)
	for _, info := range infos {
		r, err := db.Run(info.ID)
		require.NoError(t, err)
		steps, err := r.Steps()
		require.NoError(t, err)
		_, snap := db.store.ReadAt()
		h, err := db.liveHashes(r, snap)
		require.NoError(t, err)
		rep, err := db.Replay(info.ID)
		require.NoError(t, err)
		children, err := db.Runs().Children(info.ID)
		require.NoError(t, err)
		lineage, err := db.Runs().Lineage(info.ID)
		require.NoError(t, err)
		out = append(out, info, steps, h, rep, len(children), len(lineage))
	}
	for _, st := range []RunStatus{Active, Paused, Completed, Failed, Cancelled, Archived} {
		byStatus, err := db.Runs().List(RunQuery{Status: st})
		require.NoError(t, err)
		out = append(out, st.String(), len(byStatus))
	}
	for _, ns := range shared {
		sc := db.Shared(ns)
		es, err := sc.KV().List("")
		require.NoError(t, err)
		cs, err := sc.Vectors().Collections()
		require.NoError(t, err)
		out = append(out, es, cs)
		for _, c := range cs {
			recs, err := sc.Vectors().List(c.Name)
			require.NoError(t, err)
			ms, err := sc.Vectors().Search(c.Name, []float32{1, 0, 0}, 5)
			require.NoError(t, err)
			out = append(out, recs, ms)
		}
	}
	st := db.Stats()
	out = append(out, st.Version, st.Runs, st.Entries)
	// The entries kept out of the point index (secondary-index entries):
	// the record says which, so the applying side links them the same way.
	var unindexed []string
	it := db.store.Current().List.Iter()
	for it.First(); it.Valid(); it.Next() {
		if it.Unindexed() {
			unindexed = append(unindexed, fmt.Sprintf("%x@%d", it.Key(), it.Version()))
		}
	}
	require.NotEmpty(t, unindexed, "the workload writes secondary-index entries")
	out = append(out, unindexed)
	b, err := json.MarshalIndent(out, "", " ")
	require.NoError(t, err)
	return string(b)
}

// TestWALApplyEquivalence: a database's whole WAL applied to a fresh
// engine (Open of the directory, no snapshot) gives the same database as
// the one that wrote it: every run's record, steps and per-primitive
// hashes, the shared scopes, the run index and the counters. Nothing the
// recovery derives may come from its own clock: the test opens it a day
// later by the database clock.
func TestWALApplyEquivalence(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	// No freezer: the clock jumps a day below, which would make the ended
	// runs due for the cold tier, and a freeze landing between the live
	// fingerprint and Close would be in the WAL but not in the fingerprint
	// (and the freezer would read the clock while the test moves it). The
	// cold tier's own equivalence is TestColdHistoryModel's.
	db, err := Open(dir, WithClock(clock), WithCheckpointEvery(1<<40), WithColdAfter(-1))
	require.NoError(t, err)
	tick := func() { now = now.Add(time.Second) }
	nsA, nsB := Namespace{Tenant: "a", App: "x"}, Namespace{Tenant: "b"}
	shared := []Namespace{nsA, nsB}

	// Shared memory: KV with a delete and a TTL, and a vector collection
	// with a delete and a drop made again.
	mem := db.Shared(nsA)
	require.NoError(t, mem.KV().Put("fact/1", []byte("sky is blue")))
	require.NoError(t, mem.KV().PutTTL("lease", []byte("held"), time.Hour))
	require.NoError(t, mem.KV().Put("fact/2", []byte("gone soon")))
	require.NoError(t, mem.KV().Delete("fact/2"))
	require.NoError(t, mem.Vectors().CreateCollection("docs", VectorConfig{Dim: 3, Metric: Cosine}))
	for i := range 20 {
		require.NoError(t, mem.Vectors().Upsert("docs", fmt.Sprint("d", i), []float32{1, float32(i), 0}, map[string]any{"i": i}))
	}
	require.NoError(t, mem.Vectors().Delete("docs", "d3"))
	require.NoError(t, mem.Vectors().CreateCollection("tmp", VectorConfig{Dim: 3, Metric: Euclidean}))
	require.NoError(t, mem.Vectors().Upsert("tmp", "x", []float32{1, 0, 0}, nil))
	require.NoError(t, mem.Vectors().DropCollection("tmp"))
	require.NoError(t, db.Shared(nsB).KV().Put("other", []byte("tenant")))

	// Runs: every primitive in agent steps, a state machine, TTLs, a
	// recorded call, a fork, ended, archived, compacted and deleted runs.
	var runs []*Run
	for i := range 4 {
		tick()
		r, err := db.BeginRun(Name(fmt.Sprint("run ", i)), InNamespace(nsA), Tags("t", fmt.Sprint("n", i)), Meta(map[string]string{"model": "m"}))
		require.NoError(t, err)
		require.NoError(t, r.State().Define("phase", Machine{Initial: "plan", Allow: map[string][]string{"plan": {"act"}, "act": {"done"}}}))
		require.NoError(t, r.Vectors().CreateCollection("notes", VectorConfig{Dim: 3, Metric: Euclidean}))
		for s := range 6 {
			tick()
			require.NoError(t, r.Update(func(tx *Tx) error {
				if _, err := tx.Events().Append("step", []byte(fmt.Sprint("payload ", s))); err != nil {
					return err
				}
				if err := tx.KV().Put(fmt.Sprint("k", s%3), []byte(fmt.Sprint(i, s))); err != nil {
					return err
				}
				if err := tx.KV().PutTTL("cache", []byte("c"), time.Duration(s+1)*time.Minute); err != nil {
					return err
				}
				if err := tx.Vectors().Upsert("notes", fmt.Sprint("v", s%4), []float32{float32(s), 1, float32(i)}, nil); err != nil {
					return err
				}
				_, err := tx.Traces().Record(Span{Kind: LLMCall, Name: "plan", Start: now, End: now.Add(time.Millisecond), Status: StatusOK,
					Attrs:  map[string]string{"gen_ai.request.model": "m"},
					Values: map[string]AttrValue{"gen_ai.usage.input_tokens": IntValue(100 + s)}})
				return err
			}))
			if s == 2 {
				_, err := r.State().Set("phase", []byte("act"))
				require.NoError(t, err)
			}
		}
		_, err = r.Recorder().Do("llm", []byte("prompt"), func() ([]byte, error) { return []byte("answer"), nil })
		require.NoError(t, err)
		require.NoError(t, r.KV().Delete("k1"))
		runs = append(runs, r)
	}
	tick()
	fork, err := db.Fork(runs[0].ID(), 4, Name("fork"))
	require.NoError(t, err)
	require.NoError(t, fork.KV().Put("k0", []byte("forked")))
	require.NoError(t, fork.Vectors().Delete("notes", "v1"))
	tick()
	require.NoError(t, runs[1].End(Completed, "done"))
	require.NoError(t, runs[2].End(Failed, "tool error"))
	require.NoError(t, db.Runs().SetStatus(runs[2].ID(), Archived))
	require.NoError(t, db.Runs().Compact(runs[1].ID()))
	require.NoError(t, db.Runs().Delete(runs[3].ID()))
	require.NoError(t, db.Runs().SetStatus(runs[0].ID(), Paused))

	// The live database now and a day later by its clock (TTLs expire),
	// then the same from the WAL alone.
	want := dbFingerprint(t, db, shared)
	now = now.Add(24 * time.Hour)
	wantLater := dbFingerprint(t, db, shared)
	require.NotEqual(t, want, wantLater, "a TTL expired")
	require.NoError(t, db.Close())

	rec, err := Open(dir, WithClock(clock), WithReadOnly())
	require.NoError(t, err)
	defer rec.Close()
	require.Zero(t, rec.Stats().Checkpoints)
	require.Equal(t, wantLater, dbFingerprint(t, rec, shared))
	now = now.Add(-24 * time.Hour)
	require.Equal(t, want, dbFingerprint(t, rec, shared))
}
