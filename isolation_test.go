package inmem_test

// Hermitage-style isolation tests (https://github.com/ept/hermitage): explicit
// transactions interleaved step by step in one goroutine. The database
// promises serializability (snapshot reads, commit-time validation of every
// key and prefix read), so every anomaly Hermitage lists must be prevented,
// while blind writes never conflict.

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// isoSetup returns a run holding x=10 and y=20 (Hermitage's initial table).
func isoSetup(t *testing.T) (*inmem.DB, *inmem.Run) {
	t.Helper()
	db := memDB(t)
	r := freshRun(t, db)
	require.NoError(t, r.KV().Put("x", []byte("10")))
	require.NoError(t, r.KV().Put("y", []byte("20")))
	return db, r
}

func isoBegin(t *testing.T, r *inmem.Run) *inmem.Tx {
	t.Helper()
	tx, err := r.Begin(true)
	require.NoError(t, err)
	t.Cleanup(tx.Discard)
	return tx
}

func isoGet(t *testing.T, tx *inmem.Tx, key string) string {
	t.Helper()
	v, err := tx.KV().Get(key)
	if errors.Is(err, inmem.ErrNotFound) {
		return "<absent>"
	}
	require.NoError(t, err)
	return string(v)
}

func isoPut(t *testing.T, tx *inmem.Tx, key, val string) {
	t.Helper()
	require.NoError(t, tx.KV().Put(key, []byte(val)))
}

func isoList(t *testing.T, tx *inmem.Tx, prefix string) []string {
	t.Helper()
	es, err := tx.KV().List(prefix)
	require.NoError(t, err)
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.Key+"="+string(e.Value))
	}
	return out
}

func isoCommitted(t *testing.T, r *inmem.Run, key string) string {
	t.Helper()
	v, err := r.KV().Get(key)
	if errors.Is(err, inmem.ErrNotFound) {
		return "<absent>"
	}
	require.NoError(t, err)
	return string(v)
}

// G0: dirty write. Both write x and y blindly; the final state comes from
// one transaction, the last to commit.
func TestIsolationG0DirtyWrite(t *testing.T) {
	_, r := isoSetup(t)
	t1, t2 := isoBegin(t, r), isoBegin(t, r)
	isoPut(t, t1, "x", "11")
	isoPut(t, t2, "x", "12")
	isoPut(t, t1, "y", "21")
	isoPut(t, t2, "y", "22")
	require.NoError(t, t1.Commit())
	require.Equal(t, "11", isoCommitted(t, r, "x"))
	require.Equal(t, "21", isoCommitted(t, r, "y"))
	require.NoError(t, t2.Commit())
	require.Equal(t, "12", isoCommitted(t, r, "x"))
	require.Equal(t, "22", isoCommitted(t, r, "y"))

	// The other commit order.
	t3, t4 := isoBegin(t, r), isoBegin(t, r)
	isoPut(t, t3, "x", "31")
	isoPut(t, t4, "x", "41")
	isoPut(t, t4, "y", "42")
	isoPut(t, t3, "y", "32")
	require.NoError(t, t4.Commit())
	require.NoError(t, t3.Commit())
	require.Equal(t, "31", isoCommitted(t, r, "x"))
	require.Equal(t, "32", isoCommitted(t, r, "y"))
}

// G1a: aborted read. T2 never sees T1's discarded write.
func TestIsolationG1aAbortedRead(t *testing.T) {
	_, r := isoSetup(t)
	t1, t2 := isoBegin(t, r), isoBegin(t, r)
	isoPut(t, t1, "x", "101")
	require.Equal(t, "10", isoGet(t, t2, "x"))
	require.Equal(t, []string{"x=10", "y=20"}, isoList(t, t2, ""))
	require.Equal(t, "10", isoCommitted(t, r, "x"), "uncommitted write leaked to one-op reads")
	t1.Discard()
	require.Equal(t, "10", isoGet(t, t2, "x"))
	require.NoError(t, t2.Commit())
	require.Equal(t, "10", isoCommitted(t, r, "x"))
	require.ErrorIs(t, t1.Commit(), inmem.ErrTxDone)
	require.Equal(t, "10", isoCommitted(t, r, "x"))

	// Through Update: a failing fn's writes are never visible.
	boom := errors.New("boom")
	err := r.Update(func(tx *inmem.Tx) error {
		isoPut(t, tx, "x", "666")
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, "10", isoCommitted(t, r, "x"))
}

// G1b: intermediate read. T2 never sees T1's non-final value.
func TestIsolationG1bIntermediateRead(t *testing.T) {
	_, r := isoSetup(t)
	t1, t2 := isoBegin(t, r), isoBegin(t, r)
	isoPut(t, t1, "x", "101")
	require.Equal(t, "10", isoGet(t, t2, "x"))
	isoPut(t, t1, "x", "11")
	require.NoError(t, t1.Commit())
	require.Equal(t, "10", isoGet(t, t2, "x"), "snapshot must not move")
	require.NoError(t, t2.Commit())
	require.Equal(t, "11", isoCommitted(t, r, "x"))

	// A reader that starts after the commit sees only the final value.
	t3 := isoBegin(t, r)
	require.Equal(t, "11", isoGet(t, t3, "x"))
}

// G1c: circular information flow. Each reads what the other writes.
func TestIsolationG1cCircularInformationFlow(t *testing.T) {
	_, r := isoSetup(t)
	t1, t2 := isoBegin(t, r), isoBegin(t, r)
	isoPut(t, t1, "x", "11")
	isoPut(t, t2, "y", "22")
	require.Equal(t, "20", isoGet(t, t1, "y"))
	require.Equal(t, "10", isoGet(t, t2, "x"))
	require.NoError(t, t1.Commit())
	require.ErrorIs(t, t2.Commit(), inmem.ErrConflict)
	require.Equal(t, "11", isoCommitted(t, r, "x"))
	require.Equal(t, "20", isoCommitted(t, r, "y"), "conflicting commit wrote nothing")
}

// OTV: observed transaction vanishes. T3 must not see x from T1 and y from T2.
func TestIsolationOTVObservedTransactionVanishes(t *testing.T) {
	_, r := isoSetup(t)
	t1, t2 := isoBegin(t, r), isoBegin(t, r)
	isoPut(t, t1, "x", "11")
	isoPut(t, t1, "y", "19")
	isoPut(t, t2, "x", "12")
	isoPut(t, t2, "y", "18")
	require.NoError(t, t1.Commit())
	t3 := isoBegin(t, r)
	require.Equal(t, "11", isoGet(t, t3, "x"))
	require.NoError(t, t2.Commit()) // blind writes: no conflict
	require.Equal(t, "19", isoGet(t, t3, "y"), "T3 saw T1's x, so it must see T1's y")
	require.Equal(t, "11", isoGet(t, t3, "x"))
	require.Equal(t, []string{"x=11", "y=19"}, isoList(t, t3, ""))
	require.NoError(t, t3.Commit()) // read-only content: nothing to validate

	t4 := isoBegin(t, r)
	require.Equal(t, []string{"x=12", "y=18"}, isoList(t, t4, ""))

	// If T3 writes, it is serialized before T2 but read T1 after T2's
	// snapshot... T3 read x and y, which T2 overwrote: it must abort.
	t5, t6 := isoBegin(t, r), isoBegin(t, r)
	isoPut(t, t5, "x", "51")
	isoPut(t, t5, "y", "52")
	require.Equal(t, "12", isoGet(t, t6, "x"))
	require.NoError(t, t5.Commit())
	require.Equal(t, "18", isoGet(t, t6, "y"))
	isoPut(t, t6, "z", "x+y")
	require.ErrorIs(t, t6.Commit(), inmem.ErrConflict)
}

// PMP: predicate-many-preceders. A listing is stable within a transaction,
// and a writer whose listing changed must abort.
func TestIsolationPMPPredicateManyPreceders(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	kv := r.KV()
	require.NoError(t, kv.Put("item/1", []byte("10")))
	require.NoError(t, kv.Put("item/2", []byte("20")))

	t1 := isoBegin(t, r)
	first := isoList(t, t1, "item/")
	require.Equal(t, []string{"item/1=10", "item/2=20"}, first)
	t2 := isoBegin(t, r)
	isoPut(t, t2, "item/3", "30")
	require.NoError(t, t2.Commit())
	require.Equal(t, first, isoList(t, t1, "item/"), "listing changed inside a transaction")
	var scanned []string
	require.NoError(t, t1.KV().Scan("item/", func(k string, v []byte) bool {
		scanned = append(scanned, k+"="+string(v))
		return true
	}))
	require.Equal(t, first, scanned)
	require.NoError(t, t1.Commit(), "a reader with no writes just ends")

	// Same, but T1 writes: it must abort.
	t3 := isoBegin(t, r)
	require.Len(t, isoList(t, t3, "item/"), 3)
	t4 := isoBegin(t, r)
	isoPut(t, t4, "item/4", "40")
	require.NoError(t, t4.Commit())
	require.Len(t, isoList(t, t3, "item/"), 3)
	isoPut(t, t3, "count", "3")
	require.ErrorIs(t, t3.Commit(), inmem.ErrConflict)
	require.Equal(t, "<absent>", isoCommitted(t, r, "count"))

	// PMP write-predicate variant: T1 updates every listed item, T2 deletes
	// one concurrently. T1 must not commit.
	t5, t6 := isoBegin(t, r), isoBegin(t, r)
	for _, e := range isoList(t, t5, "item/") {
		k := e[:len("item/1")]
		isoPut(t, t5, k, "99")
	}
	require.NoError(t, t6.KV().Delete("item/2"))
	require.NoError(t, t6.Commit())
	require.ErrorIs(t, t5.Commit(), inmem.ErrConflict)
	require.Equal(t, "<absent>", isoCommitted(t, r, "item/2"), "T5 must not resurrect the deleted item")
	require.Equal(t, "10", isoCommitted(t, r, "item/1"))
}

// P4: lost update. Read-modify-write by two; the second committer aborts.
func TestIsolationP4LostUpdate(t *testing.T) {
	_, r := isoSetup(t)
	t1, t2 := isoBegin(t, r), isoBegin(t, r)
	require.Equal(t, "10", isoGet(t, t1, "x"))
	require.Equal(t, "10", isoGet(t, t2, "x"))
	isoPut(t, t1, "x", "11")
	isoPut(t, t2, "x", "11")
	require.NoError(t, t1.Commit())
	require.ErrorIs(t, t2.Commit(), inmem.ErrConflict)

	// Against a one-operation write too.
	t3 := isoBegin(t, r)
	require.Equal(t, "11", isoGet(t, t3, "x"))
	require.NoError(t, r.KV().Put("x", []byte("50")))
	isoPut(t, t3, "x", "12")
	require.ErrorIs(t, t3.Commit(), inmem.ErrConflict)
	require.Equal(t, "50", isoCommitted(t, r, "x"))

	// A delete is a change as well.
	t5 := isoBegin(t, r)
	require.Equal(t, "20", isoGet(t, t5, "y"))
	require.NoError(t, r.KV().Delete("y"))
	isoPut(t, t5, "y", "21")
	require.ErrorIs(t, t5.Commit(), inmem.ErrConflict)
	require.Equal(t, "<absent>", isoCommitted(t, r, "y"))
}

// G-single: read skew. The reader sees a consistent snapshot; a reader that
// also writes must abort.
func TestIsolationGSingleReadSkew(t *testing.T) {
	_, r := isoSetup(t)
	t1, t2 := isoBegin(t, r), isoBegin(t, r)
	require.Equal(t, "10", isoGet(t, t1, "x"))
	require.Equal(t, "10", isoGet(t, t2, "x"))
	require.Equal(t, "20", isoGet(t, t2, "y"))
	isoPut(t, t2, "x", "12")
	isoPut(t, t2, "y", "18")
	require.NoError(t, t2.Commit())
	require.Equal(t, "20", isoGet(t, t1, "y"), "read skew: x+y must stay 30")
	require.NoError(t, t1.Commit())

	// Same with T1 writing something unrelated: its reads are stale.
	t3, t4 := isoBegin(t, r), isoBegin(t, r)
	require.Equal(t, "12", isoGet(t, t3, "x"))
	isoPut(t, t4, "x", "13")
	isoPut(t, t4, "y", "17")
	require.NoError(t, t4.Commit())
	require.Equal(t, "18", isoGet(t, t3, "y"))
	isoPut(t, t3, "sum", "30")
	require.ErrorIs(t, t3.Commit(), inmem.ErrConflict)

	// Predicate-dependency variant: T5 lists, T6 changes a listed value.
	t5, t6 := isoBegin(t, r), isoBegin(t, r)
	require.Equal(t, []string{"x=13", "y=17"}, isoList(t, t5, ""))
	isoPut(t, t6, "y", "0")
	require.NoError(t, t6.Commit())
	require.Equal(t, []string{"x=13", "y=17"}, isoList(t, t5, ""))
	isoPut(t, t5, "sum", "30")
	require.ErrorIs(t, t5.Commit(), inmem.ErrConflict)
}

// G2-item: write skew.
func TestIsolationG2ItemWriteSkew(t *testing.T) {
	_, r := isoSetup(t)
	t1, t2 := isoBegin(t, r), isoBegin(t, r)
	require.Equal(t, "10", isoGet(t, t1, "x"))
	require.Equal(t, "20", isoGet(t, t1, "y"))
	require.Equal(t, "10", isoGet(t, t2, "x"))
	require.Equal(t, "20", isoGet(t, t2, "y"))
	isoPut(t, t1, "x", "11")
	isoPut(t, t2, "y", "21")
	require.NoError(t, t1.Commit())
	require.ErrorIs(t, t2.Commit(), inmem.ErrConflict)
	require.Equal(t, "11", isoCommitted(t, r, "x"))
	require.Equal(t, "20", isoCommitted(t, r, "y"))
}

// G2: anti-dependency cycles over predicates, and phantoms.
func TestIsolationPhantoms(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	kv := r.KV()
	require.NoError(t, kv.Put("on-call/alice", []byte("1")))

	// Both list the prefix and insert into it: the second must abort.
	t1, t2 := isoBegin(t, r), isoBegin(t, r)
	require.Len(t, isoList(t, t1, "on-call/"), 1)
	require.Len(t, isoList(t, t2, "on-call/"), 1)
	isoPut(t, t1, "on-call/bob", "1")
	isoPut(t, t2, "on-call/carol", "1")
	require.NoError(t, t1.Commit())
	require.ErrorIs(t, t2.Commit(), inmem.ErrConflict)

	// A listing that found nothing is a read too.
	t3, t4 := isoBegin(t, r), isoBegin(t, r)
	require.Empty(t, isoList(t, t3, "queue/"))
	isoPut(t, t4, "queue/1", "job")
	require.NoError(t, t4.Commit())
	isoPut(t, t3, "queue-empty", "true")
	require.ErrorIs(t, t3.Commit(), inmem.ErrConflict)

	// So is a Scan stopped early: it still read the prefix.
	require.NoError(t, kv.Put("scan/a", nil))
	t5 := isoBegin(t, r)
	require.NoError(t, t5.KV().Scan("scan/", func(string, []byte) bool { return false }))
	require.NoError(t, kv.Put("scan/z", nil))
	isoPut(t, t5, "out", "v")
	require.ErrorIs(t, t5.Commit(), inmem.ErrConflict)

	// A Get that found nothing: another transaction creating the key aborts it.
	t6, t7 := isoBegin(t, r), isoBegin(t, r)
	require.Equal(t, "<absent>", isoGet(t, t6, "lock"))
	isoPut(t, t7, "lock", "t7")
	require.NoError(t, t7.Commit())
	isoPut(t, t6, "lock", "t6")
	require.ErrorIs(t, t6.Commit(), inmem.ErrConflict)
	require.Equal(t, "t7", isoCommitted(t, r, "lock"))

	// Same with a one-op creator and a different written key.
	t8 := isoBegin(t, r)
	require.Equal(t, "<absent>", isoGet(t, t8, "flag"))
	require.NoError(t, kv.Put("flag", []byte("set")))
	isoPut(t, t8, "other", "v")
	require.ErrorIs(t, t8.Commit(), inmem.ErrConflict)

	// A deleted key that gets re-created.
	require.NoError(t, kv.Delete("flag"))
	t9 := isoBegin(t, r)
	require.Equal(t, "<absent>", isoGet(t, t9, "flag"))
	require.NoError(t, kv.Put("flag", []byte("again")))
	isoPut(t, t9, "other", "v")
	require.ErrorIs(t, t9.Commit(), inmem.ErrConflict)
}

// Validation must not be over-eager: unrelated changes never abort.
func TestIsolationNoFalseConflicts(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	kv := r.KV()
	require.NoError(t, kv.Put("p/1", []byte("1")))
	require.NoError(t, kv.Put("x", []byte("10")))

	// Disjoint blind writes never conflict.
	t1, t2 := isoBegin(t, r), isoBegin(t, r)
	isoPut(t, t1, "a", "1")
	isoPut(t, t2, "b", "2")
	require.NoError(t, t2.Commit())
	require.NoError(t, t1.Commit())
	require.Equal(t, "1", isoCommitted(t, r, "a"))
	require.Equal(t, "2", isoCommitted(t, r, "b"))

	// Blind writes to the same key never conflict: last committer wins.
	t3, t4 := isoBegin(t, r), isoBegin(t, r)
	isoPut(t, t3, "same", "t3")
	isoPut(t, t4, "same", "t4")
	require.NoError(t, t4.Commit())
	require.NoError(t, t3.Commit())
	require.Equal(t, "t3", isoCommitted(t, r, "same"))
	t5 := isoBegin(t, r)
	require.NoError(t, t5.KV().Delete("same"))
	require.NoError(t, kv.Put("same", []byte("one-op")))
	require.NoError(t, t5.Commit())
	require.Equal(t, "<absent>", isoCommitted(t, r, "same"))

	// Reads of keys nobody changed, and a listing of a prefix nobody wrote
	// into ("p/" vs "p2", "q/1"), do not conflict.
	t6 := isoBegin(t, r)
	require.Equal(t, "10", isoGet(t, t6, "x"))
	require.Equal(t, []string{"p/1=1"}, isoList(t, t6, "p/"))
	require.NoError(t, kv.Put("p2", []byte("v")))
	require.NoError(t, kv.Put("q/1", []byte("v")))
	require.NoError(t, kv.Put("y", []byte("v")))
	isoPut(t, t6, "x", "11")
	require.NoError(t, t6.Commit())

	// Changes committed before the reader began are in its snapshot.
	require.NoError(t, kv.Put("x", []byte("12")))
	t7 := isoBegin(t, r)
	require.Equal(t, "12", isoGet(t, t7, "x"))
	isoPut(t, t7, "x", "13")
	require.NoError(t, t7.Commit())

	// A discarded writer changes nothing, so it conflicts with no one.
	t8, t9 := isoBegin(t, r), isoBegin(t, r)
	require.Equal(t, "13", isoGet(t, t8, "x"))
	isoPut(t, t9, "x", "99")
	t9.Discard()
	isoPut(t, t8, "x", "14")
	require.NoError(t, t8.Commit())

	// A failed (conflicting) commit changes nothing either.
	ta, tb, tc := isoBegin(t, r), isoBegin(t, r), isoBegin(t, r)
	require.Equal(t, "14", isoGet(t, ta, "x"))
	require.Equal(t, "14", isoGet(t, tb, "x"))
	require.Equal(t, "<absent>", isoGet(t, tc, "z"))
	isoPut(t, ta, "x", "15")
	isoPut(t, tb, "z", "from-tb")
	require.NoError(t, ta.Commit())
	require.ErrorIs(t, tb.Commit(), inmem.ErrConflict)
	isoPut(t, tc, "w", "1")
	require.NoError(t, tc.Commit(), "tb's aborted write to z must not abort tc")

	// Same keys in another run, or in the shared scope, are other data.
	other := freshRun(t, db)
	td := isoBegin(t, r)
	require.Equal(t, "15", isoGet(t, td, "x"))
	require.Equal(t, []string{"p/1=1"}, isoList(t, td, "p/"))
	require.NoError(t, other.KV().Put("x", []byte("other")))
	require.NoError(t, other.KV().Put("p/2", []byte("other")))
	require.NoError(t, db.Shared(r.Namespace()).KV().Put("x", []byte("shared")))
	require.NoError(t, db.Shared(r.Namespace()).KV().Put("p/3", []byte("shared")))
	isoPut(t, td, "x", "16")
	require.NoError(t, td.Commit())

	// A transaction's own writes are not conflicts with itself.
	te := isoBegin(t, r)
	isoPut(t, te, "own", "1")
	require.Equal(t, "1", isoGet(t, te, "own"))
	require.Len(t, isoList(t, te, "own"), 1)
	isoPut(t, te, "own", "2")
	require.NoError(t, te.Commit())
	require.Equal(t, "2", isoCommitted(t, r, "own"))
}

// A long-lived transaction keeps its conflicts detectable however many
// commits happen after the one it conflicts with.
func TestIsolationLongTransactionManyCommits(t *testing.T) {
	db, r := isoSetup(t)
	other := freshRun(t, db)
	t1 := isoBegin(t, r)
	require.Equal(t, "10", isoGet(t, t1, "x"))
	require.Equal(t, []string{"x=10", "y=20"}, isoList(t, t1, ""))
	t2 := isoBegin(t, r)
	require.Equal(t, "<absent>", isoGet(t, t2, "new"))
	require.NoError(t, r.KV().Put("x", []byte("11")))
	for i := range 2000 {
		k := fmt.Sprintf("noise/%d", i%50)
		require.NoError(t, other.KV().Put(k, []byte("v")))
		if i%100 == 0 {
			// Short transactions come and go meanwhile.
			require.NoError(t, other.Update(func(tx *inmem.Tx) error {
				_, _ = tx.KV().Get(k)
				return tx.KV().Put(k, []byte("u"))
			}))
		}
	}
	require.Equal(t, "10", isoGet(t, t1, "x"))
	isoPut(t, t1, "z", "1")
	require.ErrorIs(t, t1.Commit(), inmem.ErrConflict)

	require.NoError(t, r.KV().Put("new", []byte("v")))
	for i := range 2000 {
		require.NoError(t, other.KV().Put(fmt.Sprintf("noise/%d", i%50), []byte("w")))
	}
	isoPut(t, t2, "z", "2")
	require.ErrorIs(t, t2.Commit(), inmem.ErrConflict)
	require.Equal(t, "<absent>", isoCommitted(t, r, "z"))
}

func TestTxReadOnlyAndDone(t *testing.T) {
	db, r := isoSetup(t)
	ro, err := r.Begin(false)
	require.NoError(t, err)
	require.False(t, ro.Writable())
	require.ErrorIs(t, ro.KV().Put("x", []byte("1")), inmem.ErrReadOnly)
	require.ErrorIs(t, ro.KV().PutTTL("x", []byte("1"), 1e9), inmem.ErrReadOnly)
	require.ErrorIs(t, ro.KV().Delete("x"), inmem.ErrReadOnly)
	require.Equal(t, "10", isoGet(t, ro, "x"))
	require.NoError(t, ro.Commit())
	require.ErrorIs(t, ro.Commit(), inmem.ErrTxDone)
	require.Equal(t, "10", isoCommitted(t, r, "x"))

	require.NoError(t, r.View(func(tx *inmem.Tx) error {
		require.ErrorIs(t, tx.KV().Put("x", []byte("1")), inmem.ErrReadOnly)
		require.ErrorIs(t, tx.KV().Delete("y"), inmem.ErrReadOnly)
		return nil
	}))
	require.Equal(t, "10", isoCommitted(t, r, "x"))
	require.Equal(t, "20", isoCommitted(t, r, "y"))

	// A read-only snapshot is stable too.
	require.NoError(t, r.View(func(tx *inmem.Tx) error {
		require.Equal(t, "10", isoGet(t, tx, "x"))
		require.NoError(t, r.KV().Put("x", []byte("11")))
		require.Equal(t, "10", isoGet(t, tx, "x"))
		require.Equal(t, []string{"x=10", "y=20"}, isoList(t, tx, ""))
		return nil
	}))

	tx := isoBegin(t, r)
	require.True(t, tx.Writable())
	isoPut(t, tx, "x", "12")
	require.NoError(t, tx.Commit())
	require.ErrorIs(t, tx.Commit(), inmem.ErrTxDone)
	require.ErrorIs(t, tx.KV().Put("x", []byte("13")), inmem.ErrTxDone)
	_, err = tx.KV().Get("x")
	require.ErrorIs(t, err, inmem.ErrTxDone)
	_, err = tx.KV().List("")
	require.ErrorIs(t, err, inmem.ErrTxDone)
	tx.Discard() // no-op after Commit
	require.Equal(t, "12", isoCommitted(t, r, "x"))

	tx = isoBegin(t, r)
	isoPut(t, tx, "x", "13")
	tx.Discard()
	tx.Discard()
	require.ErrorIs(t, tx.Commit(), inmem.ErrTxDone)
	require.Equal(t, "12", isoCommitted(t, r, "x"))

	// Failed commit also finishes the transaction.
	t1, t2 := isoBegin(t, r), isoBegin(t, r)
	isoGet(t, t1, "x")
	isoPut(t, t2, "x", "20")
	require.NoError(t, t2.Commit())
	isoPut(t, t1, "x", "21")
	require.ErrorIs(t, t1.Commit(), inmem.ErrConflict)
	require.ErrorIs(t, t1.Commit(), inmem.ErrTxDone)

	// Every transaction here was finished.
	require.Zero(t, db.Stats().ActiveTxns)
}

func TestTxReadsOwnWrites(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	kv := r.KV()
	for _, k := range []string{"b", "d", "f", "h", "j"} {
		require.NoError(t, kv.Put(k, []byte("snap-"+k)))
	}
	require.NoError(t, kv.Put("zz", []byte("snap-zz")))

	tx := isoBegin(t, r)
	isoPut(t, tx, "a", "own-a")             // before every snapshot key
	isoPut(t, tx, "d", "own-d")             // overwrites a snapshot key
	require.NoError(t, tx.KV().Delete("f")) // hides a snapshot key
	isoPut(t, tx, "g", "own-g")             // between snapshot keys
	isoPut(t, tx, "k", "own-k")             // after every snapshot key
	isoPut(t, tx, "c", "tmp")
	require.NoError(t, tx.KV().Delete("c")) // own write then own delete
	isoPut(t, tx, "i", "tmp")
	isoPut(t, tx, "i", "own-i")                 // overwritten own write
	require.NoError(t, tx.KV().Delete("never")) // delete of absent key

	require.Equal(t, "own-a", isoGet(t, tx, "a"))
	require.Equal(t, "snap-b", isoGet(t, tx, "b"))
	require.Equal(t, "<absent>", isoGet(t, tx, "c"))
	require.Equal(t, "own-d", isoGet(t, tx, "d"))
	require.Equal(t, "<absent>", isoGet(t, tx, "f"))
	require.Equal(t, "own-i", isoGet(t, tx, "i"))
	require.Equal(t, "<absent>", isoGet(t, tx, "never"))

	want := []string{"a=own-a", "b=snap-b", "d=own-d", "g=own-g", "h=snap-h", "i=own-i", "j=snap-j", "k=own-k"}
	es, err := tx.KV().List("")
	require.NoError(t, err)
	got := make([]string, 0, len(es))
	for _, e := range es {
		got = append(got, e.Key+"="+string(e.Value))
		if strings.HasPrefix(string(e.Value), "own-") {
			require.Zero(t, e.Version, "own write %s has no version yet", e.Key)
		} else {
			require.NotZero(t, e.Version, "snapshot key %s", e.Key)
		}
	}
	require.Equal(t, append(want, "zz=snap-zz"), got)

	var scanned []string
	require.NoError(t, tx.KV().Scan("", func(k string, v []byte) bool {
		scanned = append(scanned, k+"="+string(v))
		return true
	}))
	require.Equal(t, append(want, "zz=snap-zz"), scanned)

	// Early stop at each position, including on an own write and a
	// snapshot key.
	for n := 1; n <= len(want); n++ {
		scanned = scanned[:0]
		require.NoError(t, tx.KV().Scan("", func(k string, v []byte) bool {
			scanned = append(scanned, k+"="+string(v))
			return len(scanned) < n
		}))
		require.Equal(t, want[:n], scanned, "stop after %d", n)
	}

	// Prefix filtering applies to own writes too.
	isoPut(t, tx, "p/2", "own")
	isoPut(t, tx, "p", "own-p")
	isoPut(t, tx, "q/1", "own")
	require.NoError(t, kv.Put("p/1", []byte("late"))) // after the snapshot: invisible
	require.Equal(t, []string{"p/2=own"}, isoList(t, tx, "p/"))
	require.Equal(t, []string{"p=own-p", "p/2=own"}, isoList(t, tx, "p"))

	// Many writes (past any small-buffer threshold) still merge correctly.
	for i := range 40 {
		isoPut(t, tx, fmt.Sprintf("m/%02d", i), fmt.Sprint(i))
	}
	require.NoError(t, tx.KV().Delete("m/07"))
	isoPut(t, tx, "m/03", "three")
	// Found through the key index the transaction builds past 32 writes,
	// not through the writes it indexed then.
	isoPut(t, tx, "m/39", "last")
	require.NoError(t, tx.KV().Delete("m/38"))
	ms := isoList(t, tx, "m/")
	require.Len(t, ms, 38)
	require.Equal(t, "m/00=0", ms[0])
	require.Equal(t, "m/03=three", ms[3])
	require.Equal(t, "m/08=8", ms[7])
	require.Equal(t, "m/39=last", ms[37])
	require.Equal(t, "<absent>", isoGet(t, tx, "m/07"))
	require.Equal(t, "<absent>", isoGet(t, tx, "m/38"))
	require.Equal(t, "last", isoGet(t, tx, "m/39"))
	require.Equal(t, "three", isoGet(t, tx, "m/03"))
	require.Equal(t, "own-d", isoGet(t, tx, "d"))

	// None of this is visible outside until Commit ...
	require.Equal(t, "snap-d", isoCommitted(t, r, "d"))
	require.Equal(t, "snap-f", isoCommitted(t, r, "f"))
	require.Equal(t, "<absent>", isoCommitted(t, r, "a"))

	// ... which conflicts, because the listing of "p/" changed. Retry in a
	// new transaction and check the committed result.
	require.ErrorIs(t, tx.Commit(), inmem.ErrConflict)
	require.Equal(t, "snap-d", isoCommitted(t, r, "d"))

	tx = isoBegin(t, r)
	isoPut(t, tx, "a", "own-a")
	isoPut(t, tx, "d", "own-d")
	require.NoError(t, tx.KV().Delete("f"))
	isoPut(t, tx, "g", "own-g")
	require.NoError(t, tx.Commit())
	es, err = kv.List("")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "d", "g", "h", "j", "p/1", "zz"}, entryKeys(es))
	require.Equal(t, "own-d", string(es[2].Value))
	v1 := es[0].Version
	require.NotZero(t, v1)
	for _, i := range []int{2, 3} {
		require.Equal(t, v1, es[i].Version, "one commit, one version")
	}
	require.Greater(t, v1, es[1].Version)
}

// Update re-runs fn when its commit conflicts, and returns fn's own error as is.
func TestUpdateRetriesOnConflict(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	kv := r.KV()
	require.NoError(t, kv.Put("counter", []byte("0")))

	calls := 0
	err := r.Update(func(tx *inmem.Tx) error {
		calls++
		v, err := tx.KV().Get("counter")
		if err != nil {
			return err
		}
		if calls == 1 {
			// A concurrent writer commits between our read and our commit.
			if err := kv.Put("counter", []byte("100")); err != nil {
				return err
			}
		}
		var n int
		if _, err := fmt.Sscan(string(v), &n); err != nil {
			return err
		}
		return tx.KV().Put("counter", []byte(fmt.Sprint(n+1)))
	})
	require.NoError(t, err)
	require.Equal(t, 2, calls)
	require.Equal(t, "101", isoCommitted(t, r, "counter"), "the retry must read the new value")

	// The same with the interfering writer on another goroutine, forced to
	// commit between the first attempt's read and its commit.
	require.NoError(t, kv.Put("counter", []byte("0")))
	interfere, interfered := make(chan struct{}), make(chan error)
	go func() {
		<-interfere
		interfered <- kv.Put("counter", []byte("200"))
	}()
	calls = 0
	err = r.Update(func(tx *inmem.Tx) error {
		calls++
		v, err := tx.KV().Get("counter")
		if err != nil {
			return err
		}
		if calls == 1 {
			interfere <- struct{}{}
			if err := <-interfered; err != nil {
				return err
			}
		}
		var n int
		if _, err := fmt.Sscan(string(v), &n); err != nil {
			return err
		}
		return tx.KV().Put("counter", []byte(fmt.Sprint(n+1)))
	})
	require.NoError(t, err)
	require.Equal(t, 2, calls)
	require.Equal(t, "201", isoCommitted(t, r, "counter"))

	// A conflict on every attempt: Update gives up with ErrConflict after
	// the documented number of attempts.
	calls = 0
	err = r.Update(func(tx *inmem.Tx) error {
		calls++
		if _, err := tx.KV().Get("counter"); err != nil {
			return err
		}
		if err := kv.Put("counter", []byte(fmt.Sprint(calls))); err != nil {
			return err
		}
		return tx.KV().Put("counter", []byte("never"))
	})
	require.ErrorIs(t, err, inmem.ErrConflict)
	require.Equal(t, 64, calls, "Update runs fn up to 64 times, as its doc says")
	allConflicting := calls
	require.Equal(t, fmt.Sprint(calls), isoCommitted(t, r, "counter"))

	// fn's own error: returned unchanged, no retry, nothing written.
	sentinel := errors.New("my error")
	wrapped := fmt.Errorf("context: %w", sentinel)
	calls = 0
	err = r.Update(func(tx *inmem.Tx) error {
		calls++
		isoPut(t, tx, "counter", "bad")
		return wrapped
	})
	require.Equal(t, 1, calls)
	require.True(t, err == wrapped, "got %v, want the very error fn returned", err)
	require.NotEqual(t, "bad", isoCommitted(t, r, "counter"))

	// A read-only fn never conflicts and runs once.
	calls = 0
	require.NoError(t, r.Update(func(tx *inmem.Tx) error {
		calls++
		_, err := tx.KV().Get("counter")
		require.NoError(t, kv.Put("counter", []byte("x")))
		return err
	}))
	require.Equal(t, 1, calls)

	// View returns fn's error unchanged as well.
	err = r.View(func(tx *inmem.Tx) error { return wrapped })
	require.True(t, err == wrapped)

	st := db.Stats()
	require.GreaterOrEqual(t, st.Conflicts, uint64(2+allConflicting))
	require.Zero(t, st.ActiveTxns, "every transaction of Update and View was finished")
}
