//go:build !race

// The race detector's instrumentation allocates, so these counts only hold
// without -race; the file is simply not compiled under it.

package inmem_test

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

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

// An agent step as BenchmarkAgentStep (bench/primitives_test.go) makes it,
// the step whose allocations README.md states: in one Update, a 100-byte
// event, a 100-byte value put under a fresh key, a CAS of the step counter
// and an LLM call's span (200-byte input and output, four attributes in a
// map shared by every step). It allocates its Tx, the oracle's write list
// and what the primitives hand back; its keys and values live in pooled
// transaction memory (43 allocations per step before that).
func TestAllocsAgentStep(t *testing.T) {
	const steps = 1000
	db := memDB(t)
	r := freshRun(t, db)
	var val [8]byte
	cell, err := r.State().Init("steps", val[:])
	require.NoError(t, err)
	root, err := r.Traces().Record(inmem.Span{Kind: inmem.Custom, Name: "agent"})
	require.NoError(t, err)
	payload, value, io := make([]byte, 100), make([]byte, 100), make([]byte, 200)
	attrs := map[string]string{
		"gen_ai.operation.name":      "chat",
		"gen_ai.request.model":       "gpt-4o-mini",
		"gen_ai.usage.input_tokens":  "512",
		"gen_ai.usage.output_tokens": "128",
	}
	// Built ahead, as the benchmark's are: a key made in the step would
	// count against it.
	keys := make([]string, steps+2)
	for k := range keys {
		keys[k] = fmt.Sprintf("key%016d", k)
	}
	i := 0
	step := func() {
		binary.BigEndian.PutUint64(val[:], uint64(i+1))
		key := keys[i]
		i++
		now := time.Now()
		err := r.Update(func(tx *inmem.Tx) error {
			if _, err := tx.Events().Append("tool_result", payload); err != nil {
				return err
			}
			if err := tx.KV().Put(key, value); err != nil {
				return err
			}
			next, err := tx.State().CAS("steps", cell.Version, val[:])
			if err != nil {
				return err
			}
			if _, err := tx.Traces().Record(inmem.Span{Parent: root, Kind: inmem.LLMCall, Name: "chat gpt-4o-mini",
				Start: now.Add(-800 * time.Millisecond), End: now, Status: inmem.StatusOK,
				Input: io, Output: io, Attrs: attrs}); err != nil {
				return err
			}
			cell = next
			return nil
		})
		if err != nil {
			panic(err)
		}
	}
	step() // warm up the pool
	allocs := testing.AllocsPerRun(steps, step)
	t.Logf("%.1f allocations per agent step", allocs)
	require.Equal(t, 4.0, allocs, "allocations per agent step (README.md says 4)")
	n, err := r.Events().Len()
	require.NoError(t, err)
	require.Equal(t, uint64(steps+2), n)
	require.Equal(t, uint64(steps+3), cell.Version)
}

// TestAllocsDurablePut: with a WAL, a one-op Put still allocates nothing:
// its record is built in a pooled guard's buffer and copied into the
// log's pooled blocks. (Strict is left out: a commit per fsync is too
// slow to count a thousand of.)
func TestAllocsDurablePut(t *testing.T) {
	for _, d := range []inmem.Durability{inmem.Batched(time.Hour, 1<<30), inmem.Async(time.Hour)} {
		db, err := inmem.Open(t.TempDir(), inmem.WithDurability(d))
		require.NoError(t, err)
		kv := freshRun(t, db).KV()
		val := []byte("value")
		require.NoError(t, kv.Put("key", val)) // warm up
		allocs := testing.AllocsPerRun(2000, func() {
			if err := kv.Put("key", val); err != nil {
				panic(err)
			}
		})
		require.Equal(t, 0.0, allocs, "%+v: a durable one-op Put allocates nothing on the Go heap", d)
		require.NoError(t, db.Close())
	}
}
