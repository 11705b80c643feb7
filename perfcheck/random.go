package main

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"unsafe"

	"github.com/inmem-db/inmem"
)

// Random keys: what users write (UUIDs, hashes, chosen names) lands all
// over the key space, where ascending keys ("key0000001", ...) become
// appends at the run's end. These cases keep the engine honest about the
// common case.

// randKeyLen is the size of a random key: 16 bytes, as a UUID's.
const randKeyLen = 16

// randKeyBlob holds n distinct 16-byte keys in random order: a 64-bit mix
// of the index, then the index (distinct whatever the mix does).
type randKeyBlob []byte

func newRandKeyBlob(n int, seed uint64) randKeyBlob {
	b := make(randKeyBlob, n*randKeyLen)
	for i := range n {
		binary.BigEndian.PutUint64(b[i*randKeyLen:], mix64(uint64(i)^seed))
		binary.BigEndian.PutUint64(b[i*randKeyLen+8:], uint64(i))
	}
	return b
}

// mix64 is splitmix64's finalizer: consecutive inputs land far apart.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// key returns key i aliasing the blob, which is never written again.
func (b randKeyBlob) key(i int) string {
	return unsafe.String(&b[i*randKeyLen], randKeyLen)
}

var putRandomCase = Case{
	Name: "put-random",
	Doc:  "OpenInMemory, run.KV().Put of a fresh random 16-byte key (64-byte value), its own transaction, into a run of 1M keys",
	Ops:  putOps,
	Setup: func(env *Env) (func(int) error, func() error, error) {
		// The run holds a million keys first: a Put's descent and
		// neighbours are then a large structure's, as in a live database.
		pre := env.scaled(1 << 20)
		db, run, err := loadedRun(pre, newRandKeyBlob(pre, 1).key)
		if err != nil {
			return nil, nil, err
		}
		keys := newRandKeyBlob(env.scaled(putOps)*env.Rounds, 2)
		val := value(2)
		kv := run.KV()
		env.setParams("put-random", "keys="+strconv.Itoa(pre)+" fresh random")
		return func(i int) error { return kv.Put(keys.key(i), val) }, db.Close, nil
	},
}

// loadedRun opens an in-memory database and a run holding keys 0..n-1 of
// key, 1000 a transaction.
func loadedRun(n int, key func(int) string) (*inmem.DB, *inmem.Run, error) {
	db, err := inmem.OpenInMemory()
	if err != nil {
		return nil, nil, err
	}
	run, err := db.BeginRun()
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	val := value(1)
	for lo := 0; lo < n; lo += 1000 {
		if err := run.Update(func(tx *inmem.Tx) error {
			for i := lo; i < min(lo+1000, n); i++ {
				if err := tx.KV().Put(key(i), val); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			db.Close()
			return nil, nil, err
		}
	}
	return db, run, nil
}

// mixOps is the ops per round of the mixed case.
const mixOps = 300_000

var mixRandomCase = Case{
	Name: "mix-random",
	Doc:  "OpenInMemory, YCSB A's mix: half Gets, half Puts (own transaction) of random existing keys of 1M (16-byte keys, 64-byte values)",
	Ops:  mixOps,
	Setup: func(env *Env) (func(int) error, func() error, error) {
		n := env.scaled(1 << 20)
		keys := newRandKeyBlob(n, 3)
		db, run, err := loadedRun(n, keys.key)
		if err != nil {
			return nil, nil, err
		}
		r := rand.New(rand.NewPCG(5, 6))
		probes := make([]uint32, 1<<20)
		for i := range probes {
			probes[i] = uint32(r.IntN(n))
		}
		kv := run.KV()
		val := value(3)
		env.setParams("mix-random", "keys="+strconv.Itoa(n)+" reads=50%")
		return func(i int) error {
			k := keys.key(int(probes[i&(len(probes)-1)]))
			if i&1 == 0 {
				v, err := kv.Get(k)
				if err == nil && len(v) != valLen {
					err = fmt.Errorf("get: %d-byte value", len(v))
				}
				return err
			}
			return kv.Put(k, val)
		}, db.Close, nil
	},
}
