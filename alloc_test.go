//go:build !race

// The race detector's instrumentation allocates, so these counts only hold
// without -race; the file is simply not compiled under it.

package inmem_test

import (
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

func TestAllocsOneOpGet(t *testing.T) {
	db := memDB(t)
	kv := freshRun(t, db).KV()
	require.NoError(t, kv.Put("key", []byte("value")))
	var sink []byte
	allocs := testing.AllocsPerRun(1000, func() {
		v, err := kv.Get("key")
		if err != nil {
			panic(err)
		}
		sink = v
	})
	require.Equal(t, "value", string(sink))
	require.Equal(t, 1.0, allocs, "one-op Get allocates only the returned copy")
}

func TestAllocsOneOpPut(t *testing.T) {
	db := memDB(t)
	kv := freshRun(t, db).KV()
	val := []byte("value")
	require.NoError(t, kv.Put("key", val)) // warm up
	allocs := testing.AllocsPerRun(1000, func() {
		if err := kv.Put("key", val); err != nil {
			panic(err)
		}
	})
	require.Equal(t, 0.0, allocs, "one-op Put allocates nothing on the Go heap")
	v, err := kv.Get("key")
	require.NoError(t, err)
	require.Equal(t, "value", string(v))
}

func TestAllocsGetInView(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	require.NoError(t, r.KV().Put("key", []byte("value")))
	require.NoError(t, r.View(func(tx *inmem.Tx) error {
		kv := tx.KV()
		var sink []byte
		allocs := testing.AllocsPerRun(1000, func() {
			v, err := kv.Get("key")
			if err != nil {
				panic(err)
			}
			sink = v
		})
		require.Equal(t, "value", string(sink))
		require.Equal(t, 1.0, allocs, "Get inside a View allocates only the returned copy")
		return nil
	}))
}

// An agent step (event + KV put + CAS + span in one Update) allocates its
// Tx, the oracle's write list and what the primitives hand back; its keys
// and values live in pooled transaction memory (43 allocations per step
// before that).
func TestAllocsAgentStep(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	cell, err := r.State().Init("step", []byte{0})
	require.NoError(t, err)
	root, err := r.Traces().Record(inmem.Span{Kind: inmem.Custom, Name: "agent"})
	require.NoError(t, err)
	payload := make([]byte, 200)
	i := 0
	step := func() {
		i++
		err := r.Update(func(tx *inmem.Tx) error {
			if _, err := tx.Events().Append("step", payload); err != nil {
				return err
			}
			if err := tx.KV().Put("memory", payload[:64]); err != nil {
				return err
			}
			next, err := tx.State().CAS("step", cell.Version, []byte{byte(i)})
			if err != nil {
				return err
			}
			cell = next
			_, err = tx.Traces().Record(inmem.Span{Kind: inmem.LLMCall, Name: "chat", Parent: root,
				Attrs: map[string]string{"gen_ai.request.model": "m"}})
			return err
		})
		if err != nil {
			panic(err)
		}
	}
	step() // warm up the pool
	allocs := testing.AllocsPerRun(1000, step)
	t.Logf("%.1f allocations per agent step", allocs)
	require.LessOrEqual(t, allocs, 8.0, "allocations per agent step")
	n, err := r.Events().Len()
	require.NoError(t, err)
	require.Equal(t, uint64(1002), n)
}
