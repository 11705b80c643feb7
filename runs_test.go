package inmem_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

func ids(infos []inmem.RunInfo) []inmem.RunID {
	out := make([]inmem.RunID, len(infos))
	for i, in := range infos {
		out[i] = in.ID
	}
	return out
}

func TestRunsListFilters(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	db, err := inmem.OpenInMemory(inmem.WithClock(clock))
	require.NoError(t, err)
	defer db.Close()
	nsA := inmem.Namespace{Tenant: "a"}
	nsB := inmem.Namespace{Tenant: "b"}
	var all []inmem.RunID
	var created []time.Time
	for i := 0; i < 12; i++ {
		now = now.Add(time.Minute)
		ns := nsA
		if i%3 == 0 {
			ns = nsB
		}
		opts := []inmem.RunOption{inmem.InNamespace(ns), inmem.Name(fmt.Sprint("r", i))}
		if i%2 == 0 {
			opts = append(opts, inmem.Tags("even"))
		}
		r, err := db.BeginRun(opts...)
		require.NoError(t, err)
		all = append(all, r.ID())
		created = append(created, now)
		if i%4 == 0 {
			require.NoError(t, r.End(inmem.Completed, ""))
		}
	}
	runs := db.Runs()
	got, err := runs.List(inmem.RunQuery{})
	require.NoError(t, err)
	require.Equal(t, all, ids(got), "everything, in creation order")

	got, err = runs.List(inmem.RunQuery{Namespace: nsB})
	require.NoError(t, err)
	require.Equal(t, []inmem.RunID{all[0], all[3], all[6], all[9]}, ids(got))

	got, err = runs.List(inmem.RunQuery{Status: inmem.Completed})
	require.NoError(t, err)
	require.Equal(t, []inmem.RunID{all[0], all[4], all[8]}, ids(got))

	got, err = runs.List(inmem.RunQuery{Tag: "even", Namespace: nsA})
	require.NoError(t, err)
	require.Equal(t, []inmem.RunID{all[2], all[4], all[8], all[10]}, ids(got))

	got, err = runs.List(inmem.RunQuery{Since: created[5], Until: created[8]})
	require.NoError(t, err)
	require.Equal(t, all[5:8], ids(got), "since inclusive, until exclusive")

	got, err = runs.List(inmem.RunQuery{Status: inmem.Active, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []inmem.RunID{all[1], all[2]}, ids(got))

	_, err = runs.List(inmem.RunQuery{Limit: -1})
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
}

func TestRunsChildrenAndLineage(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	root, err := db.BeginRun(inmem.Name("root"))
	require.NoError(t, err)
	mid, err := db.BeginRun(inmem.Parent(root.ID()))
	require.NoError(t, err)
	leaf, err := db.BeginRun(inmem.Parent(mid.ID()))
	require.NoError(t, err)
	sib, err := db.BeginRun(inmem.Parent(root.ID()))
	require.NoError(t, err)

	kids, err := db.Runs().Children(root.ID())
	require.NoError(t, err)
	require.Equal(t, []inmem.RunID{mid.ID(), sib.ID()}, ids(kids))
	kids, err = db.Runs().Children(leaf.ID())
	require.NoError(t, err)
	require.Empty(t, kids)

	lin, err := db.Runs().Lineage(leaf.ID())
	require.NoError(t, err)
	require.Equal(t, []inmem.RunID{mid.ID(), root.ID()}, ids(lin), "nearest first")
	lin, err = db.Runs().Lineage(root.ID())
	require.NoError(t, err)
	require.Empty(t, lin)

	_, err = db.Runs().Children(inmem.RunID{1})
	require.ErrorIs(t, err, inmem.ErrRunNotFound)
	_, err = db.Runs().Lineage(inmem.RunID{1})
	require.ErrorIs(t, err, inmem.ErrRunNotFound)
}

func TestRunsSetStatusTable(t *testing.T) {
	statuses := []inmem.RunStatus{inmem.Active, inmem.Paused, inmem.Completed, inmem.Failed, inmem.Cancelled, inmem.Archived}
	allowed := map[[2]inmem.RunStatus]bool{}
	for _, p := range [][2]inmem.RunStatus{
		{inmem.Active, inmem.Paused}, {inmem.Active, inmem.Completed}, {inmem.Active, inmem.Failed},
		{inmem.Active, inmem.Cancelled}, {inmem.Active, inmem.Archived},
		{inmem.Paused, inmem.Active}, {inmem.Paused, inmem.Cancelled}, {inmem.Paused, inmem.Archived},
		{inmem.Completed, inmem.Archived}, {inmem.Failed, inmem.Archived}, {inmem.Cancelled, inmem.Archived},
	} {
		allowed[p] = true
	}
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	// reach builds a run in status s through allowed steps.
	reach := func(s inmem.RunStatus) inmem.RunID {
		r, err := db.BeginRun()
		require.NoError(t, err)
		switch s {
		case inmem.Active:
		case inmem.Paused, inmem.Completed, inmem.Failed, inmem.Cancelled, inmem.Archived:
			require.NoError(t, db.Runs().SetStatus(r.ID(), s))
		}
		return r.ID()
	}
	for _, from := range statuses {
		for _, to := range statuses {
			id := reach(from)
			err := db.Runs().SetStatus(id, to)
			info, gerr := db.Runs().Get(id)
			require.NoError(t, gerr)
			if allowed[[2]inmem.RunStatus{from, to}] {
				require.NoError(t, err, "%s -> %s", from, to)
				require.Equal(t, to, info.Status)
				// The status index follows.
				got, err := db.Runs().List(inmem.RunQuery{Status: to})
				require.NoError(t, err)
				require.Contains(t, ids(got), id)
			} else {
				require.Error(t, err, "%s -> %s", from, to)
				require.Equal(t, from, info.Status, "a refused transition changes nothing")
			}
		}
	}
	require.ErrorIs(t, db.Runs().SetStatus(inmem.RunID{1}, inmem.Paused), inmem.ErrRunNotFound)
	id := reach(inmem.Active)
	require.ErrorIs(t, db.Runs().SetStatus(id, 0), inmem.ErrInvalidArgument)
	require.ErrorIs(t, db.Runs().SetStatus(id, 42), inmem.ErrInvalidArgument)
}

func TestRunsDeleteRemovesEveryPrimitive(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	victim, err := db.BeginRun(inmem.Tags("x"))
	require.NoError(t, err)
	keep, err := db.BeginRun(inmem.Tags("x"))
	require.NoError(t, err)
	for _, r := range []*inmem.Run{victim, keep} {
		require.NoError(t, r.Update(func(tx *inmem.Tx) error {
			if err := tx.KV().Put("k", []byte("v")); err != nil {
				return err
			}
			if _, err := tx.Events().Append("e", []byte("p")); err != nil {
				return err
			}
			if _, err := tx.State().Init("c", []byte("1")); err != nil {
				return err
			}
			_, err := tx.Traces().Record(inmem.Span{Kind: inmem.ToolCall, Name: "t"})
			return err
		}))
	}
	require.NoError(t, db.Runs().Delete(victim.ID()))

	check := func(db *inmem.DB) {
		_, err := db.Runs().Get(victim.ID())
		require.ErrorIs(t, err, inmem.ErrRunNotFound)
		_, err = db.Run(victim.ID())
		require.ErrorIs(t, err, inmem.ErrRunNotFound)
		got, err := db.Runs().List(inmem.RunQuery{Tag: "x"})
		require.NoError(t, err)
		require.Equal(t, []inmem.RunID{keep.ID()}, ids(got))
		// The other run is untouched.
		r, err := db.Run(keep.ID())
		require.NoError(t, err)
		v, err := r.KV().Get("k")
		require.NoError(t, err)
		require.Equal(t, "v", string(v))
		n, err := r.Events().Len()
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
	}
	check(db)
	// A handle to the deleted run fails and writes nothing.
	require.ErrorIs(t, victim.KV().Put("k2", []byte("v")), inmem.ErrRunNotFound)
	_, err = victim.KV().Get("k")
	require.ErrorIs(t, err, inmem.ErrRunNotFound)
	_, err = victim.Events().Len()
	require.ErrorIs(t, err, inmem.ErrRunNotFound)
	_, err = victim.Info()
	require.ErrorIs(t, err, inmem.ErrRunNotFound)
	require.ErrorIs(t, db.Runs().Delete(victim.ID()), inmem.ErrRunNotFound)

	require.NoError(t, db.Close())
	db, err = inmem.Open(dir)
	require.NoError(t, err)
	defer db.Close()
	check(db)
}

func TestRunsIndexSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	p, err := db.BeginRun(inmem.Tags("t1"), inmem.InNamespace(inmem.Namespace{Tenant: "x"}))
	require.NoError(t, err)
	c, err := db.BeginRun(inmem.Parent(p.ID()), inmem.Tags("t2"))
	require.NoError(t, err)
	require.NoError(t, db.Runs().SetStatus(c.ID(), inmem.Paused))
	require.NoError(t, db.Close())

	db, err = inmem.Open(dir)
	require.NoError(t, err)
	defer db.Close()
	got, err := db.Runs().Children(p.ID())
	require.NoError(t, err)
	require.Equal(t, []inmem.RunID{c.ID()}, ids(got))
	require.Equal(t, inmem.Namespace{Tenant: "x"}, got[0].Namespace, "a child inherits the parent's namespace")
	got, err = db.Runs().List(inmem.RunQuery{Status: inmem.Paused})
	require.NoError(t, err)
	require.Equal(t, []inmem.RunID{c.ID()}, ids(got))
	got, err = db.Runs().List(inmem.RunQuery{Tag: "t1"})
	require.NoError(t, err)
	require.Equal(t, []inmem.RunID{p.ID()}, ids(got))
}

// TestRunsListSinceWithClockGoingBack: IDs stay in creation order when the
// clock steps back, so CreatedAt and ID order disagree; a Since query must
// still return exactly the runs created at or after Since.
func TestRunsListSinceWithClockGoingBack(t *testing.T) {
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	offsets := []time.Duration{0, 10 * time.Second, 3 * time.Second, 20 * time.Second, 1500 * time.Microsecond, 15 * time.Second}
	i := 0
	db, err := inmem.OpenInMemory(inmem.WithClock(func() time.Time { return base.Add(offsets[min(i, len(offsets)-1)]) }))
	require.NoError(t, err)
	defer db.Close()
	var created []time.Time
	var all []inmem.RunID
	for i = 0; i < len(offsets); i++ {
		r, err := db.BeginRun()
		require.NoError(t, err)
		all = append(all, r.ID())
		created = append(created, base.Add(offsets[i]))
	}
	for _, since := range []time.Duration{0, time.Millisecond, 3 * time.Second, 12 * time.Second, 30 * time.Second} {
		want := []inmem.RunID{}
		for j, c := range created {
			if !c.Before(base.Add(since)) {
				want = append(want, all[j])
			}
		}
		got, err := db.Runs().List(inmem.RunQuery{Since: base.Add(since)})
		require.NoError(t, err)
		require.Equal(t, want, ids(got), "since +%v", since)
	}
}
