package inmem

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/inmem-db/inmem/internal/engine"
)

// clusterNode runs a database as a node of a raft cluster. The engine's
// commit path proposes through it (engine.Replica); the raft FSM
// (clusterapply.go) applies what the cluster commits.
//
// How a leader's commit goes: Enter takes a slot; the oracle validates
// and versions the commit and, inside its critical section, Propose adds
// the record to the open group; the pump hands the group to raft as one
// log entry (a group gathers what committers proposed while the previous
// entry was being handed over, as the WAL's group commit does); the
// waiter completes the group once raft has committed the entry and this
// node applied it.
//
// Leadership: the node proposes only while writable, which the steward
// sets once this node leads, has applied everything before its term
// (Barrier) and has settled: versions it assigned to proposals that were
// never applied are forgotten (Oracle.Rewind), and run statuses its guards
// changed for them are read again from the applied run records. A failed
// proposal clears writable, so nothing is proposed after a gap.
type clusterNode struct {
	db    *DB
	cfg   Cluster
	raft  *raft.Raft
	trans *raft.NetworkTransport
	logs  *raftboltdb.BoltStore
	snaps *raft.FileSnapshotStore

	// applyMu is held by each apply, and by cuts (DB.cut) that need the
	// applied state to hold still.
	applyMu    sync.Mutex
	applyScope engine.Scope // the applier's fingers
	fault      atomic.Pointer[error]

	slots    chan struct{} // one per committer between Enter and Leave
	writable atomic.Bool
	dirty    atomic.Bool   // a proposal failed: settle before going on
	since    atomic.Uint64 // the applied version when this node's leadership began

	pmu  sync.Mutex
	open *proposalGroup
	wake chan struct{}
	sent chan sentGroup
	kick chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup
}

// maxInFlight bounds the commits proposed and not yet applied, well
// below the oracle's bound on versions in flight.
const maxInFlight = 512

// clusterTrailingLogs is how many raft log entries a snapshot leaves in
// the log: a follower less far behind catches up from the log.
const clusterTrailingLogs = 1 << 16

// proposalGroup is the commits of one raft log entry.
type proposalGroup struct {
	c       *clusterNode
	buf     []byte // each record as a uvarint length and the record
	n       uint64 // records in buf
	done    chan struct{}
	err     error
	applied appliedRange // the versions of the group this node applied
}

type sentGroup struct {
	g *proposalGroup
	f raft.ApplyFuture
}

// errPassedOver is what a commit whose record the cluster passed over
// fails with (see clusterNode.applyRecord): nothing was written.
var errPassedOver = fmt.Errorf("commit: the leader lost and regained its leadership before the commit was applied, and nothing was written: %w", ErrConflict)

// Wait implements engine.Proposal.
func (g *proposalGroup) Wait(v uint64) error {
	<-g.done
	if g.err != nil {
		return g.err
	}
	if v < g.applied.lo || v > g.applied.hi {
		return errPassedOver
	}
	return nil
}

// passedOver reports whether the cluster passed over some of the group's
// records: fewer versions applied than records proposed.
func (g *proposalGroup) passedOver() bool {
	return g.applied.hi == 0 || g.n != g.applied.hi-g.applied.lo+1
}

func (g *proposalGroup) finish(err error) {
	g.err = err
	close(g.done)
}

// startCluster starts the raft node over the recovered database.
func (db *DB) startCluster() error {
	cfg := *db.opts.cluster
	c := &clusterNode{
		db:    db,
		cfg:   cfg,
		slots: make(chan struct{}, maxInFlight),
		wake:  make(chan struct{}, 1),
		sent:  make(chan sentGroup, maxInFlight),
		kick:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
	}
	dir := filepath.Join(db.dir, "raft")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if err := claimNodeID(dir, cfg.NodeID); err != nil {
		return err
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: slogWriter{db.opts.logger}})
	logs, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		return fmt.Errorf("cluster: raft log: %w", err)
	}
	c.logs = logs
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, logger)
	if err != nil {
		logs.Close()
		return fmt.Errorf("cluster: raft snapshots: %w", err)
	}
	c.snaps = snaps
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		logs.Close()
		return fmt.Errorf("cluster: listen on %s: %w", cfg.Addr, err)
	}
	var stream raft.StreamLayer = newTCPStream(ln)
	if wrap := db.opts.clusterStream; wrap != nil {
		stream = wrap(stream)
	}
	c.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: stream, MaxPool: 3, Timeout: 10 * time.Second, Logger: logger,
	})
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(cfg.NodeID)
	conf.Logger = logger
	// The database recovers its own state from its directory; raft's
	// snapshots are for followers too far behind for the log.
	conf.NoSnapshotRestoreOnStart = true
	conf.TrailingLogs = clusterTrailingLogs
	if l := db.opts.clusterLogs; l[0] > 0 {
		conf.SnapshotThreshold, conf.TrailingLogs = l[0], l[1]
	}
	if hb := cfg.HeartbeatTimeout; hb > 0 {
		conf.HeartbeatTimeout, conf.ElectionTimeout = hb, hb
		conf.LeaderLeaseTimeout = hb / 2
		conf.CommitTimeout = min(conf.CommitTimeout, hb/10)
	}
	fail := func(err error) error {
		c.trans.Close()
		logs.Close()
		return fmt.Errorf("cluster: %w", err)
	}
	has, err := raft.HasExistingState(logs, logs, snaps)
	if err != nil {
		return fail(err)
	}
	if !has && len(cfg.Bootstrap) > 0 {
		var servers []raft.Server
		for _, p := range cfg.Bootstrap {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
		}
		if err := raft.BootstrapCluster(conf, logs, logs, snaps, c.trans, raft.Configuration{Servers: servers}); err != nil {
			return fail(err)
		}
	}
	cache, err := raft.NewLogCache(512, logs)
	if err != nil {
		return fail(err)
	}
	db.store.Replica = c
	db.cluster = c
	r, err := raft.NewRaft(conf, clusterFSM{c}, cache, logs, snaps, c.trans)
	if err != nil {
		db.store.Replica, db.cluster = nil, nil
		return fail(err)
	}
	c.raft = r
	c.wg.Add(3)
	go c.pump()
	go c.await()
	go c.steward()
	return nil
}

// nodeIDFile, in a node's raft directory, names the node the directory
// belongs to.
const nodeIDFile = "node-id"

// claimNodeID records that dir is node id's, or checks that it is: a
// directory opened as another node would join the cluster twice.
func claimNodeID(dir, id string) error {
	path := filepath.Join(dir, nodeIDFile)
	old, err := os.ReadFile(path)
	switch {
	case err == nil && string(old) != id:
		return fmt.Errorf("cluster: this directory is node %s's, not %s's: %w", old, id, ErrInvalidArgument)
	case err == nil:
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("cluster: %w", err)
	}
	if err := os.WriteFile(path+".tmp", []byte(id), 0o644); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// close stops the node: nothing is proposed or applied after it.
func (c *clusterNode) close() error {
	c.writable.Store(false)
	close(c.stop)
	err := c.raft.Shutdown().Error()
	c.wg.Wait()
	c.pmu.Lock()
	if g := c.open; g != nil {
		c.open = nil
		g.finish(ErrClosed) // never handed to raft: nothing was written
	}
	c.pmu.Unlock()
	if terr := c.trans.Close(); err == nil {
		err = terr
	}
	if lerr := c.logs.Close(); err == nil {
		err = lerr
	}
	return err
}

// ready returns nil if this node takes writes now: it leads, settled, and
// can apply the log.
func (c *clusterNode) ready() error {
	if err := c.broken(); err != nil {
		return err
	}
	if !c.writable.Load() {
		return c.notLeader()
	}
	return nil
}

// Enter implements engine.Replica.
func (c *clusterNode) Enter(snapshot uint64, reads bool) error {
	if err := c.ready(); err != nil {
		return err
	}
	select {
	case c.slots <- struct{}{}:
	case <-c.stop:
		return ErrClosed
	}
	if reads && snapshot < c.since.Load() {
		// Commits this node applied from another leader's log are not in
		// its oracle's records: a snapshot from before its leadership
		// cannot be checked against them.
		<-c.slots
		return fmt.Errorf("commit: snapshot from before this node led: %w", ErrConflict)
	}
	return nil
}

// Leave implements engine.Replica.
func (c *clusterNode) Leave() { <-c.slots }

// Propose implements engine.Replica.
func (c *clusterNode) Propose(v uint64, rec []byte) (engine.Proposal, error) {
	if !c.writable.Load() {
		c.dirty.Store(true) // a guard may have changed a status for it
		return nil, c.notLeader()
	}
	c.pmu.Lock()
	g := c.open
	if g == nil {
		g = &proposalGroup{c: c, done: make(chan struct{})}
		c.open = g
	}
	g.buf = binary.AppendUvarint(g.buf, uint64(len(rec)))
	g.buf = append(g.buf, rec...)
	g.n++
	c.pmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return g, nil
}

// pump hands the open group to raft whenever there is one. raft.Apply
// returns once raft's leader loop took the entry, which it does between
// writes of its log: what is proposed meanwhile gathers in the next group.
func (c *clusterNode) pump() {
	defer c.wg.Done()
	defer close(c.sent)
	for {
		select {
		case <-c.wake:
		case <-c.stop:
			return
		}
		for {
			c.pmu.Lock()
			g := c.open
			c.open = nil
			c.pmu.Unlock()
			if g == nil {
				break
			}
			c.sent <- sentGroup{g, c.raft.Apply(g.buf, 0)}
		}
	}
}

// await completes the groups in the order they were handed to raft, which
// is the order raft completes them in.
func (c *clusterNode) await() {
	defer c.wg.Done()
	for s := range c.sent {
		err := c.wait(s.f)
		if err == nil {
			switch r := s.f.Response().(type) {
			case error:
				err = r
			case appliedRange:
				s.g.applied = r
			}
		}
		if err != nil || s.g.passedOver() {
			// Versions this node assigned were not applied: settle
			// before proposing again.
			c.writable.Store(false)
			c.dirty.Store(true)
			c.kickSteward()
		}
		s.g.finish(c.mapErr(err, true))
	}
}

// wait returns f's error once raft answers it, or raft.ErrRaftShutdown
// once this node is stopping: raft leaves unanswered a future whose entry
// it committed but had not applied when it shut down. The goroutine that
// waits for raft's answer then stays until the process ends (one per
// future raft dropped); nothing waits on it.
func (c *clusterNode) wait(f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-c.stop:
		select {
		case err := <-done:
			return err
		case <-time.After(clusterOpTimeout):
			return raft.ErrRaftShutdown
		}
	}
}

func (c *clusterNode) kickSteward() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// steward follows this node's leadership: it makes the node writable once
// it leads and has settled, and settles it again when it stops leading or
// a proposal failed.
func (c *clusterNode) steward() {
	defer c.wg.Done()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		case <-c.raft.LeaderCh():
		case <-t.C:
		}
		leader := c.raft.State() == raft.Leader
		switch {
		case leader && !c.writable.Load() && c.broken() == nil:
			// Everything committed before this term is applied once the
			// barrier is: the next version is the one after it.
			if err := c.wait(c.raft.Barrier(clusterOpTimeout)); err != nil {
				continue
			}
			if !c.settle() {
				return
			}
			if c.raft.State() == raft.Leader {
				c.writable.Store(true)
			}
		case !leader && (c.writable.Load() || c.dirty.Load()):
			c.writable.Store(false)
			if !c.settle() {
				return
			}
		}
	}
}

// settle waits until no committer is inside the commit path, then makes
// the oracle, the run statuses and the runs' last step times agree with
// what this node applied. It returns false if the node is stopping.
func (c *clusterNode) settle() bool {
	for len(c.slots) > 0 {
		select {
		case <-c.stop:
			return false
		case <-time.After(time.Millisecond):
		}
	}
	c.dirty.Store(false)
	db := c.db
	c.applyMu.Lock()
	defer c.applyMu.Unlock()
	v := db.store.Oracle.Visible()
	db.store.Oracle.Rewind(v)
	c.since.Store(v)
	db.runsMu.RLock()
	defer db.runsMu.RUnlock()
	for _, rs := range db.runs {
		rs.mu.Lock()
		if RunStatus(rs.status.Load()) != statusDeleted {
			rs.status.Store(uint32(rs.info.Status))
		}
		rs.mu.Unlock()
		// The next step's time is kept after the last applied one, which
		// another leader may have given.
		rs.Proposed = engine.StepRec{Time: rs.LastStep}
	}
	return true
}

// broken returns the error that stopped this node from applying the log,
// if one did.
func (c *clusterNode) broken() error {
	if p := c.fault.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *clusterNode) notLeader() error {
	addr, id := c.raft.LeaderWithID()
	if string(id) == c.cfg.NodeID {
		id, addr = "", "" // this node is elected but not settled yet
	}
	return &NotLeaderError{LeaderID: string(id), LeaderAddr: string(addr)}
}

// mapErr turns raft's errors into the database's. proposed says whether
// the error is a commit's, which raft may have appended to its log.
func (c *clusterNode) mapErr(err error, proposed bool) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return c.notLeader() // refused before it was appended
	case errors.Is(err, raft.ErrRaftShutdown) && !proposed:
		return ErrClosed
	case proposed:
		if errors.Is(err, ErrCorruption) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrUnknownOutcome, err)
	case errors.Is(err, raft.ErrLeadershipLost):
		return c.notLeader()
	default:
		return fmt.Errorf("cluster: %w", err)
	}
}

// tcpStream is the raft transport's stream layer over TCP. It keeps the
// connections it made or accepted and closes them with the listener:
// raft's transport closes only the listener, and the goroutines serving
// its connections would otherwise wait until the other side closed them
// or the garbage collector did.
type tcpStream struct {
	net.Listener
	mu     sync.Mutex
	conns  map[*streamConn]struct{}
	closed bool
}

func newTCPStream(ln net.Listener) *tcpStream {
	return &tcpStream{Listener: ln, conns: map[*streamConn]struct{}{}}
}

func (s *tcpStream) Accept() (net.Conn, error) {
	c, err := s.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return s.track(c)
}

func (s *tcpStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	if err != nil {
		return nil, err
	}
	return s.track(c)
}

func (s *tcpStream) track(c net.Conn) (net.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	sc := &streamConn{Conn: c, s: s}
	s.conns[sc] = struct{}{}
	return sc, nil
}

func (s *tcpStream) Close() error {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
	return s.Listener.Close()
}

type streamConn struct {
	net.Conn
	s *tcpStream
}

func (c *streamConn) Close() error {
	c.s.mu.Lock()
	delete(c.s.conns, c)
	c.s.mu.Unlock()
	return c.Conn.Close()
}

// slogWriter takes raft's log lines (warnings and errors) into the
// database's logger.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn(strings.TrimSpace(string(p)))
	return len(p), nil
}

var _ io.Writer = slogWriter{}
