package inmem_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

func putKeys(t *testing.T, kv *inmem.KV, keys ...string) {
	t.Helper()
	for _, k := range keys {
		require.NoError(t, kv.Put(k, []byte("v:"+k)))
	}
}

func TestKVEntries(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	kv := r.KV()
	putKeys(t, kv, "a/1", "a/2", "a/3", "a/4", "a/5", "b/1", "a")
	require.NoError(t, kv.Delete("a/3"))

	want, err := kv.List("a/")
	require.NoError(t, err)
	got, err := drain(kv.Entries("a/"))
	require.NoError(t, err)
	require.Equal(t, want, got, "the same entries, values and versions as List")
	require.Equal(t, []string{"a/1", "a/2", "a/4", "a/5"}, entryKeys(got))

	// Breaking out stops the scan: the loop body runs twice, and the
	// sequence does not call yield again after it returned false.
	n := 0
	for e, err := range kv.Entries("") {
		require.NoError(t, err)
		require.Equal(t, []byte("v:"+e.Key), e.Value)
		n++
		if n == 2 {
			break
		}
	}
	require.Equal(t, 2, n)

	// The values are the caller's to keep.
	got, err = drain(kv.Entries("a/"))
	require.NoError(t, err)
	got[0].Value[0] = 'X'
	v, err := kv.Get("a/1")
	require.NoError(t, err)
	require.Equal(t, []byte("v:a/1"), v)

	// An error is yielded once, with a zero Entry.
	var errs []error
	for e, err := range kv.Entries(strings.Repeat("p", inmem.MaxKeySize+1)) {
		require.Zero(t, e)
		errs = append(errs, err)
	}
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], inmem.ErrTooLarge)

	require.NoError(t, db.Close())
	_, err = drain(kv.Entries("a/"))
	require.ErrorIs(t, err, inmem.ErrClosed)
	_, err = kv.ListAfter("a/", "b", 1)
	require.ErrorIs(t, err, inmem.ErrClosed, "even with a cursor past the prefix")
}

// Through a transaction the sequence sees the transaction's own writes,
// and the prefix counts as read: an insert under it by another commit is a
// conflict, as it is for List.
func TestKVEntriesInTransaction(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	putKeys(t, r.KV(), "p/1", "p/3")

	tx, err := r.Begin(true)
	require.NoError(t, err)
	require.NoError(t, tx.KV().Put("p/2", []byte("mine")))
	require.NoError(t, tx.KV().Delete("p/3"))
	got, err := drain(tx.KV().Entries("p/"))
	require.NoError(t, err)
	require.Equal(t, []string{"p/1", "p/2"}, entryKeys(got))
	require.Zero(t, got[1].Version, "an uncommitted write has no version yet")

	require.NoError(t, r.KV().Put("p/9", []byte("phantom")))
	require.NoError(t, tx.KV().Put("out", []byte("x")))
	require.ErrorIs(t, tx.Commit(), inmem.ErrConflict)
}

// Views and forks read through layers; the sequence reads them the same way.
func TestKVEntriesViewAndFork(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	putKeys(t, r.KV(), "k/1", "k/2")
	putKeys(t, r.KV(), "k/3")

	view, err := r.AsOf(2)
	require.NoError(t, err)
	got, err := drain(view.KV().Entries("k/"))
	require.NoError(t, err)
	require.Equal(t, []string{"k/1", "k/2"}, entryKeys(got))
	page, err := view.KV().ListAfter("k/", "k/1", 5)
	require.NoError(t, err)
	require.Equal(t, []string{"k/2"}, entryKeys(page))

	child, err := db.Fork(r.ID(), 3)
	require.NoError(t, err)
	putKeys(t, child.KV(), "k/0")
	got, err = drain(child.KV().Entries("k/"))
	require.NoError(t, err)
	require.Equal(t, []string{"k/0", "k/1", "k/2", "k/3"}, entryKeys(got))
	page, err = child.KV().ListAfter("k/", "k/0", 2)
	require.NoError(t, err)
	require.Equal(t, []string{"k/1", "k/2"}, entryKeys(page))
}

func TestKVListAfterPages(t *testing.T) {
	db := memDB(t)
	kv := freshRun(t, db).KV()
	var keys []string
	for i := range 10 {
		keys = append(keys, fmt.Sprintf("item/%02d", i))
	}
	putKeys(t, kv, keys...)
	putKeys(t, kv, "item", "itemz", "other/1")

	all, err := kv.List("item/")
	require.NoError(t, err)
	var paged []inmem.Entry
	var sizes []int
	after := ""
	for {
		page, err := kv.ListAfter("item/", after, 3)
		require.NoError(t, err)
		paged = append(paged, page...)
		sizes = append(sizes, len(page))
		if len(page) < 3 {
			break
		}
		after = page[len(page)-1].Key
	}
	require.Equal(t, all, paged)
	require.Equal(t, []int{3, 3, 3, 1}, sizes)

	for _, tc := range []struct {
		prefix, after string
		limit         int
		want          []string
	}{
		{"item/", "item/04", 2, []string{"item/05", "item/06"}},
		{"item/", "item/045", 1, []string{"item/05"}},                     // a cursor that is no key
		{"item/", "item/09", 0, nil},                                      // the last key
		{"item/", "item", 2, []string{"item/00", "item/01"}},              // sorts before the prefix
		{"item/", "a", 1, []string{"item/00"}},                            // far before it
		{"item/", "item0", 5, nil},                                        // sorts after every key with the prefix
		{"", "item/08", 0, []string{"item/09", "itemz", "other/1"}},       // no prefix, no limit
		{"item", "item", 0, append(append([]string{}, keys...), "itemz")}, // the prefix itself is excluded
		{"other/", "", 0, []string{"other/1"}},
	} {
		page, err := kv.ListAfter(tc.prefix, tc.after, tc.limit)
		require.NoError(t, err)
		require.Equal(t, tc.want, nilIfEmpty(entryKeys(page)), "%+v", tc)
	}

	_, err = kv.ListAfter("item/", "", -1)
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	_, err = kv.ListAfter("item/", strings.Repeat("k", inmem.MaxKeySize+1), 1)
	require.ErrorIs(t, err, inmem.ErrTooLarge)
	_, err = kv.ListAfter(strings.Repeat("k", inmem.MaxKeySize+1), "", 1)
	require.ErrorIs(t, err, inmem.ErrTooLarge)
}

// In a transaction a page merges the transaction's own writes with the
// snapshot, from the cursor on.
func TestKVListAfterInTransaction(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	putKeys(t, r.KV(), "q/1", "q/2", "q/4")
	err := r.View(func(tx *inmem.Tx) error {
		page, err := tx.KV().ListAfter("q/", "q/1", 1)
		require.NoError(t, err)
		require.Equal(t, []string{"q/2"}, entryKeys(page))
		return nil
	})
	require.NoError(t, err)
	err = r.Update(func(tx *inmem.Tx) error {
		require.NoError(t, tx.KV().Put("q/0", nil))
		require.NoError(t, tx.KV().Put("q/3", nil))
		require.NoError(t, tx.KV().Delete("q/4"))
		page, err := tx.KV().ListAfter("q/", "q/1", 0)
		require.NoError(t, err)
		require.Equal(t, []string{"q/2", "q/3"}, entryKeys(page))
		return nil
	})
	require.NoError(t, err)
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// TestKVEntriesTxEndedInLoop: a loop body that commits or discards the
// transaction its Entries reads through ends the loop with ErrTxDone once
// (it used to read released buffers and panic).
func TestKVEntriesTxEndedInLoop(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	r, err := db.BeginRun()
	require.NoError(t, err)
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, r.KV().Put(k, []byte("v")))
	}
	for _, end := range []func(*inmem.Tx){
		func(tx *inmem.Tx) { tx.Discard() },
		func(tx *inmem.Tx) { require.NoError(t, tx.Commit()) },
	} {
		tx, err := r.Begin(true)
		require.NoError(t, err)
		require.NoError(t, tx.KV().Put("d", []byte("v")))
		var errs []error
		n := 0
		for _, err := range tx.KV().Entries("") {
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
	}
}
