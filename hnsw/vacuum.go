package hnsw

import (
	"fmt"
	"slices"
)

// Vacuum physically removes tombstones that no search can see any more: the
// nodes deleted at or before horizon. The caller promises that no search
// will again use a Snapshot below horizon (Snapshot 0, latest, is always
// fine); a search at an older snapshot would silently miss the removed
// nodes. It returns how many nodes it removed.
//
// Removing a node cuts the links that ran through it, so every node that
// linked to a removed one is repaired: its surviving links, plus the live
// nodes reachable from it through removed ones, are re-ranked with the
// neighbour-selection heuristic. The graph therefore stays navigable without
// the removed nodes routing for it. Removed ids become free and may be
// inserted again.
//
// Vacuum holds the storage lock exclusively for its whole run: searches,
// inserts and deletes wait for it. Call it when tombstones make up a
// sizeable fraction of the index (see Deleted), not after every delete.
func (x *Index) Vacuum(horizon uint64) (int, error) {
	if horizon == 0 {
		return 0, fmt.Errorf("%w: vacuum horizon must be positive", ErrInvalidArgument)
	}
	x.mu.Lock()
	defer x.mu.Unlock()

	s := x.getScratch()
	defer x.pool.Put(s)
	// s.allowed marks the nodes being removed.
	s.allowed.reset(x.capacity)
	removed := 0
	for id := range x.capacity {
		if x.state[id] == stateReady && x.delVer[id] != 0 && x.delVer[id] <= horizon {
			s.allowed.add(uint32(id))
			removed++
		}
	}
	if removed == 0 {
		return 0, nil
	}
	gone := func(id uint32) bool { return s.allowed.has(id) }

	for id := range x.capacity {
		if x.state[id] != stateReady || gone(uint32(id)) {
			continue
		}
		for l := 0; l <= int(x.levels[id]); l++ {
			links := x.linksAt(uint32(id), l)
			if slices.ContainsFunc(links, gone) {
				x.repair(s, uint32(id), l, links, gone)
			}
		}
	}

	// A new entry point: the highest surviving node.
	if ep, _, _ := unpackEntry(x.entry.Load()); gone(ep) {
		best, bestLevel := uint32(0), -1
		for id := range x.capacity {
			if x.state[id] == stateReady && !gone(uint32(id)) && int(x.levels[id]) > bestLevel {
				best, bestLevel = uint32(id), int(x.levels[id])
			}
		}
		if bestLevel < 0 {
			x.entry.Store(0)
		} else {
			x.entry.Store(packEntry(best, bestLevel))
		}
	}

	for id := range x.capacity {
		if !gone(uint32(id)) {
			continue
		}
		x.state[id] = stateEmpty
		x.delVer[id] = 0
		x.insVer[id] = 0
		x.levels[id] = 0
		x.upper[id] = nil
		x.links0[id*(1+x.m0)] = 0
	}
	x.deleted.Add(int64(-removed))
	return removed, nil
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

// repair rebuilds id's links on level without the removed nodes. Candidates
// are the surviving links and the survivors reached by walking out of id
// through removed nodes only, which are the nodes id used to reach through
// them.
func (x *Index) repair(s *scratch, id uint32, level int, links []uint32, gone func(uint32) bool) {
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
		if int(x.levels[r]) < level {
			continue
		}
		for _, nb := range x.linksAt(r, level) {
			if s.visited.add(nb) {
				continue
			}
			if gone(nb) {
				s.eps = append(s.eps, nb)
			} else {
				s.prune = append(s.prune, item{x.distIDs(id, nb), nb})
			}
		}
	}
	slices.SortFunc(s.prune, cmpItem)
	kept := x.selectNeighbors(s.prune, limit, s.pkept[:0])
	if level == 0 {
		base := int(id) * (1 + x.m0)
		x.links0[base] = uint32(len(kept))
		for i, it := range kept {
			x.links0[base+1+i] = it.id
		}
	} else {
		l := x.upper[id][level-1][:0]
		for _, it := range kept {
			l = append(l, it.id)
		}
		x.upper[id][level-1] = l
	}
	s.pkept = kept[:0]
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
