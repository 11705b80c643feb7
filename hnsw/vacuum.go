package hnsw

import (
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
)

// Vacuum physically removes tombstones that no search can see any more: the
// nodes deleted at or before horizon. The caller promises that no search
// will again use a Snapshot below horizon (Snapshot 0, latest, is always
// fine); a search at an older snapshot would silently miss the removed
// nodes. It returns the ids it freed, ascending; they may be inserted
// again, which is how an index under churn keeps its storage bounded.
//
// Removing a node cuts the links that ran through it, so every node that
// linked to a removed one is repaired: its surviving links, plus the live
// nodes reachable from it through removed ones, are re-ranked with the
// neighbour-selection heuristic and the list is filled up with the nearest
// of the rest. The graph therefore stays navigable without the removed
// nodes routing for it.
//
// Searches, inserts and deletes go on while Vacuum runs. It works in three
// phases:
//
//  1. Mark: the removable nodes become dying. Dying nodes still route every
//     search (their vectors and links stay intact) but are never returned
//     and never chosen as links by an insert. A brief exclusive hold of the
//     storage lock then waits out the inserts that started before the mark,
//     so every link to a dying node exists by then and no later one appears.
//  2. Repair: every list that links to a dying node is rebuilt, a slice of
//     the index at a time with the storage lock held only for reading (and
//     released between slices); each new list is worked out from a copy
//     and written under the list's stripe lock if no insert changed it
//     meanwhile.
//  3. Reconnect: a node that only removed nodes linked to on level 0 is
//     picked by no rebuilt list now and then, and a node nothing links to
//     is never found again. Such nodes get a link from a node a search
//     reaches (see reconnect), under the storage lock held for reading.
//  4. Free: holding the storage lock exclusively — which waits for the
//     searches that might still stand on a dying node — the dying slots
//     are cleared and, if the entry point was one of them, the highest
//     surviving node becomes the entry. This costs a pass over the removed
//     ids, and over the index only when the entry point moved.
//
// Searches therefore wait only for the two exclusive holds, never for the
// repairs. One Vacuum runs at a time; MarshalBinaryAt waits for it.
func (x *Index) Vacuum(horizon uint64) ([]uint32, error) {
	if horizon == 0 {
		return nil, fmt.Errorf("%w: vacuum horizon must be positive", ErrInvalidArgument)
	}
	x.vacMu.Lock()
	defer x.vacMu.Unlock()

	x.vacuuming.Store(true) // before the marks, for inserts to look at them
	dying, n := x.markDying(horizon)
	if len(dying) == 0 {
		x.vacuuming.Store(false)
		return nil, nil
	}
	// The barrier of phase 1: taking the lock waits for every insert
	// holding it for reading, and each that comes later sees the marks.
	x.mu.Lock()
	//lint:ignore SA2001 the critical section is the wait itself
	x.mu.Unlock()

	gone := make([]uint64, (n+63)/64)
	for _, id := range dying {
		gone[id/64] |= 1 << (id % 64)
	}
	isGone := func(id uint32) bool { return int(id) < n && gone[id/64]&(1<<(id%64)) != 0 }

	s := x.getScratch()
	defer x.pool.Put(s)
	// Nodes at ids >= n were inserted after the mark and never link to a
	// dying node, so the repairs cover ids below n.
	for lo := 0; lo < n; {
		lo = x.repairSlice(s, lo, n, isGone)
		if x.afterSlice != nil {
			x.afterSlice()
		}
		runtime.Gosched() // on a small machine, let waiting searches run
	}
	x.reconnect(s)

	x.mu.Lock()
	defer x.mu.Unlock()
	var upper int64
	for _, id := range dying {
		upper += x.upperSize(int(x.meta[id].level))
		x.meta[id].delVer = 0
		x.insVer[id] = 0
		x.meta[id].level = 0
		x.upper[id] = nil
		x.links0[int(id)*(1+x.m0)] = 0
		atomic.StoreUint32(&x.meta[id].state, stateEmpty)
	}
	if ep, _, ok := unpackEntry(x.entry.Load()); ok && isGone(ep) {
		// Inserts that read the old entry could not take over from it,
		// so the highest node is found by looking, not by tracking.
		best, bestLevel := uint32(0), -1
		for id := range x.capacity {
			if x.meta[id].state == stateReady && int(x.meta[id].level) > bestLevel {
				best, bestLevel = uint32(id), int(x.meta[id].level)
			}
		}
		if bestLevel < 0 {
			x.entry.Store(0)
		} else {
			x.entry.Store(packEntry(best, bestLevel))
		}
	}
	x.upperBytes.Add(-upper)
	x.deleted.Add(int64(-len(dying)))
	x.vacuuming.Store(false)
	return dying, nil
}

// markDying moves the nodes deleted at or before horizon to stateDying and
// returns them, ascending, with the capacity they were found in. Only
// Vacuum (one at a time) moves a node out of stateReady, so the swaps
// cannot fail.
func (x *Index) markDying(horizon uint64) ([]uint32, int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var dying []uint32
	for id := range x.capacity {
		if atomic.LoadUint32(&x.meta[id].state) != stateReady {
			continue
		}
		if d := atomic.LoadUint64(&x.meta[id].delVer); d != 0 && d <= horizon {
			atomic.StoreUint32(&x.meta[id].state, stateDying)
			dying = append(dying, uint32(id))
		}
	}
	return dying, x.capacity
}

// Reclaimable counts the tombstones Vacuum(horizon) would remove now.
func (x *Index) Reclaimable(horizon uint64) int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	k := 0
	for id := range x.capacity {
		if atomic.LoadUint32(&x.meta[id].state) != stateReady {
			continue
		}
		if d := atomic.LoadUint64(&x.meta[id].delVer); d != 0 && d <= horizon {
			k++
		}
	}
	return k
}

// reconnect links every node that a search can no longer reach on level 0
// (its in-links came only from removed nodes, which no rebuilt list picked
// up, or an insert's pruning dropped its last one) from a node a search
// does reach (see linkFromReached). Reachability is worked out by a walk
// from the node that is the entry once the dying ones are gone, over copies
// of the lists taken under their stripes. Inserts may go on meanwhile:
// they only link to nodes they reached, and an in-link their pruning drops
// is found missing by the next vacuum.
//
// When no candidate can take a link without giving one up, the link it
// gives up may cut off what only its target led to, so the walk is made
// again after each pass, and a pass links what the previous one cut off,
// up to reconnectPasses passes. It returns how many links it made.
func (x *Index) reconnect(s *scratch) int {
	linked := 0
	for range reconnectPasses {
		n, unreached := x.reconnectPass(s)
		linked += n
		if unreached == 0 {
			break
		}
	}
	return linked
}

// reconnectPasses bounds reconnect's passes; what is left unreached after
// them waits for the next vacuum. A pass costs a walk of level 0 (some
// 10 ms at 100k nodes); in TestReconnectReplacesLinks's graphs, where most
// lists are full, a second pass is seldom needed and a third never was.
const reconnectPasses = 4

// reconnectPass is one pass of reconnect: it returns how many links it
// made and how many unreached nodes it found.
func (x *Index) reconnectPass(s *scratch) (linked, unreached int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	ready := func(id uint32) bool { return atomic.LoadUint32(&x.meta[id].state) == stateReady }
	ep, top, ok := unpackEntry(x.entry.Load())
	if !ok {
		return 0, 0
	}
	if !ready(ep) { // dying: the free phase will pick the highest ready node
		top = -1
		for id := range x.capacity {
			if ready(uint32(id)) && int(x.meta[id].level) > top {
				ep, top = uint32(id), int(x.meta[id].level)
			}
		}
		if top < 0 {
			return 0, 0
		}
	}
	in := make([]int32, x.capacity)
	for id := range x.capacity {
		if ready(uint32(id)) {
			s.nbuf = x.neighbors(uint32(id), 0, s.nbuf)
			for _, nb := range s.nbuf {
				in[nb]++
			}
		}
	}
	reached := make([]bool, x.capacity)
	x.reach(s, ep, reached)
	for id := range x.capacity {
		if reached[id] || !ready(uint32(id)) {
			continue
		}
		unreached++
		if x.linkFromReached(s, uint32(id), ep, top, reached, in) {
			linked++
			x.reach(s, uint32(id), reached)
		}
	}
	return linked, unreached
}

// reach marks in reached every ready node a walk on level 0 from id gets
// to, id included.
func (x *Index) reach(s *scratch, id uint32, reached []bool) {
	reached[id] = true
	s.eps = append(s.eps[:0], id)
	for len(s.eps) > 0 {
		c := s.eps[len(s.eps)-1]
		s.eps = s.eps[:len(s.eps)-1]
		s.nbuf = x.neighbors(c, 0, s.nbuf)
		for _, nb := range s.nbuf {
			if !reached[nb] && atomic.LoadUint32(&x.meta[nb].state) == stateReady {
				reached[nb] = true
				s.eps = append(s.eps, nb)
			}
		}
	}
}

// linkFromReached links id from a reached node on level 0 (see
// reconnect), keeping in, the in-link counts, up to date. Candidates are,
// in turn, id's reached neighbours, the nearest reached nodes a search
// from the entry finds, and (when neither has one that can take the link
// without cutting another node off) the nearest reached nodes of all;
// the first with a free slot, or a link it can give up safely, takes it.
// Only if none can does one give up a link that may cut a node off, which
// the next pass of reconnect then finds. It reports whether it linked id.
func (x *Index) linkFromReached(s *scratch, id, ep uint32, top int, reached []bool, in []int32) bool {
	own := x.neighbors(id, 0, nil) // rare: only nodes left unreachable get here
	var first []item
	for k := range 3 {
		var cands []item
		switch k {
		case 0:
			for _, nb := range own {
				if reached[nb] {
					cands = append(cands, item{x.distIDs(id, nb), nb})
				}
			}
			slices.SortFunc(cands, cmpItem)
		case 1:
			off := int(id) * x.dim
			q := x.vecs[off : off+x.dim]
			c, cd := ep, x.distTo(q, ep)
			for l := top; l > 0; l-- {
				c, cd = x.greedy(s, q, c, cd, l)
			}
			all := accept{all: true}
			s.eps = append(s.eps[:0], c)
			x.searchLayer(s, q, s.eps, x.efCons, 0, &all)
			for _, it := range s.res.drainSorted(nil) {
				if it.id != id && reached[it.id] && !slices.Contains(own, it.id) {
					cands = append(cands, it)
				}
			}
		case 2:
			// The search can end in a corner that is cut off itself.
			s.res = s.res[:0]
			for c := range x.capacity {
				if reached[c] && uint32(c) != id && !slices.Contains(own, uint32(c)) {
					if d := x.distIDs(id, uint32(c)); len(s.res) < x.efCons {
						s.res.push(item{d, uint32(c)})
					} else if d < s.res[0].d {
						s.res.pop()
						s.res.push(item{d, uint32(c)})
					}
				}
			}
			cands = s.res.drainSorted(nil)
		}
		if x.linkFree(cands, id, in) || x.replaceLink(cands, id, true, in) {
			return true
		}
		if first == nil {
			first = cands
		}
	}
	return x.replaceLink(first, id, false, in)
}

// linkFree links id from the first of cands with a free slot on level 0,
// and reports whether it found one (or one that links id already).
func (x *Index) linkFree(cands []item, id uint32, in []int32) bool {
	for _, c := range cands {
		mu := &x.stripes[c.id%nStripes]
		mu.Lock()
		links := x.linksAt(c.id, 0)
		switch {
		case slices.Contains(links, id):
			mu.Unlock()
			return true // linked meanwhile
		case len(links) < x.m0:
			base := int(c.id) * (1 + x.m0)
			x.links0[base+1+len(links)] = id
			x.links0[base]++
			in[id]++
			mu.Unlock()
			return true
		}
		mu.Unlock()
	}
	return false
}

// reachLimit bounds the walk from an unreachable node that tells which of
// a candidate's links it can give up safely.
const reachLimit = 256

// replaceLink links id from the first node c of cands whose level-0 list
// holds a link it may give up, the farthest such: with safe, a link to a
// node that a walk from id that never leaves c reaches (so c still
// reaches it, through id); else a link to a node something else also
// links to. It reports whether it found one.
func (x *Index) replaceLink(cands []item, id uint32, safe bool, in []int32) bool {
	var seen map[uint32]bool
	var stack, tmp []uint32
	for _, c := range cands {
		if safe {
			// Copied under each node's stripe, one at a time, before c's
			// is taken.
			seen = map[uint32]bool{id: true, c.id: true}
			stack = append(stack[:0], id)
			for len(stack) > 0 && len(seen) < reachLimit {
				n := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				tmp = x.neighbors(n, 0, tmp)
				for _, nb := range tmp {
					if !seen[nb] {
						seen[nb] = true
						stack = append(stack, nb)
					}
				}
			}
		}
		mu := &x.stripes[c.id%nStripes]
		mu.Lock()
		links := x.linksAt(c.id, 0)
		far, farD := -1, float32(0)
		for j, l := range links {
			if safe && (l == c.id || !seen[l]) || !safe && in[l] < 2 {
				continue
			}
			if d := x.distIDs(c.id, l); far < 0 || d > farD {
				far, farD = j, d
			}
		}
		if far >= 0 {
			in[links[far]]--
			links[far] = id
			in[id]++
			mu.Unlock()
			return true
		}
		mu.Unlock()
	}
	return false
}

// Bounds on one slice of the repair phase: the ids it looks at and the
// lists it rebuilds (a rebuild costs up to a few thousand distances).
const (
	vacuumSliceIDs     = 4096
	vacuumSliceRepairs = 64
)

// repairSlice repairs the lists at ids from lo on, up to the slice bounds,
// under the storage lock held for reading, and returns where to go on.
func (x *Index) repairSlice(s *scratch, lo, n int, gone func(uint32) bool) int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	repairs := 0
	id := lo
	for ; id < n && id-lo < vacuumSliceIDs && repairs < vacuumSliceRepairs; id++ {
		if atomic.LoadUint32(&x.meta[id].state) != stateReady {
			continue // free, being inserted (links only to survivors), or dying
		}
		for l := 0; l <= int(x.meta[id].level); l++ {
			if x.repairIfNeeded(s, uint32(id), l, gone) {
				repairs++
			}
		}
	}
	return id
}

// repairIfNeeded rebuilds id's list on level if it links to a removed node.
// The new list is worked out from a copy, without the stripe, so that a
// search needing the stripe never waits for a rebuild (nor, on a busy
// machine, for the vacuum's thread to be scheduled again in the middle of
// one); it is written only if the list is still what it was copied from,
// else an insert's back-link landed meanwhile and the rebuild starts over
// from the new list. The removed nodes' own lists are read without their
// stripes: nothing writes them after the mark's barrier.
func (x *Index) repairIfNeeded(s *scratch, id uint32, level int, gone func(uint32) bool) bool {
	mu := &x.stripes[id%nStripes]
	for {
		mu.Lock()
		links := x.linksAt(id, level)
		if !slices.ContainsFunc(links, gone) {
			mu.Unlock()
			return false
		}
		s.nbuf = append(s.nbuf[:0], links...)
		mu.Unlock()

		kept := x.repair(s, id, level, s.nbuf, gone)

		mu.Lock()
		if slices.Equal(x.linksAt(id, level), s.nbuf) {
			x.setList(id, level, kept)
			mu.Unlock()
			return true
		}
		mu.Unlock()
	}
}

// setList replaces id's list on level. Caller holds id's stripe.
func (x *Index) setList(id uint32, level int, kept []item) {
	if level == 0 {
		base := int(id) * (1 + x.m0)
		x.links0[base] = uint32(len(kept))
		for i, it := range kept {
			x.links0[base+1+i] = it.id
		}
		return
	}
	l := x.upper[id][level-1][:0]
	for _, it := range kept {
		l = append(l, it.id)
	}
	x.upper[id][level-1] = l
}

// linksAt returns id's link list on level, aliasing storage. Caller holds
// mu exclusively or id's stripe.
func (x *Index) linksAt(id uint32, level int) []uint32 {
	if level == 0 {
		base := int(id) * (1 + x.m0)
		return x.links0[base+1 : base+1+int(x.links0[base])]
	}
	return x.upper[id][level-1]
}

// repair works out id's links on level without the removed nodes, from
// its list links, into s.pkept. Candidates are the surviving links and the
// survivors reached by walking out of id through removed nodes only, which
// are the nodes id used to reach through them; the heuristic picks first,
// the nearest others fill the list.
func (x *Index) repair(s *scratch, id uint32, level int, links []uint32, gone func(uint32) bool) []item {
	limit := x.maxLinks(level)
	s.visited.reset(x.capacity)
	s.visited.add(id)
	s.prune = s.prune[:0]
	s.eps = s.eps[:0] // queue of removed nodes to walk through
	for _, nb := range links {
		if s.visited.add(nb) {
			continue
		}
		if gone(nb) {
			s.eps = append(s.eps, nb)
		} else {
			s.prune = append(s.prune, item{x.distIDs(id, nb), nb})
		}
	}
	// Bounded so a large removed region cannot make one repair scan
	// the whole graph; the heuristic needs a few times limit at most.
	for i := 0; i < len(s.eps) && len(s.prune) < 4*limit; i++ {
		r := s.eps[i]
		if int(x.meta[r].level) < level {
			continue
		}
		for _, nb := range x.linksAt(r, level) {
			if s.visited.add(nb) {
				continue
			}
			if gone(nb) {
				s.eps = append(s.eps, nb)
			} else if atomic.LoadUint32(&x.meta[nb].state) == stateReady {
				s.prune = append(s.prune, item{x.distIDs(id, nb), nb})
			}
		}
	}
	slices.SortFunc(s.prune, cmpItem)
	kept := x.selectNeighbors(s.prune, limit, s.pkept[:0])
	// The heuristic alone keeps only directions no kept link covers. A
	// new node's list is refilled by the back-links of later inserts, but
	// a repaired one gets nothing back from the region that was removed:
	// its degree would fall by a quarter per pass (23 to 17 links, and
	// recall@10 at ef 32 from 0.97 to 0.93, on 100k x 128 with 30%
	// removed). The free slots take the nearest remaining candidates.
	for _, c := range s.prune {
		if len(kept) >= limit {
			break
		}
		if !slices.ContainsFunc(kept, func(it item) bool { return it.id == c.id }) {
			kept = append(kept, c)
		}
	}
	s.pkept = kept[:0] // keep the grown buffer for the next repair
	return kept
}

func cmpItem(a, b item) int {
	switch {
	case a.d < b.d:
		return -1
	case a.d > b.d:
		return 1
	}
	return 0
}
