package inmem_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// pageRuns pages through q with ListAfter, limit runs at a time.
func pageRuns(t *testing.T, runs *inmem.Runs, q inmem.RunQuery, limit int) ([]inmem.RunID, []int) {
	return pageRunsWith(t, runs.ListAfter, q, limit)
}

// pageRunsWith pages through q with list (ListAfter or ListBefore).
func pageRunsWith(t *testing.T, list func(inmem.RunQuery, inmem.RunID) ([]inmem.RunInfo, error), q inmem.RunQuery, limit int) ([]inmem.RunID, []int) {
	t.Helper()
	q.Limit = limit
	got := []inmem.RunID{}
	var sizes []int
	var after inmem.RunID
	for {
		page, err := list(q, after)
		require.NoError(t, err)
		got = append(got, ids(page)...)
		sizes = append(sizes, len(page))
		if len(page) < limit {
			return got, sizes
		}
		after = page[len(page)-1].ID
	}
}

func allRuns(t *testing.T, runs *inmem.Runs, q inmem.RunQuery) ([]inmem.RunID, error) {
	t.Helper()
	got := []inmem.RunID{}
	for info, err := range runs.All(q) {
		if err != nil {
			return got, err
		}
		got = append(got, info.ID)
	}
	return got, nil
}

// Paging with ListAfter, and ranging over All, give what List gives, for
// every index List can answer from.
func TestRunsListAfterMatchesList(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	db, err := inmem.OpenInMemory(inmem.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	defer db.Close()
	nsA, nsB := inmem.Namespace{Tenant: "a"}, inmem.Namespace{Tenant: "b"}
	parent := freshRun(t, db)
	var created []time.Time
	for i := range 20 {
		now = now.Add(time.Minute)
		created = append(created, now)
		opts := []inmem.RunOption{inmem.InNamespace(nsA)}
		if i%3 == 0 {
			opts = []inmem.RunOption{inmem.InNamespace(nsB), inmem.Parent(parent.ID())}
		}
		if i%2 == 0 {
			opts = append(opts, inmem.Tags("even"))
		}
		r := freshRun(t, db, opts...)
		if i%4 == 0 {
			require.NoError(t, r.End(inmem.Completed, ""))
		}
	}
	runs := db.Runs()
	for _, q := range []inmem.RunQuery{
		{},
		{Namespace: nsB},
		{Status: inmem.Completed},
		{Status: inmem.Active},
		{Tag: "even", Namespace: nsA},
		{Parent: parent.ID()},
		{Since: created[5], Until: created[17]},
		{Tag: "none"},
	} {
		want, err := runs.List(q)
		require.NoError(t, err)
		newest := slices.Clone(ids(want))
		slices.Reverse(newest)
		for _, limit := range []int{1, 3, 7, 100} {
			got, sizes := pageRuns(t, runs, q, limit)
			require.Equal(t, ids(want), got, "%+v by %d", q, limit)
			for _, n := range sizes[:len(sizes)-1] {
				require.Equal(t, limit, n, "%+v by %d: every page but the last is full", q, limit)
			}
			got, sizes = pageRunsWith(t, runs.ListBefore, q, limit)
			require.Equal(t, newest, got, "%+v by %d, newest first", q, limit)
			for _, n := range sizes[:len(sizes)-1] {
				require.Equal(t, limit, n, "%+v by %d newest first: every page but the last is full", q, limit)
			}
		}
		got, err := allRuns(t, runs, q)
		require.NoError(t, err)
		require.Equal(t, ids(want), got, "All(%+v)", q)
		if len(want) > 2 {
			q.Limit = 2
			got, err = allRuns(t, runs, q)
			require.NoError(t, err)
			require.Equal(t, ids(want[:2]), got, "All(%+v)", q)
		}
	}
}

// A cursor is a position, not a run: it still works after its run is
// deleted, and runs created after it appear on later pages.
func TestRunsListAfterCursor(t *testing.T) {
	db := memDB(t)
	var all []inmem.RunID
	for range 5 {
		all = append(all, freshRun(t, db).ID())
	}
	runs := db.Runs()
	page, err := runs.ListAfter(inmem.RunQuery{Limit: 2}, inmem.RunID{})
	require.NoError(t, err)
	require.Equal(t, all[:2], ids(page))
	require.NoError(t, runs.Delete(all[1]))
	page, err = runs.ListAfter(inmem.RunQuery{Limit: 2}, all[1])
	require.NoError(t, err)
	require.Equal(t, all[2:4], ids(page))
	late := freshRun(t, db).ID()
	page, err = runs.ListAfter(inmem.RunQuery{}, all[3])
	require.NoError(t, err)
	require.Equal(t, []inmem.RunID{all[4], late}, ids(page))
	page, err = runs.ListAfter(inmem.RunQuery{}, late)
	require.NoError(t, err)
	require.Empty(t, page)

	// Newest first, the cursor is a position too; a run created since the
	// first page is newer than every cursor: it is on the first page only.
	page, err = runs.ListBefore(inmem.RunQuery{Limit: 2}, inmem.RunID{})
	require.NoError(t, err)
	require.Equal(t, []inmem.RunID{late, all[4]}, ids(page))
	require.NoError(t, runs.Delete(all[3]))
	page, err = runs.ListBefore(inmem.RunQuery{Limit: 2}, all[3])
	require.NoError(t, err)
	require.Equal(t, []inmem.RunID{all[2], all[0]}, ids(page), "all[1] was deleted")
	page, err = runs.ListBefore(inmem.RunQuery{}, all[0])
	require.NoError(t, err)
	require.Empty(t, page)

	_, err = runs.ListAfter(inmem.RunQuery{Limit: -1}, inmem.RunID{})
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	_, err = runs.ListBefore(inmem.RunQuery{Limit: -1}, inmem.RunID{})
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	_, err = runs.ListAfter(inmem.RunQuery{Status: 99}, inmem.RunID{})
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	_, err = allRuns(t, runs, inmem.RunQuery{Limit: -1})
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
}

// All reads page by page: more runs than one page hold come out whole and
// in order, a limit above a page is honoured exactly, and breaking out
// stops it.
func TestRunsAllAcrossPages(t *testing.T) {
	db := memDB(t)
	const n = 600 // more than two of All's pages
	for i := range n {
		freshRun(t, db, inmem.Name(fmt.Sprint("r", i)))
	}
	runs := db.Runs()
	want, err := runs.List(inmem.RunQuery{})
	require.NoError(t, err)
	got, err := allRuns(t, runs, inmem.RunQuery{})
	require.NoError(t, err)
	require.Equal(t, ids(want), got)
	got, err = allRuns(t, runs, inmem.RunQuery{Limit: 300})
	require.NoError(t, err)
	require.Equal(t, ids(want[:300]), got)

	seen := 0
	for _, err := range runs.All(inmem.RunQuery{}) {
		require.NoError(t, err)
		if seen++; seen == 3 {
			break
		}
	}
	require.Equal(t, 3, seen)

	require.NoError(t, db.Close())
	_, err = allRuns(t, runs, inmem.RunQuery{})
	require.ErrorIs(t, err, inmem.ErrClosed)
}
