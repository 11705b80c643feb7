package inmem_test

import (
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

func setCells(t *testing.T, st *inmem.State, names ...string) {
	t.Helper()
	for _, n := range names {
		_, err := st.Set(n, []byte("v:"+n))
		require.NoError(t, err)
	}
}

func cellNames(cs []inmem.Cell) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func TestStateAll(t *testing.T) {
	db := memDB(t)
	st := freshRun(t, db).State()
	got, err := drain(st.All())
	require.NoError(t, err)
	require.Empty(t, got)

	setCells(t, st, "c", "a", "d", "b", "a")
	require.NoError(t, st.Define("m", inmem.Machine{Initial: "idle", Allow: map[string][]string{"idle": {"busy"}}}))
	require.NoError(t, st.Delete("d"))
	want, err := st.List()
	require.NoError(t, err)
	got, err = drain(st.All())
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, []string{"a", "b", "c", "m"}, cellNames(got))
	require.Equal(t, uint64(2), got[0].Version)

	require.Equal(t, []string{"a", "b"}, cellNames(firstN(t, st.All(), 2)))

	got[1].Value[0] = 'X'
	c, err := st.Get("b")
	require.NoError(t, err)
	require.Equal(t, "v:b", string(c.Value), "values are the caller's to keep")

	// Writes through the run while the loop runs are not part of its
	// snapshot.
	n := 0
	for c, err := range st.All() {
		require.NoError(t, err)
		n++
		setCells(t, st, c.Name+"+")
	}
	require.Equal(t, 4, n)

	require.NoError(t, db.Close())
	errs := errorsOf(t, st.All())
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], inmem.ErrClosed)
}

// Through a transaction the sequence sees its own writes and deletes, as
// List does, and the cells count as read.
func TestStateAllInTransaction(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	setCells(t, r.State(), "a", "c", "e")

	tx, err := r.Begin(true)
	require.NoError(t, err)
	defer tx.Discard()
	setCells(t, tx.State(), "b", "c")
	require.NoError(t, tx.State().Delete("e"))
	want, err := tx.State().List()
	require.NoError(t, err)
	got, err := drain(tx.State().All())
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, []string{"a", "b", "c"}, cellNames(got))
	require.Equal(t, uint64(2), got[2].Version)

	setCells(t, r.State(), "d")
	require.ErrorIs(t, tx.Commit(), inmem.ErrConflict)

	// A read-only transaction, and one the loop body ends.
	err = r.View(func(tx *inmem.Tx) error {
		got, err := drain(tx.State().All())
		require.NoError(t, err)
		require.Equal(t, []string{"a", "c", "d", "e"}, cellNames(got))
		return nil
	})
	require.NoError(t, err)
	tx, err = r.Begin(false)
	require.NoError(t, err)
	var errs []error
	for _, err := range tx.State().All() {
		if err != nil {
			errs = append(errs, err)
		}
		tx.Discard()
	}
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], inmem.ErrTxDone)
}

func TestStateAllViewForkShared(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	setCells(t, r.State(), "a")
	setCells(t, r.State(), "b")

	view, err := r.AsOf(1)
	require.NoError(t, err)
	got, err := drain(view.State().All())
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, cellNames(got))

	child, err := db.Fork(r.ID(), 2)
	require.NoError(t, err)
	require.NoError(t, child.State().Delete("a"))
	setCells(t, child.State(), "c")
	want, err := child.State().List()
	require.NoError(t, err)
	got, err = drain(child.State().All())
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, []string{"b", "c"}, cellNames(got))

	sh := db.Shared(inmem.Namespace{App: "s"})
	setCells(t, sh.State(), "z")
	got, err = drain(sh.State().All())
	require.NoError(t, err)
	require.Equal(t, []string{"z"}, cellNames(got))
}

// TestStateMachineReadBack: the machine a cell was defined with reads
// back, through a run, a transaction and a view of an older step; a cell
// without one, or none at all, has none; Delete takes it along.
func TestStateMachineReadBack(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	st := r.State()
	m := inmem.Machine{Initial: "idle", Allow: map[string][]string{"idle": {"busy"}, "busy": {"idle", "done"}}}
	require.NoError(t, st.Define("phase", m))
	_, err := st.Init("counter", []byte("0"))
	require.NoError(t, err)

	got, ok, err := st.Machine("phase")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, m, got)
	for _, name := range []string{"counter", "absent"} {
		_, ok, err = st.Machine(name)
		require.NoError(t, err)
		require.False(t, ok, name)
	}
	require.NoError(t, r.View(func(tx *inmem.Tx) error {
		got, ok, err := tx.State().Machine("phase")
		require.True(t, ok)
		require.Equal(t, m, got)
		return err
	}))

	require.NoError(t, st.Delete("phase"))
	_, ok, err = st.Machine("phase")
	require.NoError(t, err)
	require.False(t, ok, "deleted with its cell")
	view, err := r.AsOf(1)
	require.NoError(t, err)
	got, ok, err = view.State().Machine("phase")
	require.NoError(t, err)
	require.True(t, ok, "as of the step that defined it")
	require.Equal(t, m, got)
}
