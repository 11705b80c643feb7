package inmem_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// TestReclaimKeepsWhatCanBeRead: a reclaim drops the versions nothing can
// read and keeps every one something can: a registered transaction's
// snapshot, a run's history, a compacted run's latest state, a fork's
// view of its deleted parent, index entries; it drops deleted runs,
// overwritten shared versions and expired keys.
func TestReclaimKeepsWhatCanBeRead(t *testing.T) {
	dir := t.TempDir()
	clock := newTestClock()
	db, err := inmem.Open(dir, inmem.WithClock(clock.now), inmem.WithReclaimAt(0))
	require.NoError(t, err)
	ns := inmem.Namespace{Tenant: "t"}
	shared := db.Shared(ns)
	for round := range 20 {
		for k := range 50 {
			require.NoError(t, shared.KV().Put(fmt.Sprintf("k%02d", k), []byte(strconv.Itoa(round))))
		}
	}
	require.NoError(t, shared.KV().PutTTL("lease", []byte("x"), time.Millisecond))
	// A transaction that started before more overwrites must keep its view.
	old, err := shared.Begin(false)
	require.NoError(t, err)
	for k := range 50 {
		require.NoError(t, shared.KV().Put(fmt.Sprintf("k%02d", k), []byte("new")))
	}

	// A run with history, a compacted run, a deleted run, a fork of a
	// deleted parent.
	rng := rand.New(rand.NewPCG(5, 5))
	hist, err := db.BeginRun(inmem.Name("kept"))
	require.NoError(t, err)
	require.NoError(t, hist.Vectors().CreateCollection(histColl, inmem.VectorConfig{Dim: 4, Metric: inmem.Euclidean}))
	m := newHModel()
	models := []*hmodel{newHModel(), m.clone()}
	for range 25 {
		randomStep(t, rng, hist, m, "h")
		models = append(models, m.clone())
	}
	compacted, err := db.BeginRun(inmem.Name("compacted"))
	require.NoError(t, err)
	for i := range 30 {
		require.NoError(t, compacted.KV().Put("c", []byte(strconv.Itoa(i))))
		_, err := compacted.Events().Append("e", []byte(strconv.Itoa(i)))
		require.NoError(t, err)
	}
	require.NoError(t, db.Runs().Compact(compacted.ID()))
	require.NoError(t, compacted.KV().Put("c", []byte("after")))
	gone, err := db.BeginRun(inmem.Name("gone"))
	require.NoError(t, err)
	for i := range 100 {
		require.NoError(t, gone.KV().Put(fmt.Sprintf("g%03d", i), []byte("x")))
	}
	parent, err := db.BeginRun(inmem.Name("parent"))
	require.NoError(t, err)
	for i := range 10 {
		require.NoError(t, parent.KV().Put("p", []byte(strconv.Itoa(i))))
	}
	fork, err := db.Fork(parent.ID(), 4)
	require.NoError(t, err)
	require.NoError(t, db.Runs().Delete(parent.ID()))
	require.NoError(t, db.Runs().Delete(gone.ID()))

	before := db.Stats()
	st, err := db.Reclaim()
	require.NoError(t, err)
	after := db.Stats()
	require.Greater(t, st.Dropped, int64(0))
	require.Less(t, after.Entries, before.Entries)
	require.Equal(t, after.Entries, st.Kept+st.CaughtUp, "the new generation holds exactly what was kept")

	check := func(db *inmem.DB, withOld bool, phase string) {
		t.Helper()
		if withOld {
			v, err := old.KV().Get("k07")
			require.NoError(t, err, phase)
			require.Equal(t, "19", string(v), "%s: the open transaction still reads its snapshot", phase)
		}
		sh := db.Shared(ns)
		v, err := sh.KV().Get("k07")
		require.NoError(t, err)
		require.Equal(t, "new", string(v), phase)
		_, err = sh.KV().Get("lease")
		require.ErrorIs(t, err, inmem.ErrNotFound, phase)

		h, err := db.Run(hist.ID())
		require.NoError(t, err)
		for step, m := range models {
			view, err := h.AsOf(step)
			require.NoError(t, err)
			requireState(t, view, m, fmt.Sprintf("%s: kept run as of step %d", phase, step))
		}
		rep, err := db.Replay(hist.ID())
		require.NoError(t, err)
		require.True(t, rep.Match, "%s: %+v", phase, rep)

		c, err := db.Run(compacted.ID())
		require.NoError(t, err)
		view, err := c.AsOf(60) // 30 puts and 30 appends, one step each
		require.NoError(t, err)
		v, err = view.KV().Get("c")
		require.NoError(t, err)
		require.Equal(t, "29", string(v), phase)
		n, err := view.Events().Len()
		require.NoError(t, err)
		require.Equal(t, uint64(30), n, phase)
		evs, err := view.Events().ByType("e") // an unindexed secondary index
		require.NoError(t, err)
		require.Len(t, evs, 30, phase)
		chain, err := c.Events().Verify()
		require.NoError(t, err)
		require.True(t, chain.OK, phase)
		rep, err = db.Replay(compacted.ID())
		require.NoError(t, err)
		require.True(t, rep.Match, "%s: compacted: %+v", phase, rep)

		f, err := db.Run(fork.ID())
		require.NoError(t, err)
		v, err = f.KV().Get("p")
		require.NoError(t, err)
		require.Equal(t, "3", string(v), "%s: the fork still reads its deleted parent at step 4", phase)
		_, err = db.Run(gone.ID())
		require.ErrorIs(t, err, inmem.ErrRunNotFound)
	}
	check(db, true, "after reclaim")
	old.Discard()

	// With the transaction gone, its versions go too.
	st2, err := db.Reclaim()
	require.NoError(t, err)
	require.Greater(t, st2.Dropped, int64(0))
	check(db, false, "after a second reclaim")

	// What a reclaim kept is what a checkpoint writes and a reopen reads.
	require.NoError(t, db.Checkpoint())
	require.NoError(t, db.Close())
	db, err = inmem.Open(dir, inmem.WithClock(clock.now))
	require.NoError(t, err)
	defer db.Close()
	check(db, false, "after reopen")
}

// TestReclaimUnderLoad reclaims again and again while writers move money
// between accounts in a shared scope, a run appends to its event log, and
// readers check snapshot sums: no write is lost, no snapshot is torn.
func TestReclaimUnderLoad(t *testing.T) {
	db, err := inmem.OpenInMemory(inmem.WithReclaimAt(0))
	require.NoError(t, err)
	defer db.Close()
	bank := db.Shared(inmem.Namespace{Tenant: "bank"})
	const accounts, initial = 20, 100
	require.NoError(t, bank.Update(func(tx *inmem.Tx) error {
		for i := range accounts {
			if err := tx.KV().Put(fmt.Sprintf("acct%02d", i), []byte(strconv.Itoa(initial))); err != nil {
				return err
			}
		}
		return nil
	}))
	run, err := db.BeginRun()
	require.NoError(t, err)

	var stop atomic.Bool
	var wg sync.WaitGroup
	fail := func(err error) {
		if err != nil {
			t.Error(err)
			stop.Store(true)
		}
	}
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for !stop.Load() {
				a, b := rng.IntN(accounts), rng.IntN(accounts)
				fail(bank.Update(func(tx *inmem.Tx) error {
					ka, kb := fmt.Sprintf("acct%02d", a), fmt.Sprintf("acct%02d", b)
					va, err := tx.KV().Get(ka)
					if err != nil {
						return err
					}
					vb, err := tx.KV().Get(kb)
					if err != nil {
						return err
					}
					x, _ := strconv.Atoi(string(va))
					y, _ := strconv.Atoi(string(vb))
					if a == b || x == 0 {
						return nil
					}
					if err := tx.KV().Put(ka, []byte(strconv.Itoa(x-1))); err != nil {
						return err
					}
					return tx.KV().Put(kb, []byte(strconv.Itoa(y+1)))
				}))
			}
		}()
	}
	var appended atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() && appended.Load() < 3000 {
			_, err := run.Events().Append("tick", []byte("x"))
			fail(err)
			appended.Add(1)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			fail(bank.View(func(tx *inmem.Tx) error {
				sum := 0
				err := tx.KV().Scan("acct", func(_ string, v []byte) bool {
					n, _ := strconv.Atoi(string(v))
					sum += n
					return true
				})
				if err == nil && sum != accounts*initial {
					err = fmt.Errorf("snapshot sums to %d", sum)
				}
				return err
			}))
		}
	}()
	for i := range 8 {
		st, err := db.Reclaim()
		fail(err)
		if i == 7 {
			t.Logf("last reclaim: %+v", st)
		}
		time.Sleep(2 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	n, err := run.Events().Len()
	require.NoError(t, err)
	require.Equal(t, uint64(appended.Load()), n, "every acknowledged append is there")
	chain, err := run.Events().Verify()
	require.NoError(t, err)
	require.True(t, chain.OK)
	rep, err := db.Replay(run.ID())
	require.NoError(t, err)
	require.True(t, rep.Match, "%+v", rep)
	require.Equal(t, uint64(8), db.Stats().Reclaims)
}

// TestAutomaticReclaim: overwrites in a shared scope start a background
// reclaim once the arena passes the threshold; a database holding only
// live runs' history never copies itself for nothing.
func TestAutomaticReclaim(t *testing.T) {
	val := make([]byte, 1024)
	db, err := inmem.OpenInMemory(inmem.WithReclaimAt(1 << 20))
	require.NoError(t, err)
	run, err := db.BeginRun()
	require.NoError(t, err)
	for i := range 3000 {
		require.NoError(t, run.KV().Put(strconv.Itoa(i), val))
	}
	require.NoError(t, db.Close()) // waits for background work
	require.Zero(t, db.Stats().Reclaims, "a live run's history is not garbage")

	db, err = inmem.OpenInMemory(inmem.WithReclaimAt(1 << 20))
	require.NoError(t, err)
	kv := db.Shared(inmem.Namespace{}).KV()
	for i := range 3000 {
		require.NoError(t, kv.Put(strconv.Itoa(i%10), val))
	}
	require.NoError(t, db.Close())
	require.NotZero(t, db.Stats().Reclaims)
	// Twice the trigger plus the writes between two checks (1,024 commits).
	require.Less(t, db.Stats().MemUsed, int64(2<<20+1024*1100))
}
