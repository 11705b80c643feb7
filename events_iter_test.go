package inmem_test

import (
	"fmt"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

func appendEvents(t *testing.T, ev *inmem.Events, types ...string) {
	t.Helper()
	for i, typ := range types {
		_, err := ev.Append(typ, []byte(fmt.Sprintf("%s#%d", typ, i)))
		require.NoError(t, err)
	}
}

func TestEventsAll(t *testing.T) {
	db := memDB(t)
	ev := freshRun(t, db).Events()
	appendEvents(t, ev, "tool", "llm", "tool", "note", "tool", "llm")

	for from := range uint64(8) {
		want, err := ev.Range(from, 100)
		require.NoError(t, err)
		got, err := drain(ev.All(from))
		require.NoError(t, err)
		require.Equal(t, want, got, "from %d", from)
	}
	for _, typ := range []string{"tool", "llm", "note", "absent"} {
		want, err := ev.ByType(typ)
		require.NoError(t, err)
		got, err := drain(ev.AllByType(typ))
		require.NoError(t, err)
		require.Equal(t, nilIfNone(want), got, "type %s", typ)
	}

	got := firstN(t, ev.All(1), 2)
	require.Equal(t, []uint64{1, 2}, seqs(got))
	got = firstN(t, ev.AllByType("tool"), 2)
	require.Equal(t, []uint64{0, 2}, seqs(got))

	// The payloads are the caller's to keep.
	got, err := drain(ev.All(0))
	require.NoError(t, err)
	got[0].Payload[0] = 'X'
	e, err := ev.Get(0)
	require.NoError(t, err)
	require.Equal(t, "tool#0", string(e.Payload))

	errs := errorsOf(t, ev.AllByType(""))
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], inmem.ErrInvalidArgument)

	require.NoError(t, db.Close())
	errs = errorsOf(t, ev.All(0))
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], inmem.ErrClosed)
	errs = errorsOf(t, ev.AllByType("tool"))
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], inmem.ErrClosed)
}

// The loop reads one snapshot: events appended while it runs, through
// the run or through the transaction it reads in, are not part of it.
func TestEventsAllSnapshot(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	appendEvents(t, r.Events(), "a", "b", "a")

	n := 0
	for e, err := range r.Events().All(0) {
		require.NoError(t, err)
		require.Equal(t, uint64(n), e.Seq)
		n++
		appendEvents(t, r.Events(), "a")
	}
	require.Equal(t, 3, n)
	l, err := r.Events().Len()
	require.NoError(t, err)
	require.Equal(t, uint64(6), l)

	err = r.Update(func(tx *inmem.Tx) error {
		n := 0
		for _, err := range tx.Events().AllByType("a") {
			require.NoError(t, err)
			n++
			appendEvents(t, tx.Events(), "a")
		}
		require.Equal(t, 5, n)
		return nil
	})
	require.NoError(t, err)
	es, err := r.Events().ByType("a")
	require.NoError(t, err)
	require.Len(t, es, 10)
}

// Through a transaction the sequences see its own appends, as Range and
// ByType do, and the log counts as read.
func TestEventsAllInTransaction(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	appendEvents(t, r.Events(), "a", "b")

	tx, err := r.Begin(true)
	require.NoError(t, err)
	defer tx.Discard()
	appendEvents(t, tx.Events(), "a", "c")
	want, err := tx.Events().Range(0, 10)
	require.NoError(t, err)
	require.Len(t, want, 4)
	got, err := drain(tx.Events().All(0))
	require.NoError(t, err)
	require.Equal(t, want, got)
	byType, err := drain(tx.Events().AllByType("a"))
	require.NoError(t, err)
	require.Equal(t, []uint64{0, 2}, seqs(byType))

	// Another commit appends to the log this transaction read.
	appendEvents(t, r.Events(), "b")
	require.ErrorIs(t, tx.Commit(), inmem.ErrConflict)
}

// A loop body that ends the transaction the loop reads in ends the loop
// with ErrTxDone, rather than scanning on over the transaction's released
// buffers.
func TestEventsAllTxEndedInLoop(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	appendEvents(t, r.Events(), "a", "a", "a")
	for _, end := range []func(*inmem.Tx){
		func(tx *inmem.Tx) { tx.Discard() },
		func(tx *inmem.Tx) { require.NoError(t, tx.Commit()) },
	} {
		tx, err := r.Begin(true)
		require.NoError(t, err)
		appendEvents(t, tx.Events(), "a", "a")
		var errs []error
		n := 0
		for _, err := range tx.Events().AllByType("a") {
			if err != nil {
				errs = append(errs, err)
				continue
			}
			n++
			end(tx)
		}
		require.Equal(t, 1, n)
		require.Len(t, errs, 1)
		require.ErrorIs(t, errs[0], inmem.ErrTxDone)
		errs = errorsOf(t, tx.Events().All(0))
		require.Len(t, errs, 1)
		require.ErrorIs(t, errs[0], inmem.ErrTxDone)
	}
}

// Views, forks and shared scopes read through the same sequences.
func TestEventsAllViewForkShared(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	appendEvents(t, r.Events(), "a", "b")
	appendEvents(t, r.Events(), "a")

	view, err := r.AsOf(2)
	require.NoError(t, err)
	got, err := drain(view.Events().All(0))
	require.NoError(t, err)
	require.Equal(t, []uint64{0, 1}, seqs(got))
	got, err = drain(view.Events().AllByType("a"))
	require.NoError(t, err)
	require.Equal(t, []uint64{0}, seqs(got))

	child, err := db.Fork(r.ID(), 2)
	require.NoError(t, err)
	appendEvents(t, child.Events(), "a")
	want, err := child.Events().Range(0, 10)
	require.NoError(t, err)
	got, err = drain(child.Events().All(1))
	require.NoError(t, err)
	require.Equal(t, want[1:], got)
	got, err = drain(child.Events().AllByType("a"))
	require.NoError(t, err)
	require.Equal(t, []uint64{0, 2}, seqs(got))
	require.Equal(t, "a#0", string(got[1].Payload), "the fork's own event, not the parent's third")

	sh := db.Shared(inmem.Namespace{Tenant: "t"})
	appendEvents(t, sh.Events(), "x", "y", "x")
	got, err = drain(sh.Events().AllByType("x"))
	require.NoError(t, err)
	require.Equal(t, []uint64{0, 2}, seqs(got))
	got, err = drain(db.Shared(inmem.Namespace{Tenant: "u"}).Events().All(0))
	require.NoError(t, err)
	require.Empty(t, got)
}

func seqs(es []inmem.Event) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func nilIfNone[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
