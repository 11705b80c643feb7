package main

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/inmem-db/inmem"
)

// A Case is one workload of the suite. Setup builds its data, untimed,
// and returns the operation the rounds time, called with 0, 1, 2, ...
// across all rounds, and a cleanup. Params names what sizes the case ran
// with, so a baseline is only compared with a run of the same shape.
type Case struct {
	Name  string
	Doc   string
	Ops   int // ops per round at scale 1
	Setup func(env *Env) (op func(i int) error, cleanup func() error, err error)
}

// Env is what a case's Setup gets: the run's sizes and a directory for
// the durable cases.
type Env struct {
	Scale   float64 // multiplies every case's ops per round and data size
	Vectors int     // base vectors of the vector-search case
	Rank    int     // rank of the vector-search data (16: the shared annbench set)
	Dir     string  // a fresh directory, removed after the run
	Rounds  int
	Params  map[string]string // case name -> sizes, filled by Setup
	Data    map[string]string // case name -> its data set, where that decides its numbers
	Extra   map[string]map[string]float64
	mu      sync.Mutex
}

func (e *Env) scaled(n int) int { return max(int(float64(n)*e.Scale), 10) }

func (e *Env) setParams(c, p string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.Params[c] = p
}

func (e *Env) setData(c, d string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.Data[c] = d
}

func (e *Env) setExtra(c, metric string, v float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.Extra[c] == nil {
		e.Extra[c] = map[string]float64{}
	}
	e.Extra[c][metric] = v
}

// refCase is the reference workload, measured next to every case in every
// round: the gate divides each case's numbers by it, so a machine that is
// slower (another process, a slower CPU, thermal limits) moves both alike
// and the ratio stays put. It is shaped like a point read: a binary search
// of a sorted array of 1M uint64 (20 dependent, mostly cache-missing loads)
// and a 64-byte copy into a fresh allocation. It is pointer-free, so it
// adds nothing for the GC to scan.
var refCase = Case{
	Name: "ref",
	Doc:  "reference: binary search in 1M sorted uint64 + 64-byte copy",
	Ops:  400_000,
	Setup: func(env *Env) (func(int) error, func() error, error) {
		// 1M at scale 1; a power of two, so a probe index is a mask.
		n := 1 << 10
		for n < env.scaled(1<<20) {
			n <<= 1
		}
		sorted := make([]uint64, n)
		r := rand.New(rand.NewPCG(1, 2))
		var x uint64
		for i := range sorted {
			x += 1 + r.Uint64N(1000)
			sorted[i] = x
		}
		probes := make([]uint64, n)
		for i := range probes {
			probes[i] = sorted[r.IntN(n)]
		}
		val := make([]byte, 64)
		env.setParams("ref", "n="+strconv.Itoa(n))
		return func(i int) error {
			want := probes[i&(n-1)]
			lo, hi := 0, n
			for lo < hi {
				m := int(uint(lo+hi) >> 1)
				if sorted[m] < want {
					lo = m + 1
				} else {
					hi = m
				}
			}
			if sorted[lo] != want {
				return fmt.Errorf("ref: probe %d not found", want)
			}
			// Kept past the op, so the copy is on the heap as a read's is.
			if refLast != nil && refLast[0] != val[0] {
				return fmt.Errorf("ref: copy damaged")
			}
			refLast = make([]byte, len(val))
			copy(refLast, val)
			return nil
		}, nil, nil
	},
}

// refLast is the reference's last copy.
var refLast []byte

// The library cases: the targets in targets.json name them.
var libCases = []Case{getCase, putCase, putRandomCase, mixRandomCase, batchedPutCase, agentStepCase, coldReadCase, vectorSearchCase}

const (
	keyLen = 19 // "key%016d"
	valLen = 64
)

// keyBlob holds keys "key%016d" for [0, n) back to back: one pointer-free
// allocation instead of n strings for the GC to scan.
type keyBlob []byte

func newKeyBlob(n int) keyBlob {
	b := make(keyBlob, n*keyLen)
	for i := 0; i < n; i++ {
		copy(b[i*keyLen:], fmt.Sprintf("key%016d", i))
	}
	return b
}

// key returns key i as a string aliasing the blob, which is never written
// again (the database copies what it is handed).
func (b keyBlob) key(i int) string { return unsafe.String(&b[i*keyLen], keyLen) }

// probeKey writes key i ("key%016d", as newKeyBlob has it) into buf and
// returns it aliasing buf. A read builds its key rather than loading it
// from the 19 MB blob: a random key there is a cache miss of the
// harness's own (about 300 ns here, as long as the read's own misses),
// where a caller usually holds a key it has just built in cache.
func probeKey(buf *[keyLen]byte, i uint32) string {
	buf[0], buf[1], buf[2] = 'k', 'e', 'y'
	for j := keyLen - 1; j >= 3; j-- {
		buf[j] = byte('0' + i%10)
		i /= 10
	}
	return unsafe.String(&buf[0], keyLen)
}

func value(seed byte) []byte {
	v := make([]byte, valLen)
	for i := range v {
		v[i] = 'a' + (seed+byte(i)*7)%26
	}
	return v
}

var getCase = Case{
	Name: "get",
	Doc:  "OpenInMemory, run.KV().Get of a random one of 1M keys (64-byte values)",
	Ops:  300_000,
	Setup: func(env *Env) (func(int) error, func() error, error) {
		n := env.scaled(1 << 20)
		keys := newKeyBlob(n)
		db, run, err := loadedRun(n, keys.key)
		if err != nil {
			return nil, nil, err
		}
		r := rand.New(rand.NewPCG(3, 4))
		probes := make([]uint32, 1<<20)
		for i := range probes {
			probes[i] = uint32(r.IntN(n))
		}
		kv := run.KV()
		env.setParams("get", "keys="+strconv.Itoa(n))
		var buf [keyLen]byte
		return func(i int) error {
			v, err := kv.Get(probeKey(&buf, probes[i&(len(probes)-1)]))
			if err == nil && len(v) != valLen {
				err = fmt.Errorf("get: %d-byte value", len(v))
			}
			return err
		}, db.Close, nil
	},
}

// putOp returns an op writing fresh key i per call, each its own
// transaction, with keys for every round built up front.
func putOp(env *Env, name string, ops int, db *inmem.DB) (func(int) error, error) {
	run, err := db.BeginRun()
	if err != nil {
		return nil, err
	}
	keys := newKeyBlob(env.scaled(ops) * env.Rounds)
	val := value(2)
	kv := run.KV()
	env.setParams(name, "fresh keys")
	return func(i int) error { return kv.Put(keys.key(i), val) }, nil
}

var putCase = Case{
	Name: "put",
	Doc:  "OpenInMemory, run.KV().Put of a fresh key (64-byte value), its own transaction",
	Ops:  putOps,
	Setup: func(env *Env) (func(int) error, func() error, error) {
		db, err := inmem.OpenInMemory()
		if err != nil {
			return nil, nil, err
		}
		op, err := putOp(env, "put", putOps, db)
		return op, db.Close, err
	},
}

// Ops per round of the write cases; Setup needs them before the Case
// value exists, so they are constants.
const (
	putOps       = 200_000
	agentStepOps = 30_000
)

var batchedPutCase = Case{
	Name: "batched-put",
	Doc:  "Open (default Batched 100ms durability), run.KV().Put of a fresh key, its own transaction",
	Ops:  putOps,
	Setup: func(env *Env) (func(int) error, func() error, error) {
		db, err := openDurable(env, "batched-put")
		if err != nil {
			return nil, nil, err
		}
		op, err := putOp(env, "batched-put", putOps, db)
		return op, db.Close, err
	},
}

func openDurable(env *Env, name string, opts ...inmem.Option) (*inmem.DB, error) {
	dir := env.Dir + "/" + name
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return inmem.Open(dir, opts...)
}

// The agent step: what an agent loop writes after each tool call.
var (
	stepPayload = fill(100, 3)
	stepKVValue = fill(100, 5)
	spanInput   = fill(200, 11)
	spanOutput  = fill(200, 13)
	spanAttrs   = map[string]string{
		"gen_ai.operation.name":      "chat",
		"gen_ai.request.model":       "gpt-4o-mini",
		"gen_ai.usage.input_tokens":  "512",
		"gen_ai.usage.output_tokens": "128",
	}
)

func fill(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + (seed+byte(i)*7)%26
	}
	return b
}

// writeAgentStep writes one agent step in tx: an event, a KV put of key,
// a CAS of the "steps" cell from c to val, and an LLM call span under root
// ending at now. It returns the cell as the CAS left it.
func writeAgentStep(tx *inmem.Tx, key string, c inmem.Cell, root inmem.SpanID, val []byte, now time.Time) (inmem.Cell, error) {
	if _, err := tx.Events().Append("tool_result", stepPayload); err != nil {
		return c, err
	}
	if err := tx.KV().Put(key, stepKVValue); err != nil {
		return c, err
	}
	next, err := tx.State().CAS("steps", c.Version, val)
	if err != nil {
		return c, err
	}
	_, err = tx.Traces().Record(inmem.Span{
		Parent: root, Kind: inmem.LLMCall, Name: "chat gpt-4o-mini",
		Start: now.Add(-800 * time.Millisecond), End: now, Status: inmem.StatusOK,
		Input: spanInput, Output: spanOutput, Attrs: spanAttrs,
	})
	return next, err
}

var agentStepCase = Case{
	Name: "agent-step",
	Doc:  "Open (Batched), one run.Update: event append (100 B) + KV put (100 B) + CAS of a cell + LLMCall span (200 B in/out, 4 GenAI attrs)",
	Ops:  agentStepOps,
	Setup: func(env *Env) (func(int) error, func() error, error) {
		db, err := openDurable(env, "agent-step")
		if err != nil {
			return nil, nil, err
		}
		run, err := db.BeginRun(inmem.Name("perfcheck"))
		if err != nil {
			return nil, nil, err
		}
		c, err := run.State().Init("steps", make([]byte, 8))
		if err != nil {
			return nil, nil, err
		}
		root, err := run.Traces().Record(inmem.Span{Kind: inmem.Custom, Name: "agent"})
		if err != nil {
			return nil, nil, err
		}
		keys := newKeyBlob(env.scaled(agentStepOps) * env.Rounds)
		var val [8]byte
		env.setParams("agent-step", "fresh keys")
		return func(i int) error {
			binary.BigEndian.PutUint64(val[:], uint64(i+1))
			now := time.Now()
			return run.Update(func(tx *inmem.Tx) error {
				next, err := writeAgentStep(tx, keys.key(i), c, root, val[:], now)
				if err == nil {
					c = next
				}
				return err
			})
		}, db.Close, nil
	},
}
