package inmem_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// ---- helpers shared by the root package's black-box tests ----

// ---- basic operations ----

func TestKVPutGetDelete(t *testing.T) {
	db := memDB(t)
	kv := freshRun(t, db).KV()

	_, err := kv.Get("missing")
	require.ErrorIs(t, err, inmem.ErrNotFound)

	require.NoError(t, kv.Put("a", []byte("1")))
	v, err := kv.Get("a")
	require.NoError(t, err)
	require.Equal(t, []byte("1"), v)

	require.NoError(t, kv.Put("a", []byte("2")))
	v, err = kv.Get("a")
	require.NoError(t, err)
	require.Equal(t, []byte("2"), v)

	// An empty value is a value, not a delete.
	require.NoError(t, kv.Put("empty", nil))
	v, err = kv.Get("empty")
	require.NoError(t, err)
	require.Empty(t, v)
	es, err := kv.List("empty")
	require.NoError(t, err)
	require.Len(t, es, 1)

	require.NoError(t, kv.Delete("a"))
	_, err = kv.Get("a")
	require.ErrorIs(t, err, inmem.ErrNotFound)
	require.NoError(t, kv.Delete("a"), "deleting a deleted key")
	require.NoError(t, kv.Delete("never-existed"), "deleting an absent key")
	_, err = kv.Get("never-existed")
	require.ErrorIs(t, err, inmem.ErrNotFound)

	// Re-create after delete.
	require.NoError(t, kv.Put("a", []byte("3")))
	v, err = kv.Get("a")
	require.NoError(t, err)
	require.Equal(t, []byte("3"), v)

	// Binary keys and values round-trip.
	bk := "k\x00\xff\x01"
	bv := []byte{0, 0xff, 0, 1}
	require.NoError(t, kv.Put(bk, bv))
	v, err = kv.Get(bk)
	require.NoError(t, err)
	require.Equal(t, bv, v)
	_, err = kv.Get("k")
	require.ErrorIs(t, err, inmem.ErrNotFound)
	_, err = kv.Get("k\x00")
	require.ErrorIs(t, err, inmem.ErrNotFound)
}

func TestKVSlicesBelongToCaller(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	kv := r.KV()

	in := []byte("hello")
	require.NoError(t, kv.Put("k", in))
	in[0] = 'X' // mutating the input after Put must not change the DB
	v, err := kv.Get("k")
	require.NoError(t, err)
	require.Equal(t, "hello", string(v))

	v[0] = 'Y' // mutating a returned value must not change the DB
	v2, err := kv.Get("k")
	require.NoError(t, err)
	require.Equal(t, "hello", string(v2))

	es, err := kv.List("")
	require.NoError(t, err)
	require.Len(t, es, 1)
	es[0].Value[0] = 'Z'
	require.NoError(t, kv.Scan("", func(key string, value []byte) bool {
		require.Equal(t, "hello", string(value))
		value[0] = 'W'
		return true
	}))
	v3, err := kv.Get("k")
	require.NoError(t, err)
	require.Equal(t, "hello", string(v3))

	// PutTTL copies too.
	in2 := []byte("ttl")
	require.NoError(t, kv.PutTTL("t", in2, time.Hour))
	in2[0] = 'X'
	v, err = kv.Get("t")
	require.NoError(t, err)
	require.Equal(t, "ttl", string(v))

	// Inside a transaction: the buffered write is a copy, and what Get
	// returns for the transaction's own write is the caller's.
	buf := []byte("txval")
	require.NoError(t, r.Update(func(tx *inmem.Tx) error {
		if err := tx.KV().Put("tx", buf); err != nil {
			return err
		}
		buf[0] = 'X'
		got, err := tx.KV().Get("tx")
		if err != nil {
			return err
		}
		require.Equal(t, "txval", string(got))
		got[0] = 'Y'
		got, err = tx.KV().Get("tx")
		if err != nil {
			return err
		}
		require.Equal(t, "txval", string(got))
		es, err := tx.KV().List("tx")
		if err != nil {
			return err
		}
		require.Len(t, es, 1)
		es[0].Value[0] = 'Z'
		return nil
	}))
	v, err = kv.Get("tx")
	require.NoError(t, err)
	require.Equal(t, "txval", string(v))
}

func TestKVListScanOrderAndPrefix(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	kv := r.KV()
	keys := []string{"b/2", "a", "b/10", "b/1", "ab", "b", "c\xff", "b/", "a\x00", "\xff", "ba", "b/1/x"}
	for i, k := range keys {
		require.NoError(t, kv.Put(k, []byte(fmt.Sprint(i))))
	}
	all, err := kv.List("")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "a\x00", "ab", "b", "b/", "b/1", "b/1/x", "b/10", "b/2", "ba", "c\xff", "\xff"}, entryKeys(all))
	for _, e := range all {
		for i, k := range keys {
			if k == e.Key {
				require.Equal(t, fmt.Sprint(i), string(e.Value))
			}
		}
	}

	bs, err := kv.List("b/")
	require.NoError(t, err)
	require.Equal(t, []string{"b/", "b/1", "b/1/x", "b/10", "b/2"}, entryKeys(bs))

	as, err := kv.List("a")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "a\x00", "ab"}, entryKeys(as))

	none, err := kv.List("zzz")
	require.NoError(t, err)
	require.Empty(t, none)

	ff, err := kv.List("\xff")
	require.NoError(t, err)
	require.Equal(t, []string{"\xff"}, entryKeys(ff))

	// Scan visits the same keys in the same order, and stops early.
	var scanned []string
	require.NoError(t, kv.Scan("b", func(k string, v []byte) bool {
		scanned = append(scanned, k)
		return true
	}))
	require.Equal(t, []string{"b", "b/", "b/1", "b/1/x", "b/10", "b/2", "ba"}, scanned)

	scanned = nil
	require.NoError(t, kv.Scan("b", func(k string, v []byte) bool {
		scanned = append(scanned, k)
		return len(scanned) < 3
	}))
	require.Equal(t, []string{"b", "b/", "b/1"}, scanned)

	calls := 0
	require.NoError(t, kv.Scan("", func(string, []byte) bool { calls++; return false }))
	require.Equal(t, 1, calls)

	// Deleted and overwritten keys: one entry each, newest value.
	require.NoError(t, kv.Delete("b/1"))
	require.NoError(t, kv.Put("b/2", []byte("new")))
	bs, err = kv.List("b/")
	require.NoError(t, err)
	require.Equal(t, []string{"b/", "b/1/x", "b/10", "b/2"}, entryKeys(bs))
	require.Equal(t, "new", string(bs[3].Value))

	require.ErrorIs(t, kv.Scan("", nil), inmem.ErrInvalidArgument)
}

func TestKVEntryVersionIncreases(t *testing.T) {
	db := memDB(t)
	kv := freshRun(t, db).KV()
	require.NoError(t, kv.Put("a", []byte("1")))
	es, err := kv.List("a")
	require.NoError(t, err)
	require.Len(t, es, 1)
	va1 := es[0].Version
	require.NotZero(t, va1)

	require.NoError(t, kv.Put("b", []byte("1")))
	require.NoError(t, kv.Put("a", []byte("2")))
	es, err = kv.List("")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, entryKeys(es))
	va2, vb := es[0].Version, es[1].Version
	require.Greater(t, vb, va1)
	require.Greater(t, va2, vb)

	last := va2
	for i := range 20 {
		require.NoError(t, kv.Put("a", []byte(fmt.Sprint(i))))
		es, err = kv.List("a")
		require.NoError(t, err)
		require.Greater(t, es[0].Version, last)
		last = es[0].Version
	}
	require.GreaterOrEqual(t, db.Stats().Version, last)
}

func TestKVPutTTL(t *testing.T) {
	clk := newManualClock()
	db := memDB(t, inmem.WithClock(clk.Now))
	r := freshRun(t, db)
	kv := r.KV()

	require.NoError(t, kv.PutTTL("t", []byte("v"), 10*time.Second))
	require.NoError(t, kv.PutTTL("u", []byte("v"), time.Hour))
	require.NoError(t, kv.Put("p", []byte("v")))
	v, err := kv.Get("t")
	require.NoError(t, err)
	require.Equal(t, "v", string(v))

	clk.Advance(9 * time.Second)
	_, err = kv.Get("t")
	require.NoError(t, err)
	es, err := kv.List("")
	require.NoError(t, err)
	require.Equal(t, []string{"p", "t", "u"}, entryKeys(es))

	clk.Advance(time.Second) // exactly at expiry: gone
	_, err = kv.Get("t")
	require.ErrorIs(t, err, inmem.ErrNotFound)
	es, err = kv.List("")
	require.NoError(t, err)
	require.Equal(t, []string{"p", "u"}, entryKeys(es))
	var scanned []string
	require.NoError(t, kv.Scan("", func(k string, _ []byte) bool { scanned = append(scanned, k); return true }))
	require.Equal(t, []string{"p", "u"}, scanned)
	require.NoError(t, r.View(func(tx *inmem.Tx) error {
		_, err := tx.KV().Get("t")
		require.ErrorIs(t, err, inmem.ErrNotFound)
		es, err := tx.KV().List("")
		require.NoError(t, err)
		require.Equal(t, []string{"p", "u"}, entryKeys(es))
		return nil
	}))

	// A plain Put over a TTL key makes it permanent again.
	require.NoError(t, kv.PutTTL("x", []byte("1"), time.Second))
	require.NoError(t, kv.Put("x", []byte("2")))
	clk.Advance(time.Minute)
	v, err = kv.Get("x")
	require.NoError(t, err)
	require.Equal(t, "2", string(v))

	// And a PutTTL over a permanent key gives it an expiry.
	require.NoError(t, kv.PutTTL("p", []byte("3"), time.Second))
	clk.Advance(2 * time.Second)
	_, err = kv.Get("p")
	require.ErrorIs(t, err, inmem.ErrNotFound)

	// TTL inside a transaction is measured by the same clock.
	require.NoError(t, r.Update(func(tx *inmem.Tx) error {
		return tx.KV().PutTTL("txttl", []byte("v"), 5*time.Second)
	}))
	_, err = kv.Get("txttl")
	require.NoError(t, err)
	clk.Advance(5 * time.Second)
	_, err = kv.Get("txttl")
	require.ErrorIs(t, err, inmem.ErrNotFound)

	require.ErrorIs(t, kv.PutTTL("bad", []byte("v"), 0), inmem.ErrInvalidArgument)
	require.ErrorIs(t, kv.PutTTL("bad", []byte("v"), -time.Second), inmem.ErrInvalidArgument)
	require.NoError(t, r.Update(func(tx *inmem.Tx) error {
		require.ErrorIs(t, tx.KV().PutTTL("bad", []byte("v"), 0), inmem.ErrInvalidArgument)
		return nil
	}))
	_, err = kv.Get("bad")
	require.ErrorIs(t, err, inmem.ErrNotFound)
}

func TestKVLimits(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	kv := r.KV()

	require.ErrorIs(t, kv.Put("", []byte("v")), inmem.ErrInvalidArgument)
	_, err := kv.Get("")
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	require.ErrorIs(t, kv.Delete(""), inmem.ErrInvalidArgument)
	require.ErrorIs(t, kv.PutTTL("", []byte("v"), time.Second), inmem.ErrInvalidArgument)

	maxKey := strings.Repeat("k", inmem.MaxKeySize)
	require.NoError(t, kv.Put(maxKey, []byte("v")))
	v, err := kv.Get(maxKey)
	require.NoError(t, err)
	require.Equal(t, "v", string(v))

	bigKey := maxKey + "k"
	require.ErrorIs(t, kv.Put(bigKey, []byte("v")), inmem.ErrTooLarge)
	_, err = kv.Get(bigKey)
	require.ErrorIs(t, err, inmem.ErrTooLarge)
	require.ErrorIs(t, kv.Delete(bigKey), inmem.ErrTooLarge)

	bigVal := make([]byte, inmem.MaxValueSize+1)
	require.ErrorIs(t, kv.Put("big", bigVal), inmem.ErrTooLarge)
	require.ErrorIs(t, kv.PutTTL("big", bigVal, time.Second), inmem.ErrTooLarge)
	_, err = kv.Get("big")
	require.ErrorIs(t, err, inmem.ErrNotFound)

	maxVal := bigVal[:inmem.MaxValueSize]
	maxVal[0], maxVal[len(maxVal)-1] = 1, 2
	require.NoError(t, kv.Put("max", maxVal))
	v, err = kv.Get("max")
	require.NoError(t, err)
	require.True(t, bytes.Equal(maxVal, v))

	// The same limits apply inside a transaction.
	require.NoError(t, r.Update(func(tx *inmem.Tx) error {
		require.ErrorIs(t, tx.KV().Put("", nil), inmem.ErrInvalidArgument)
		require.ErrorIs(t, tx.KV().Put(bigKey, nil), inmem.ErrTooLarge)
		require.ErrorIs(t, tx.KV().Put("big", bigVal), inmem.ErrTooLarge)
		return nil
	}))
}

func TestKVClosed(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	r := freshRun(t, db)
	require.NoError(t, r.KV().Put("k", []byte("v")))
	shared := db.Shared(inmem.Namespace{Tenant: "t"})
	require.NoError(t, shared.KV().Put("k", []byte("v")))
	open, err := r.Begin(true)
	require.NoError(t, err)
	require.NoError(t, open.KV().Put("x", []byte("v")))

	require.NoError(t, db.Close())
	require.ErrorIs(t, db.Close(), inmem.ErrClosed)
	require.ErrorIs(t, db.Close(), inmem.ErrClosed)

	kv := r.KV()
	require.ErrorIs(t, kv.Put("k", []byte("v")), inmem.ErrClosed)
	require.ErrorIs(t, kv.PutTTL("k", []byte("v"), time.Second), inmem.ErrClosed)
	require.ErrorIs(t, kv.Delete("k"), inmem.ErrClosed)
	_, err = kv.Get("k")
	require.ErrorIs(t, err, inmem.ErrClosed)
	_, err = kv.List("")
	require.ErrorIs(t, err, inmem.ErrClosed)
	require.ErrorIs(t, kv.Scan("", func(string, []byte) bool { return true }), inmem.ErrClosed)
	_, err = shared.KV().Get("k")
	require.ErrorIs(t, err, inmem.ErrClosed)
	_, err = db.Shared(inmem.Namespace{}).KV().Get("k")
	require.ErrorIs(t, err, inmem.ErrClosed)

	_, err = r.Begin(true)
	require.ErrorIs(t, err, inmem.ErrClosed)
	_, err = r.Begin(false)
	require.ErrorIs(t, err, inmem.ErrClosed)
	require.ErrorIs(t, r.Update(func(*inmem.Tx) error { return nil }), inmem.ErrClosed)
	require.ErrorIs(t, r.View(func(*inmem.Tx) error { return nil }), inmem.ErrClosed)
	_, err = db.BeginRun()
	require.ErrorIs(t, err, inmem.ErrClosed)
	_, err = db.Run(r.ID())
	require.ErrorIs(t, err, inmem.ErrClosed)
	_, err = r.Info()
	require.ErrorIs(t, err, inmem.ErrClosed)
	require.ErrorIs(t, r.End(inmem.Completed, ""), inmem.ErrClosed)
	require.ErrorIs(t, db.Checkpoint(), inmem.ErrClosed)

	// A transaction begun before Close cannot commit after it.
	require.ErrorIs(t, open.KV().Put("y", []byte("v")), inmem.ErrClosed)
	_, err = open.KV().Get("x")
	require.ErrorIs(t, err, inmem.ErrClosed)
	require.ErrorIs(t, open.Commit(), inmem.ErrClosed)
}

func TestOpenDirAndOptions(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	r := freshRun(t, db)
	require.NoError(t, r.KV().Put("k", []byte("v")))
	v, err := r.KV().Get("k")
	require.NoError(t, err)
	require.Equal(t, "v", string(v))
	require.NoError(t, db.Checkpoint())
	require.NoError(t, db.Close())
	require.ErrorIs(t, db.Close(), inmem.ErrClosed)

	// A directory that does not exist yet is created.
	db, err = inmem.Open(dir+"/sub/deeper", inmem.WithDurability(inmem.Strict()))
	require.NoError(t, err)
	require.NoError(t, db.Close())

	good := []inmem.Option{
		inmem.WithDurability(inmem.Strict()),
		inmem.WithDurability(inmem.Batched(100*time.Millisecond, 1000)),
		inmem.WithDurability(inmem.Async(time.Second)),
		inmem.WithCheckpointEvery(1 << 20),
		inmem.WithClock(time.Now),
	}
	for i, o := range good {
		db, err := inmem.OpenInMemory(o)
		require.NoError(t, err, "option %d", i)
		require.NoError(t, db.Close())
	}

	bad := map[string]inmem.Option{
		"checkpoint 0":   inmem.WithCheckpointEvery(0),
		"checkpoint -1":  inmem.WithCheckpointEvery(-1),
		"batched 0 0":    inmem.WithDurability(inmem.Batched(0, 0)),
		"batched 0 n":    inmem.WithDurability(inmem.Batched(0, 10)),
		"batched d 0":    inmem.WithDurability(inmem.Batched(time.Second, 0)),
		"async 0":        inmem.WithDurability(inmem.Async(0)),
		"zero durabilty": inmem.WithDurability(inmem.Durability{}),
		"nil clock":      inmem.WithClock(nil),
		"nil logger":     inmem.WithLogger(nil),
	}
	for name, o := range bad {
		db, err := inmem.OpenInMemory(o)
		require.ErrorIs(t, err, inmem.ErrInvalidArgument, name)
		require.Nil(t, db, name)
		db, err = inmem.Open(t.TempDir(), o)
		require.ErrorIs(t, err, inmem.ErrInvalidArgument, name)
		require.Nil(t, db, name)
	}
}

// ---- runs ----

func TestRunLifecycle(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db, inmem.Name("life"))
	kv := r.KV()
	require.NoError(t, kv.Put("k", []byte("v")))

	info, err := r.Info()
	require.NoError(t, err)
	require.Equal(t, inmem.Active, info.Status)
	require.Equal(t, "life", info.Name)
	require.Equal(t, r.ID(), info.ID)
	require.True(t, info.EndedAt.IsZero())

	require.ErrorIs(t, r.End(inmem.Active, ""), inmem.ErrInvalidArgument)
	require.ErrorIs(t, r.End(inmem.Archived, ""), inmem.ErrInvalidArgument)

	require.NoError(t, r.End(inmem.Failed, "boom"))
	info, err = r.Info()
	require.NoError(t, err)
	require.Equal(t, inmem.Failed, info.Status)
	require.Equal(t, "boom", info.Error)
	require.False(t, info.EndedAt.IsZero())

	require.ErrorIs(t, kv.Put("k2", []byte("v")), inmem.ErrRunEnded)
	require.ErrorIs(t, kv.PutTTL("k2", []byte("v"), time.Second), inmem.ErrRunEnded)
	require.ErrorIs(t, kv.Delete("k"), inmem.ErrRunEnded)
	require.ErrorIs(t, r.Update(func(tx *inmem.Tx) error { return tx.KV().Put("k2", nil) }), inmem.ErrRunEnded)
	_, err = r.Begin(true)
	require.ErrorIs(t, err, inmem.ErrRunEnded)

	// Reads still work; nothing was written.
	v, err := kv.Get("k")
	require.NoError(t, err)
	require.Equal(t, "v", string(v))
	_, err = kv.Get("k2")
	require.ErrorIs(t, err, inmem.ErrNotFound)
	require.NoError(t, r.View(func(tx *inmem.Tx) error {
		es, err := tx.KV().List("")
		require.Equal(t, []string{"k"}, entryKeys(es))
		return err
	}))

	// Ending again is an error and changes nothing.
	err = r.End(inmem.Completed, "again")
	require.Error(t, err)
	require.True(t, errors.Is(err, inmem.ErrRunEnded) || errors.Is(err, inmem.ErrInvalidTransition), "got %v", err)
	info, err = r.Info()
	require.NoError(t, err)
	require.Equal(t, inmem.Failed, info.Status)
	require.Equal(t, "boom", info.Error)

	// A second handle sees the same ended run.
	r2, err := db.Run(r.ID())
	require.NoError(t, err)
	require.ErrorIs(t, r2.KV().Put("k3", nil), inmem.ErrRunEnded)

	// A transaction begun before End cannot commit after it.
	r3 := freshRun(t, db)
	tx, err := r3.Begin(true)
	require.NoError(t, err)
	require.NoError(t, tx.KV().Put("late", []byte("v")))
	require.NoError(t, r3.End(inmem.Completed, ""))
	require.ErrorIs(t, tx.Commit(), inmem.ErrRunEnded)
	_, err = r3.KV().Get("late")
	require.ErrorIs(t, err, inmem.ErrNotFound)

	// The shared scope never ends.
	sh := db.Shared(inmem.Namespace{Tenant: "x"})
	require.ErrorIs(t, sh.End(inmem.Completed, ""), inmem.ErrInvalidArgument)
	require.NoError(t, sh.KV().Put("still", []byte("writable")))
	require.True(t, sh.ID().IsZero())
	si, err := sh.Info()
	require.NoError(t, err)
	require.Equal(t, inmem.Active, si.Status)
}

func TestRunStepsCountCommittedWrites(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	steps := func() int {
		t.Helper()
		info, err := r.Info()
		require.NoError(t, err)
		return info.Steps
	}
	require.Equal(t, 0, steps())
	kv := r.KV()
	require.NoError(t, kv.Put("a", []byte("1")))
	require.NoError(t, kv.Put("b", []byte("1")))
	require.NoError(t, kv.Delete("a"))
	require.Equal(t, 3, steps())

	// A multi-write transaction is one step.
	require.NoError(t, r.Update(func(tx *inmem.Tx) error {
		for i := range 5 {
			if err := tx.KV().Put(fmt.Sprint("m", i), []byte("v")); err != nil {
				return err
			}
		}
		return nil
	}))
	require.Equal(t, 4, steps())

	// Reads, read-only transactions, write-less updates, failed and
	// discarded transactions are not steps.
	_, _ = kv.Get("b")
	_, _ = kv.List("")
	require.NoError(t, r.View(func(tx *inmem.Tx) error { _, err := tx.KV().Get("b"); return err }))
	require.NoError(t, r.Update(func(tx *inmem.Tx) error { _, err := tx.KV().Get("b"); return err }))
	require.Error(t, r.Update(func(tx *inmem.Tx) error {
		_ = tx.KV().Put("no", nil)
		return errors.New("abort")
	}))
	tx, err := r.Begin(true)
	require.NoError(t, err)
	require.NoError(t, tx.KV().Put("discarded", nil))
	tx.Discard()
	require.Equal(t, 4, steps())

	// A conflicting commit is not a step; the write that beat it is.
	tx, err = r.Begin(true)
	require.NoError(t, err)
	_, err = tx.KV().Get("b")
	require.NoError(t, err)
	require.NoError(t, kv.Put("b", []byte("2")))
	require.NoError(t, tx.KV().Put("c", nil))
	require.ErrorIs(t, tx.Commit(), inmem.ErrConflict)
	require.Equal(t, 5, steps())

	// Another run's writes and shared-scope writes don't count.
	require.NoError(t, freshRun(t, db).KV().Put("a", nil))
	require.NoError(t, db.Shared(r.Namespace()).KV().Put("a", nil))
	require.Equal(t, 5, steps())

	// Lifecycle changes are not steps.
	require.NoError(t, r.End(inmem.Completed, ""))
	require.Equal(t, 5, steps())
}

func TestRunLookupAndParent(t *testing.T) {
	db := memDB(t)
	var unknown inmem.RunID
	unknown[0], unknown[6] = 1, 0x70
	_, err := db.Run(unknown)
	require.ErrorIs(t, err, inmem.ErrRunNotFound)
	_, err = db.Run(inmem.RunID{})
	require.ErrorIs(t, err, inmem.ErrRunNotFound)
	_, err = db.BeginRun(inmem.Parent(unknown))
	require.ErrorIs(t, err, inmem.ErrRunNotFound)

	ns := inmem.Namespace{Tenant: "acme", App: "support", Agent: "triage"}
	parent := freshRun(t, db, inmem.InNamespace(ns), inmem.Tags("p"), inmem.Meta(map[string]string{"model": "x"}))
	require.Equal(t, ns, parent.Namespace())

	child := freshRun(t, db, inmem.Parent(parent.ID()), inmem.Name("child"))
	require.Equal(t, ns, child.Namespace())
	info, err := child.Info()
	require.NoError(t, err)
	require.Equal(t, ns, info.Namespace)
	require.Equal(t, parent.ID(), info.Parent)
	require.Equal(t, "child", info.Name)

	// Grandchild inherits too; an explicit namespace wins over the parent's.
	grand := freshRun(t, db, inmem.Parent(child.ID()))
	require.Equal(t, ns, grand.Namespace())
	other := inmem.Namespace{Tenant: "other"}
	moved := freshRun(t, db, inmem.Parent(parent.ID()), inmem.InNamespace(other))
	require.Equal(t, other, moved.Namespace())
	info, err = moved.Info()
	require.NoError(t, err)
	require.Equal(t, parent.ID(), info.Parent)

	// Ended parents can still have children.
	require.NoError(t, parent.End(inmem.Completed, ""))
	late := freshRun(t, db, inmem.Parent(parent.ID()))
	require.Equal(t, ns, late.Namespace())

	// Handles from db.Run refer to the same run.
	h, err := db.Run(child.ID())
	require.NoError(t, err)
	require.NoError(t, child.KV().Put("k", []byte("v")))
	v, err := h.KV().Get("k")
	require.NoError(t, err)
	require.Equal(t, "v", string(v))
	require.Equal(t, ns, h.Namespace())

	info, err = parent.Info()
	require.NoError(t, err)
	require.Equal(t, []string{"p"}, info.Tags)
	require.Equal(t, map[string]string{"model": "x"}, info.Meta)
	require.ErrorIs(t, freshErr(db, inmem.Name(strings.Repeat("n", inmem.MaxNameSize+1))), inmem.ErrTooLarge)
	require.ErrorIs(t, freshErr(db, inmem.InNamespace(inmem.Namespace{App: strings.Repeat("n", inmem.MaxNameSize+1)})), inmem.ErrTooLarge)
}

func TestRunIDFormat(t *testing.T) {
	db := memDB(t)
	var prev inmem.RunID
	for i := range 1000 {
		r := freshRun(t, db)
		id := r.ID()
		require.False(t, id.IsZero())
		require.Equal(t, byte(7), id[6]>>4, "version nibble")
		require.Equal(t, byte(0x80), id[8]&0xc0, "variant bits")
		if i > 0 {
			require.Equal(t, 1, bytes.Compare(id[:], prev[:]), "IDs strictly increasing: %s then %s", prev, id)
			require.Greater(t, id.String(), prev.String())
		}
		s := id.String()
		require.Len(t, s, 36)
		p, err := inmem.ParseRunID(s)
		require.NoError(t, err)
		require.Equal(t, id, p)
		up, err := inmem.ParseRunID(strings.ToUpper(s))
		require.NoError(t, err)
		require.Equal(t, id, up)
		prev = id
	}

	// Within one millisecond (a frozen clock) IDs must still increase, even
	// past the 12-bit counter.
	frozen := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	db2 := memDB(t, inmem.WithClock(func() time.Time { return frozen }))
	prev = inmem.RunID{}
	for i := range 4200 { // the counter starts below 1024 and wraps at 4096
		id := freshRun(t, db2).ID()
		require.Equal(t, byte(7), id[6]>>4)
		if i > 0 {
			require.Equal(t, 1, bytes.Compare(id[:], prev[:]), "IDs strictly increasing at i=%d: %s then %s", i, prev, id)
		}
		prev = id
	}

	bad := []string{
		"",
		"not-a-uuid",
		"0190a5c2-7b3e-7c4d-8e9f-0a1b2c3d4e5",    // short
		"0190a5c2-7b3e-7c4d-8e9f-0a1b2c3d4e5f0",  // long
		"0190a5c27b3e7c4d8e9f0a1b2c3d4e5f0000",   // no dashes, right length
		"0190a5c2-7b3e-7c4d-8e9f-0a1b2c3d4e5g",   // not hex
		"0190a5c2_7b3e-7c4d-8e9f-0a1b2c3d4e5f",   // wrong separator
		"{0190a5c2-7b3e-7c4d-8e9f-0a1b2c3d4e5f}", // braces
	}
	for _, s := range bad {
		_, err := inmem.ParseRunID(s)
		require.ErrorIs(t, err, inmem.ErrInvalidArgument, "%q", s)
	}
	id, err := inmem.ParseRunID("0190a5c2-7b3e-7c4d-8e9f-0a1b2c3d4e5f")
	require.NoError(t, err)
	require.Equal(t, "0190a5c2-7b3e-7c4d-8e9f-0a1b2c3d4e5f", id.String())
}

// ---- concurrency ----

// TestKVConcurrentOneOps races one-operation writers and readers on disjoint
// and overlapping keys.
func TestKVConcurrentOneOps(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	kv := r.KV()
	const writers, perWriter = 8, 1000
	var wg sync.WaitGroup
	errs := make(chan error, writers*2)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				own := fmt.Sprintf("own/%d/%d", w, i)
				var err error
				if i%3 == 0 {
					err = r.Update(func(tx *inmem.Tx) error { return tx.KV().Put(own, []byte(own)) })
				} else {
					err = kv.Put(own, []byte(own))
				}
				if err != nil {
					errs <- err
					return
				}
				// An acknowledged write is visible to the next read at once:
				// to a transaction's snapshot as to a Get.
				if i%2 == 1 {
					err := r.Update(func(tx *inmem.Tx) error {
						v, err := tx.KV().Get(own)
						if err != nil || string(v) != own {
							return fmt.Errorf("transaction reads own write %s: %q %v", own, v, err)
						}
						return nil
					})
					if err != nil {
						errs <- err
						return
					}
				}
				v, err := kv.Get(own)
				if err != nil || string(v) != own {
					errs <- fmt.Errorf("read own write %s: %q %v", own, v, err)
					return
				}
				// Overlapping keys: value is writer/seq, seq increasing per writer.
				shared := fmt.Sprintf("shared/%d", i%5)
				if err := kv.Put(shared, []byte(fmt.Sprintf("%d/%d", w, i))); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	// Readers: per writer, the sequence seen on a shared key never goes back.
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := map[string]int{}
			for n := 0; n < perWriter*2; n++ {
				key := fmt.Sprintf("shared/%d", n%5)
				v, err := kv.Get(key)
				if errors.Is(err, inmem.ErrNotFound) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				var w, i int
				if _, err := fmt.Sscanf(string(v), "%d/%d", &w, &i); err != nil || i%5 != n%5 {
					errs <- fmt.Errorf("bad value %q for %s", v, key)
					return
				}
				id := fmt.Sprint(key, "@", w)
				if prev, ok := seen[id]; ok && i < prev {
					errs <- fmt.Errorf("%s went back from %d to %d", id, prev, i)
					return
				}
				seen[id] = i
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for w := range writers {
		es, err := kv.List(fmt.Sprintf("own/%d/", w))
		require.NoError(t, err)
		require.Len(t, es, perWriter)
	}
	es, err := kv.List("shared/")
	require.NoError(t, err)
	require.Len(t, es, 5)
	info, err := r.Info()
	require.NoError(t, err)
	require.Equal(t, writers*perWriter*2, info.Steps)
}

// TestEndRacesWriters: every write that returned nil is durable in the run,
// every write refused with ErrRunEnded left nothing, and no write started
// after End returned succeeds.
func TestEndRacesWriters(t *testing.T) {
	for round := range 5 {
		db := memDB(t)
		r := freshRun(t, db)
		const writers = 6
		var ended atomic.Bool
		var wg sync.WaitGroup
		type result struct {
			key      string
			err      error
			afterEnd bool // End had returned before this write began
		}
		results := make([][]result, writers)
		start := make(chan struct{})
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := 0; ; i++ {
					key := fmt.Sprintf("w%d/%06d", w, i)
					after := ended.Load()
					var err error
					if w%3 == 2 {
						err = r.Update(func(tx *inmem.Tx) error {
							if _, err := tx.KV().Get(key); !errors.Is(err, inmem.ErrNotFound) {
								return fmt.Errorf("unexpected read: %v", err)
							}
							return tx.KV().Put(key, []byte("v"))
						})
					} else {
						err = r.KV().Put(key, []byte("v"))
					}
					results[w] = append(results[w], result{key, err, after})
					if err != nil || i > 100000 {
						return
					}
				}
			}()
		}
		close(start)
		time.Sleep(time.Duration(1+round) * time.Millisecond)
		require.NoError(t, r.End(inmem.Cancelled, "stop"))
		ended.Store(true)
		wg.Wait()

		ok := 0
		for w := range writers {
			rs := results[w]
			require.NotEmpty(t, rs)
			last := rs[len(rs)-1]
			require.ErrorIs(t, last.err, inmem.ErrRunEnded, "writer %d must stop on ErrRunEnded", w)
			for _, res := range rs {
				v, err := r.KV().Get(res.key)
				if res.err == nil {
					require.False(t, res.afterEnd, "write %s started after End returned yet succeeded", res.key)
					require.NoError(t, err, "acknowledged write %s missing", res.key)
					require.Equal(t, "v", string(v))
					ok++
				} else {
					require.ErrorIs(t, res.err, inmem.ErrRunEnded)
					require.ErrorIs(t, err, inmem.ErrNotFound, "refused write %s visible", res.key)
				}
			}
		}
		es, err := r.KV().List("")
		require.NoError(t, err)
		require.Len(t, es, ok, "no unacknowledged write is in the run")
		info, err := r.Info()
		require.NoError(t, err)
		require.Equal(t, ok, info.Steps)
		require.Equal(t, inmem.Cancelled, info.Status)
	}
}

// TestKVListValuesAreIndependent: listed keys and values share chunks of
// memory, yet each value is the caller's: changing or appending to one
// leaves the others (and the stored values) as they were.
func TestKVListValuesAreIndependent(t *testing.T) {
	db := memDB(t)
	kv := freshRun(t, db).KV()
	for i := 0; i < 300; i++ {
		require.NoError(t, kv.Put(fmt.Sprintf("k%03d", i), []byte(fmt.Sprintf("v%03d", i))))
	}
	require.NoError(t, kv.Put("k999", make([]byte, 5000))) // over the chunk's share
	es, err := kv.List("k")
	require.NoError(t, err)
	require.Len(t, es, 301)
	for i := range es[:300] {
		es[i].Value[0] = 'X'
		es[i].Value = append(es[i].Value, "appended"...)
	}
	for i, e := range es[:300] {
		require.Equal(t, fmt.Sprintf("k%03d", i), e.Key)
		require.Equal(t, fmt.Sprintf("X%03dappended", i), string(e.Value))
	}
	again, err := kv.List("k")
	require.NoError(t, err)
	for i, e := range again[:300] {
		require.Equal(t, fmt.Sprintf("v%03d", i), string(e.Value))
	}
	require.Len(t, again[300].Value, 5000)
}

// One-key Puts locate their place from where the run's last write went:
// appends, descending keys, jumps and overwrites from two goroutines at
// once must all land in order, each key once, with its last value.
func TestKVPutOrdersFromFingers(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	kv := run.KV()
	const n = 3000
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for i := range n {
				var k int
				switch i % 3 {
				case 0:
					k = i // ascending
				case 1:
					k = n - i // descending
				default:
					k = r.IntN(n) // anywhere, often an overwrite
				}
				if err := kv.Put(fmt.Sprintf("k%06d", k), []byte(fmt.Sprint(k))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := kv.List("k")
	require.NoError(t, err)
	for i := 1; i < len(got); i++ {
		require.Less(t, got[i-1].Key, got[i].Key)
	}
	for _, e := range got {
		v, err := kv.Get(e.Key)
		require.NoError(t, err)
		require.Equal(t, e.Value, v)
		k, err := strconv.Atoi(string(v))
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("k%06d", k), e.Key)
	}
	require.Greater(t, len(got), n/2)
}
