package hnsw

import (
	"fmt"
	"sync/atomic"
)

// Delete tombstones id at version: searches at snapshots >= version (and at
// latest) no longer return it, while searches at older snapshots still do.
//
// A tombstoned node stays in the graph with all its links. It keeps routing
// searches (they expand through it but never return it), so deleting never
// disconnects the graph and needs no repair at delete time. Because only
// acceptable nodes count toward ef, searches widen automatically as
// tombstones accumulate; once no snapshot needs them, Vacuum removes them,
// repairs the links that ran through them and frees their ids.
//
// version must be positive (0 means "not deleted" internally) and not below
// the node's insert version.
func (x *Index) Delete(id uint32, version uint64) error {
	if version == 0 {
		return fmt.Errorf("%w: delete version must be positive", ErrInvalidArgument)
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if int(id) >= x.capacity || atomic.LoadUint32(&x.meta[id].state) != stateReady {
		return fmt.Errorf("%w: id %d", ErrNotFound, id)
	}
	if version < x.insVer[id] {
		return fmt.Errorf("%w: delete version %d before insert version %d", ErrInvalidArgument, version, x.insVer[id])
	}
	if !atomic.CompareAndSwapUint64(&x.meta[id].delVer, 0, version) {
		return fmt.Errorf("%w: id %d already deleted", ErrNotFound, id)
	}
	x.live.Add(-1)
	x.deleted.Add(1)
	return nil
}
