package hnsw

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/inmem-db/inmem/internal/prefetch"
)

// SearchOptions tune one Search.
type SearchOptions struct {
	// Ef is the beam width; 0 uses Config.EfSearch. It is raised to k
	// when smaller.
	Ef int
	// Snapshot restricts results to nodes visible at that version:
	// inserted at or before it and not deleted at or before it. 0 means
	// latest: every live node.
	Snapshot uint64
	// Filter, when set, must return true for an id to be returned. It is
	// called with the index's storage lock held for reading and must not
	// call back into the Index. Only accepted nodes count toward Ef, so a
	// filter that rejects most nodes lengthens the walk in proportion;
	// when the accepted ids are few and known, pass them as Allowed.
	Filter func(id uint32) bool
	// Allowed, when non-nil, is the complete set of ids that may be
	// returned (out-of-range and duplicate ids are ignored). A small set
	// is searched exactly by brute force, which keeps recall at 1 for
	// very selective filters; a large one restricts the graph search.
	// An empty non-nil slice returns nothing.
	Allowed []uint32
}

// Result is one neighbour. Score is higher-is-better for every metric:
// cosine similarity, dot product, or negative Euclidean distance.
type Result struct {
	ID    uint32
	Score float32
}

// scratch is the per-operation working memory, pooled so that a warm Search
// allocates only the slice it returns.
type scratch struct {
	visited tagSet
	allowed tagSet
	cand    minHeap
	res     maxHeap
	nbuf    []uint32
	q       []float32
	eps     []uint32
	sorted  []item
	kept    []item // a new node's selected links
	prune   []item // a full neighbour list being re-pruned
	pkept   []item // its selection
}

// accept decides which reached nodes may enter the result set. Nodes it
// rejects are still expanded, so deleted, not-yet-visible and filtered-out
// nodes keep guiding the walk without being returned.
type accept struct {
	all bool // insert-time search: every node is a link candidate, but those being vacuumed
	// trust skips the visibility check: set when the index holds no
	// tombstone and no node newer than snap, so every node a walk
	// reaches is visible. A node inserted or deleted while the walk runs
	// may still be wrong for snap; Search checks its results and walks
	// again without trust if one is.
	trust      bool
	snap       uint64
	filter     func(uint32) bool
	useAllowed bool
}

func (x *Index) accepts(s *scratch, a *accept, id uint32) bool {
	if a.all {
		// A node Vacuum is removing may not gain links: its repairs
		// already ran past every list that could point to it. The flag
		// spares inserts a load per reached node when none is running.
		return !x.vacuuming.Load() || atomic.LoadUint32(&x.meta[id].state) != stateDying
	}
	if !a.trust && !x.visible(id, a.snap) {
		return false
	}
	if a.useAllowed && !s.allowed.has(id) {
		return false
	}
	return a.filter == nil || a.filter(id)
}

// bruteForceLimit is the largest Allowed set searched exactly. Exact search
// costs one distance per allowed id; a graph search whose results must come
// from a fraction p of the nodes expands roughly ef/p nodes, each with up to
// 2M distances. Below this size the exact scan is both cheaper and perfect.
func (x *Index) bruteForceLimit(ef, n int) int {
	return max(2*ef*x.m, n/16)
}

// Search returns up to k nodes nearest to q, best first.
func (x *Index) Search(q []float32, k int, opts SearchOptions) ([]Result, error) {
	if k <= 0 {
		return nil, fmt.Errorf("%w: k must be positive, got %d", ErrInvalidArgument, k)
	}
	if opts.Ef < 0 {
		return nil, fmt.Errorf("%w: negative ef %d", ErrInvalidArgument, opts.Ef)
	}
	qsq, err := x.checkVector(q)
	if err != nil {
		return nil, err
	}
	ef := opts.Ef
	if ef == 0 {
		ef = x.efSrch
	}
	ef = max(ef, k)
	if opts.Allowed != nil && len(opts.Allowed) == 0 {
		return nil, nil
	}

	s := x.getScratch()
	defer x.pool.Put(s)
	if cap(s.q) < x.dim {
		s.q = make([]float32, x.dim)
	}
	s.q = s.q[:x.dim]
	x.prepare(s.q, q, qsq)

	x.mu.RLock()
	defer x.mu.RUnlock()
	s.res = s.res[:0]
	a := accept{snap: opts.Snapshot, filter: opts.Filter}
	if opts.Allowed != nil {
		if len(opts.Allowed) <= x.bruteForceLimit(ef, x.capacity) {
			x.bruteForce(s, s.q, k, &a, opts.Allowed)
			return x.results(s, k), nil
		}
		s.allowed.reset(x.capacity)
		for _, id := range opts.Allowed {
			if int(id) < x.capacity {
				s.allowed.add(id)
			}
		}
		a.useAllowed = true
	} else if ef >= x.Len()+x.Deleted() {
		// The walk would have to reach every node, and HNSW's pruning
		// leaves one now and then with no in-link until a vacuum links it
		// again: an exact scan costs the same and misses none.
		x.bruteForce(s, s.q, k, &a, nil)
		return x.results(s, k), nil
	}
	ep, top, ok := unpackEntry(x.entry.Load())
	if !ok {
		return nil, nil
	}
	epd := x.distTo(s.q, ep)
	for l := top; l > 0; l-- {
		ep, epd = x.greedy(s, s.q, ep, epd, l)
	}
	a.trust = x.deleted.Load() == 0 && (a.snap == 0 || a.snap >= x.maxIns.Load())
	s.eps = append(s.eps[:0], ep)
	x.searchLayer(s, s.q, s.eps, ef, 0, &a)
	if a.trust && !x.bestVisible(s, k, a.snap) {
		a.trust = false
		s.eps = append(s.eps[:0], ep)
		x.searchLayer(s, s.q, s.eps, ef, 0, &a)
	}
	return x.results(s, k), nil
}

// bestVisible trims s.res to its best k and reports whether all of them
// are visible at snap: what a walk that trusted every node must check
// before its results are returned.
func (x *Index) bestVisible(s *scratch, k int, snap uint64) bool {
	for len(s.res) > k {
		s.res.pop()
	}
	for _, it := range s.res {
		if !x.visible(it.id, snap) {
			return false
		}
	}
	return true
}

// results turns the result heap into the caller's slice: the one allocation
// of a warm Search.
func (x *Index) results(s *scratch, k int) []Result {
	for len(s.res) > k {
		s.res.pop()
	}
	if len(s.res) == 0 {
		return nil
	}
	out := make([]Result, len(s.res))
	for i := len(out) - 1; i >= 0; i-- {
		it := s.res.pop()
		out[i] = Result{ID: it.id, Score: x.score(it.d)}
	}
	return out
}

// bruteForce scores every allowed id exactly (every node when allowed is
// nil), keeping the best k in s.res.
func (x *Index) bruteForce(s *scratch, q []float32, k int, a *accept, allowed []uint32) {
	if allowed == nil {
		for id := range min(int(x.used.Load()), x.capacity) {
			if x.accepts(s, a, uint32(id)) {
				x.keepBest(s, q, k, uint32(id))
			}
		}
		return
	}
	s.visited.reset(x.capacity)
	for _, id := range allowed {
		if int(id) >= x.capacity || s.visited.add(id) || !x.accepts(s, a, id) {
			continue
		}
		x.keepBest(s, q, k, id)
	}
}

// keepBest scores id and keeps it in s.res if it is among the best k.
func (x *Index) keepBest(s *scratch, q []float32, k int, id uint32) {
	d := x.distTo(q, id)
	if len(s.res) < k {
		s.res.push(item{d, id})
	} else if d < s.res[0].d {
		s.res.pop()
		s.res.push(item{d, id})
	}
}

// greedy walks level toward q, moving to any closer neighbour until none is
// closer: the cheap descent through the sparse upper levels.
func (x *Index) greedy(s *scratch, q []float32, ep uint32, epd float32, level int) (uint32, float32) {
	for changed := true; changed; {
		changed = false
		s.nbuf = x.neighbors(ep, level, s.nbuf)
		x.prefetch(s.nbuf[:min(prefetchAhead, len(s.nbuf))], false)
		for j, nb := range s.nbuf {
			if k := j + prefetchAhead; k < len(s.nbuf) {
				x.prefetchOne(s.nbuf[k], false)
			}
			if d := x.distTo(q, nb); d < epd {
				ep, epd, changed = nb, d, true
			}
		}
	}
	return ep, epd
}

// searchLayer is the ef-bounded beam search on one level. On return s.res
// holds up to ef accepted nodes. Only accepted nodes count toward ef, so a
// filter or tombstones that reject most nodes widen the walk automatically:
// it keeps expanding (through rejected nodes) until it has ef acceptable
// results whose worst beats every unexpanded candidate.
func (x *Index) searchLayer(s *scratch, q []float32, eps []uint32, ef, level int, a *accept) {
	s.visited.reset(x.capacity)
	s.cand = s.cand[:0]
	s.res = s.res[:0]
	// Only a search that checks visibility reads the node records; an
	// insert's checks read them only while a Vacuum runs.
	checks := !a.all && !a.trust
	for _, ep := range eps {
		if s.visited.add(ep) {
			continue
		}
		d := x.distTo(q, ep)
		s.cand.push(item{d, ep})
		if x.accepts(s, a, ep) {
			s.res.push(item{d, ep})
			if len(s.res) > ef {
				s.res.pop()
			}
		}
	}
	for len(s.cand) > 0 {
		c := s.cand.pop()
		if len(s.res) >= ef && c.d > s.res[0].d {
			break
		}
		if level == 0 && len(s.cand) > 0 {
			// The best remaining candidate is likely expanded next: start
			// loading its links while this one's neighbours are scored.
			next := int(s.cand[0].id) * (1 + x.m0)
			prefetch.Lines(unsafe.Pointer(&x.links0[next]), (4*(1+x.m0)+63)/64)
		}
		s.nbuf = x.neighbors(c.id, level, s.nbuf)
		fresh := s.nbuf[:0]
		for _, nb := range s.nbuf {
			if !s.visited.add(nb) {
				fresh = append(fresh, nb)
			}
		}
		x.prefetch(fresh[:min(prefetchAhead, len(fresh))], checks)
		x.prefetchL2(fresh[min(prefetchAhead, len(fresh)):min(l2Ahead, len(fresh))])
		for j, nb := range fresh {
			if k := j + l2Ahead; k < len(fresh) {
				x.prefetchL2(fresh[k : k+1])
			}
			if k := j + prefetchAhead; k < len(fresh) {
				x.prefetchOne(fresh[k], checks)
			}
			d := x.distTo(q, nb)
			if len(s.res) < ef || d < s.res[0].d {
				s.cand.push(item{d, nb})
				if x.accepts(s, a, nb) {
					s.res.push(item{d, nb})
					if len(s.res) > ef {
						s.res.pop()
					}
				}
			}
		}
	}
}
