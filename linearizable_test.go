package inmem_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// A linearizability check of one database, with porcupine: concurrent
// clients put, get and compare-and-set a few keys of a shared scope,
// every operation is recorded with the times it was called and returned,
// and porcupine searches for a sequential order, consistent with those
// times, in which a plain map would have answered the same. The history
// crosses a close and reopen of the database, so what was acknowledged
// before the close is held to after it.

type kvOp struct {
	kind     byte // 'p' put, 'g' get, 'c' compare-and-set
	key      string
	val, old string // put's value; cas's expected and new (val) values
}

type kvRes struct {
	val   string // get: the value read
	found bool   // get: the key held a value
	ok    bool   // cas: it swapped
	err   bool   // the call failed: it changed nothing
}

// kvCell is one key's state in the model: comparable, so porcupine's
// default equality works.
type kvCell struct {
	present bool
	val     string
}

var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(kvOp).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return kvCell{} },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(kvCell), input.(kvOp), output.(kvRes)
		if out.err {
			return true, st // a failed commit wrote nothing
		}
		switch in.kind {
		case 'p':
			return true, kvCell{true, in.val}
		case 'g':
			return out.found == st.present && (!st.present || out.val == st.val), st
		default:
			if st.present && st.val == in.old {
				return out.ok, kvCell{true, in.val}
			}
			return !out.ok, st
		}
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvOp), output.(kvRes)
		switch in.kind {
		case 'p':
			return fmt.Sprintf("put(%s, %s)", in.key, in.val)
		case 'g':
			return fmt.Sprintf("get(%s) -> %q %v", in.key, out.val, out.found)
		}
		return fmt.Sprintf("cas(%s, %s -> %s) -> %v err %v", in.key, in.old, in.val, out.ok, out.err)
	},
}

// kvHistory is every operation the clients completed, with the times of
// its call and return on one monotonic clock.
type kvHistory struct {
	mu    sync.Mutex
	ops   []porcupine.Operation
	start time.Time
}

func (h *kvHistory) now() int64 { return time.Since(h.start).Nanoseconds() }

func (h *kvHistory) record(client int, in kvOp, call int64, out kvRes) {
	ret := h.now()
	h.mu.Lock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	h.mu.Unlock()
}

// kvDo runs in against scope and returns what a client saw.
func kvDo(scope *inmem.Run, in kvOp) (kvRes, error) {
	switch in.kind {
	case 'p':
		if err := scope.KV().Put(in.key, []byte(in.val)); err != nil {
			return kvRes{err: true}, err
		}
		return kvRes{}, nil
	case 'g':
		v, err := scope.KV().Get(in.key)
		if errors.Is(err, inmem.ErrNotFound) {
			return kvRes{}, nil
		}
		if err != nil {
			return kvRes{err: true}, err
		}
		return kvRes{val: string(v), found: true}, nil
	}
	var ok bool
	err := scope.Update(func(tx *inmem.Tx) error {
		ok = false
		v, err := tx.KV().Get(in.key)
		if errors.Is(err, inmem.ErrNotFound) || (err == nil && string(v) != in.old) {
			return nil
		}
		if err != nil {
			return err
		}
		ok = true
		return tx.KV().Put(in.key, []byte(in.val))
	})
	if errors.Is(err, inmem.ErrConflict) {
		return kvRes{err: true}, nil // retried and lost every time: nothing written
	}
	if err != nil {
		return kvRes{err: true}, err
	}
	return kvRes{ok: ok}, nil
}

// runClients has each of clients do n operations on three keys of scope.
// A short random pause before an operation varies which ones overlap.
func runClients(t *testing.T, h *kvHistory, scope *inmem.Run, clients, n int, seed uint64) {
	t.Helper()
	keys := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(c)))
			seen := map[string]string{} // the value this client last read or wrote, per key
			for n := range n {
				if r.IntN(4) == 0 {
					time.Sleep(time.Duration(r.IntN(50)) * time.Microsecond)
				}
				in := kvOp{key: keys[r.IntN(len(keys))]}
				switch x := r.IntN(10); {
				case x < 4:
					in.kind = 'g'
				case x < 7:
					in.kind, in.val = 'p', fmt.Sprintf("%d.%d.%d", seed, c, n)
				default:
					// Read-modify-write: expect what this client saw last.
					in.kind, in.val, in.old = 'c', fmt.Sprintf("%d.%d.%d", seed, c, n), seen[in.key]
				}
				call := h.now()
				out, err := kvDo(scope, in)
				if err != nil {
					errs <- err
					return
				}
				h.record(c, in, call, out)
				switch {
				case in.kind == 'p' || out.ok:
					seen[in.key] = in.val
				case in.kind == 'g' && out.found:
					seen[in.key] = out.val
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// checkLinearizable fails the test unless porcupine finds the history
// linearizable.
func checkLinearizable(t *testing.T, ops []porcupine.Operation) {
	t.Helper()
	res, info := porcupine.CheckOperationsVerbose(kvModel, ops, time.Minute)
	if res != porcupine.Ok {
		path := t.TempDir() + "/history.html"
		_ = porcupine.VisualizePath(kvModel, info, path)
		t.Fatalf("history of %d operations: %v (visualization: %s)", len(ops), res, path)
	}
}

func TestLinearizableKV(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []inmem.Option
	}{
		{"batched", nil},
		{"strict", []inmem.Option{inmem.WithDurability(inmem.Strict())}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			h := &kvHistory{start: time.Now()}
			n := 1500
			if testing.Short() {
				n = 200
			}
			for round := range 2 { // a close and reopen between the rounds
				db, err := inmem.Open(dir, mode.opts...)
				require.NoError(t, err)
				runClients(t, h, db.Shared(inmem.Namespace{App: "lin"}), 6, n, uint64(round+1))
				require.NoError(t, db.Close())
			}
			swapped, failed := 0, 0
			for _, op := range h.ops {
				if out := op.Output.(kvRes); out.ok {
					swapped++
				} else if out.err {
					failed++
				}
			}
			require.Positive(t, swapped, "some compare-and-sets found their value")
			start := time.Now()
			checkLinearizable(t, h.ops)
			t.Logf("%d operations (%d swaps, %d lost to conflicts), checked in %v", len(h.ops), swapped, failed, time.Since(start))
		})
	}
}

// TestLinearizableCheckerCatchesStaleRead: the same check refuses a history
// in which a get returns a value overwritten before the get was called.
func TestLinearizableCheckerCatchesStaleRead(t *testing.T) {
	ops := []porcupine.Operation{
		{ClientId: 0, Input: kvOp{kind: 'p', key: "a", val: "1"}, Call: 0, Output: kvRes{}, Return: 10},
		{ClientId: 0, Input: kvOp{kind: 'p', key: "a", val: "2"}, Call: 20, Output: kvRes{}, Return: 30},
		{ClientId: 1, Input: kvOp{kind: 'g', key: "a"}, Call: 40, Output: kvRes{val: "1", found: true}, Return: 50},
	}
	require.Equal(t, porcupine.Illegal, porcupine.CheckOperationsTimeout(kvModel, ops, time.Second))
	ops[2].Output = kvRes{val: "2", found: true}
	require.Equal(t, porcupine.Ok, porcupine.CheckOperationsTimeout(kvModel, ops, time.Second))
	// A compare-and-set that claims to have swapped a value the key did
	// not hold.
	ops = append(ops, porcupine.Operation{ClientId: 2, Input: kvOp{kind: 'c', key: "a", old: "1", val: "3"}, Call: 60, Output: kvRes{ok: true}, Return: 70})
	require.Equal(t, porcupine.Illegal, porcupine.CheckOperationsTimeout(kvModel, ops, time.Second))
}
