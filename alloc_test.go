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
