package hnsw

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Config describes an index. Zero M, EfConstruction and EfSearch take their
// defaults; Dim and Metric are required.
type Config struct {
	// Dim is the length of every vector.
	Dim int
	// Metric is how similarity is measured.
	Metric Metric
	// M is the number of links a node keeps on each upper level; level 0
	// keeps up to 2*M. Default 16.
	M int
	// EfConstruction is the beam width used while linking a new node.
	// Default 200.
	EfConstruction int
	// EfSearch is the default beam width of Search. Default 64.
	EfSearch int
	// Seed seeds the level generator, making builds with the same insert
	// order reproducible.
	Seed uint64
}

const (
	defaultM              = 16
	defaultEfConstruction = 200
	defaultEfSearch       = 64

	// MaxID bounds node ids. Storage is indexed by id, so an id is a
	// memory commitment: Insert(MaxID) would allocate MaxID slots.
	MaxID = 1<<31 - 1

	// maxLevel caps generated levels; with M >= 2 a level above this has
	// probability below 2^-32.
	maxLevel = 32

	// nStripes is the number of link-list locks. Node id selects the
	// stripe, so two nodes share a lock only when their ids collide
	// modulo nStripes, and a goroutine never holds two at once.
	nStripes = 4096
)

// node states, stored atomically per slot.
const (
	stateEmpty   uint32 = iota // never inserted
	stateWriting               // Insert owns the slot and is filling it
	stateReady                 // vector, level and versions are published
	stateDying                 // a tombstone Vacuum is removing: still routes, never linked to
)

// Index is an HNSW graph over float32 vectors addressed by caller-owned
// uint32 ids. See the package documentation for the concurrency contract.
type Index struct {
	dim     int
	metric  Metric
	m, m0   int // link capacity on upper levels and on level 0
	efCons  int
	efSrch  int
	seed    uint64
	levelML float64 // 1/ln(M)

	// mu guards the slice headers below against growth: every operation
	// holds it for reading while it touches storage, and only growing the
	// arrays takes it for writing. Contents of the arrays are guarded per
	// node (stripes, atomics, or write-once-before-publish).
	mu       sync.RWMutex
	capacity int
	vecs     []float32    // capacity*dim; write-once before stateReady
	links0   []uint32     // capacity*(1+m0): [count, slot0..slot(m0-1)] per node, under stripe
	upper    [][][]uint32 // upper[id][l-1]: links on level l, under stripe
	insVer   []uint64     // write-once before stateReady
	meta     []nodeMeta   // what a search checks of every node it reaches

	stripes [nStripes]sync.Mutex

	// entry is the graph's entry point packed as level<<32 | id, with
	// bit 63 set once the index is non-empty. Read atomically by every
	// search; changed only by an insert holding topMu.
	entry atomic.Uint64
	topMu sync.Mutex

	rngMu sync.Mutex
	rng   *rand.Rand

	// vacMu runs one Vacuum at a time and keeps MarshalBinaryAt from
	// seeing a graph halfway through one.
	vacMu sync.Mutex
	// vacuuming is set from before a Vacuum marks nodes dying until it
	// has freed them.
	vacuuming atomic.Bool
	// afterSlice, when set (by tests), runs between two slices of a
	// Vacuum's repairs, with no lock held.
	afterSlice func()

	live    atomic.Int64 // inserted and not deleted
	deleted atomic.Int64 // tombstones
	// maxIns is the highest insert version of any node, raised before the
	// node is published: a search at a snapshot at or above it, with no
	// tombstones, sees every node it can reach (see accept.trust).
	maxIns     atomic.Uint64
	upperBytes atomic.Int64 // memory of the upper-level link lists
	used       atomic.Int64 // largest id reserved + 1: the written part of the flat arrays

	mem *mappings // frees the flat arrays; see storage.go

	pool sync.Pool // *scratch
}

const entrySet = 1 << 63

func packEntry(id uint32, level int) uint64 { return entrySet | uint64(level)<<32 | uint64(id) }

func unpackEntry(e uint64) (id uint32, level int, ok bool) {
	return uint32(e), int(e>>32) & 0x7fffffff, e&entrySet != 0
}

// ConfigError is a Config that New refuses. It matches ErrInvalidArgument
// (errors.Is); Reason says what is wrong without the package's prefix, for
// a caller that reports it under its own.
type ConfigError struct{ Reason string }

func (e *ConfigError) Error() string { return ErrInvalidArgument.Error() + ": " + e.Reason }

// Is makes a ConfigError match ErrInvalidArgument.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidArgument }

// Check returns a *ConfigError if New would refuse cfg, and nil otherwise.
func (cfg Config) Check() error {
	_, err := cfg.withDefaults()
	return err
}

// withDefaults fills in the zero fields and checks the result.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Dim <= 0 {
		return cfg, &ConfigError{fmt.Sprintf("Dim must be positive, got %d", cfg.Dim)}
	}
	if !cfg.Metric.valid() {
		return cfg, &ConfigError{fmt.Sprintf("unknown metric %v", cfg.Metric)}
	}
	if cfg.M == 0 {
		cfg.M = defaultM
	}
	if cfg.EfConstruction == 0 {
		cfg.EfConstruction = defaultEfConstruction
	}
	if cfg.EfSearch == 0 {
		cfg.EfSearch = defaultEfSearch
	}
	if cfg.M < 2 || cfg.M > 1024 {
		return cfg, &ConfigError{fmt.Sprintf("M must be in [2, 1024], got %d", cfg.M)}
	}
	if cfg.EfConstruction < 1 || cfg.EfSearch < 1 {
		return cfg, &ConfigError{"ef values must be positive"}
	}
	return cfg, nil
}

// New returns an empty index.
func New(cfg Config) (*Index, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	x := &Index{
		dim:     cfg.Dim,
		metric:  cfg.Metric,
		m:       cfg.M,
		m0:      2 * cfg.M,
		efCons:  cfg.EfConstruction,
		efSrch:  cfg.EfSearch,
		seed:    cfg.Seed,
		levelML: 1 / math.Log(float64(cfg.M)),
		rng:     rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		mem:     &mappings{},
	}
	runtime.AddCleanup(x, (*mappings).release, x.mem)
	return x, nil
}

// getScratch takes working memory from the pool; return it with
// x.pool.Put.
func (x *Index) getScratch() *scratch {
	if s, ok := x.pool.Get().(*scratch); ok {
		return s
	}
	return &scratch{}
}

// Config returns the configuration with defaults filled in.
func (x *Index) Config() Config {
	return Config{Dim: x.dim, Metric: x.metric, M: x.m, EfConstruction: x.efCons, EfSearch: x.efSrch, Seed: x.seed}
}

// Len returns the number of live (inserted, not deleted) nodes.
func (x *Index) Len() int { return int(x.live.Load()) }

// Deleted returns the number of tombstoned nodes still held for snapshots
// (those a running Vacuum is removing included, until it frees them).
func (x *Index) Deleted() int { return int(x.deleted.Load()) }

// Bytes estimates the memory the index holds: the flat per-node arrays up
// to the largest id used (freed ids keep their slots for reuse; capacity
// beyond it is reserved but never written, so it costs no memory), the
// upper-level slice headers at their allocated capacity, and the
// upper-level link lists.
func (x *Index) Bytes() int64 {
	x.mu.RLock()
	n := int64(x.capacity)
	x.mu.RUnlock()
	// vector, level-0 list, insert version, meta.
	flat := int64(4*x.dim + 4*(1+x.m0) + 8 + int(unsafe.Sizeof(nodeMeta{})))
	return x.used.Load()*flat + n*24 + x.upperBytes.Load()
}

// Contains reports whether id is inserted and not deleted.
func (x *Index) Contains(id uint32) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return int(id) < x.capacity && x.visible(id, 0)
}

// randomLevel draws a level with P(level >= l) = M^-l, the exponentially
// decaying distribution that gives HNSW its skip-list-like layering.
func (x *Index) randomLevel() int {
	x.rngMu.Lock()
	u := 1 - x.rng.Float64() // (0, 1], so the log is finite
	x.rngMu.Unlock()
	l := int(-math.Log(u) * x.levelML)
	return min(l, maxLevel)
}

// reserve makes room for id, growing every array if needed. It must be
// called without holding mu.
func (x *Index) reserve(id uint32) {
	for u := x.used.Load(); int64(id) >= u && !x.used.CompareAndSwap(u, int64(id)+1); u = x.used.Load() {
	}
	x.mu.RLock()
	ok := int(id) < x.capacity
	x.mu.RUnlock()
	if ok {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if int(id) < x.capacity {
		return
	}
	x.growLocked(max(int(id)+1, 2*x.capacity, 64))
}

// growLocked reallocates storage for n nodes. Holding mu for writing means
// no other goroutine is inside the index, so plain copies are safe.
func (x *Index) growLocked(n int) {
	m := x.mem
	x.vecs = regrow(x.vecs, n*x.dim, &m.vecs)
	x.links0 = regrow(x.links0, n*(1+x.m0), &m.links0)
	x.insVer = regrow(x.insVer, n, &m.insVer)
	x.meta = regrow(x.meta, n, &m.meta)
	x.upper = append(make([][][]uint32, 0, n), x.upper...)[:n]
	x.capacity = n
}

// visible reports whether node id is seen by a search at snapshot snap
// (0 = latest). Caller holds mu for reading and id < capacity.
func (x *Index) visible(id uint32, snap uint64) bool {
	if atomic.LoadUint32(&x.meta[id].state) != stateReady {
		return false
	}
	del := atomic.LoadUint64(&x.meta[id].delVer)
	if snap == 0 {
		return del == 0
	}
	return x.insVer[id] <= snap && (del == 0 || del > snap)
}

// neighbors copies the links of id on level into buf. Copying under the
// node's stripe lock lets writers rewrite the list in place while readers
// iterate their private copy.
func (x *Index) neighbors(id uint32, level int, buf []uint32) []uint32 {
	mu := &x.stripes[id%nStripes]
	mu.Lock()
	if level == 0 {
		base := int(id) * (1 + x.m0)
		n := int(x.links0[base])
		buf = append(buf[:0], x.links0[base+1:base+1+n]...)
	} else if up := x.upper[id]; level-1 < len(up) {
		buf = append(buf[:0], up[level-1]...)
	} else {
		buf = buf[:0]
	}
	mu.Unlock()
	return buf
}

// upperSize is the memory of a node's upper-level lists: one slice header
// and M link slots per level above 0.
func (x *Index) upperSize(level int) int64 { return int64(level) * int64(24+4*x.m) }

// maxLinks is the link capacity on level.
func (x *Index) maxLinks(level int) int {
	if level == 0 {
		return x.m0
	}
	return x.m
}

// Versions returns the versions at which node id was inserted and deleted
// (0: not deleted); ok is false for an id that holds no node.
func (x *Index) Versions(id uint32) (ins, del uint64, ok bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if int(id) >= x.capacity || atomic.LoadUint32(&x.meta[id].state) != stateReady {
		return 0, 0, false
	}
	return x.insVer[id], atomic.LoadUint64(&x.meta[id].delVer), true
}
