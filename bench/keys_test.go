package bench

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
)

// Shared workload for the peer comparisons: every implementation gets the
// same keys, versions and probe order, and the same value.
const (
	// NumKeys is the working-set size of the comparisons.
	NumKeys = 1 << 20
	// KeyLen is the user-key length, without any version suffix.
	KeyLen = 16
	// ValueLen is the value length every implementation stores.
	ValueLen = 16
)

// Workload is a fixed, seeded set of distinct keys with versions.
type Workload struct {
	Keys     [][]byte // NumKeys distinct random KeyLen-byte keys
	Versions []uint64 // Versions[i] is the version stored with Keys[i]
	Probes   []uint32 // random indexes into Keys, for lookups
	Value    []byte   // ValueLen bytes
}

var (
	workloadOnce sync.Once
	workload     *Workload
)

// LoadWorkload returns the shared workload, generating it on first use
// (outside any benchmark timer the caller has running: call it before
// b.ResetTimer).
func LoadWorkload() *Workload {
	workloadOnce.Do(func() {
		r := rand.New(rand.NewPCG(0x5eed, 0xbe4c))
		w := &Workload{
			Keys:     make([][]byte, NumKeys),
			Versions: make([]uint64, NumKeys),
			Probes:   make([]uint32, NumKeys),
			Value:    make([]byte, ValueLen),
		}
		buf := make([]byte, NumKeys*KeyLen)
		seen := make(map[[KeyLen]byte]struct{}, NumKeys)
		for i := 0; i < NumKeys; {
			k := buf[i*KeyLen : (i+1)*KeyLen : (i+1)*KeyLen]
			binary.LittleEndian.PutUint64(k, r.Uint64())
			binary.LittleEndian.PutUint64(k[8:], r.Uint64())
			if _, dup := seen[[KeyLen]byte(k)]; dup {
				continue
			}
			seen[[KeyLen]byte(k)] = struct{}{}
			w.Keys[i] = k
			w.Versions[i] = 1 + r.Uint64N(1<<40)
			i++
		}
		for i := range w.Probes {
			w.Probes[i] = uint32(r.IntN(NumKeys))
		}
		for i := range w.Value {
			w.Value[i] = byte(r.Uint32())
		}
		workload = w
	})
	return workload
}
