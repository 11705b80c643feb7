package inmem

import (
	"encoding/binary"

	"github.com/inmem-db/inmem/occ"
	"github.com/inmem-db/inmem/wal"
)

// walGuard appends a commit's batch record to the WAL inside the commit
// critical section, right after the inner guard admitted it, so the log
// holds commits in version order and a crash leaves a prefix of them.
type walGuard struct {
	inner occ.Guard
	log   *wal.Log
	rec   []byte // batch; the version goes into its first 8 bytes
	group *wal.Group
}

// Admit stamps the version and appends. If the append fails (the log is
// poisoned or closed) the commit is refused; side effects the inner guard
// already had are moot then, because a poisoned handle takes no more writes.
func (g *walGuard) Admit(v uint64) error {
	if g.inner != nil {
		if err := g.inner.Admit(v); err != nil {
			return err
		}
	}
	binary.LittleEndian.PutUint64(g.rec, v)
	grp, err := g.log.Append(recBatch, g.rec)
	if err != nil {
		return err
	}
	g.group = grp
	return nil
}

// logged wraps g so the commit is written to the WAL, when there is one.
// rec must hold the batch with room for the version in its first 8 bytes.
func (s *store) logged(g occ.Guard, rec []byte) (occ.Guard, *walGuard) {
	if s.log == nil {
		return g, nil
	}
	wg := &walGuard{inner: g, log: s.log, rec: rec}
	return wg, wg
}

// publish makes commit v visible once its writes are linked: in Strict
// mode only after its WAL group is durable. Done runs whatever happens, so
// later versions are never blocked; an error means the commit was not
// acknowledged (and the log is poisoned).
func (s *store) publish(v uint64, wg *walGuard) error {
	var err error
	if wg != nil && s.strict {
		err = wg.group.Wait()
	}
	s.oracle.Done(v)
	s.oracle.WaitVisible(v)
	if wg != nil {
		s.afterCommit()
	}
	return err
}
