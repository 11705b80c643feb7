package inmem

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// Cluster configures this database as one node of a replicated cluster
// (WithCluster). The nodes replicate their commits through raft
// (hashicorp/raft): the leader runs transactions as a single node does,
// and the record each commit writes is the raft log entry that every
// node, the leader included, applies in order. A commit returns once a
// quorum holds it and the leader applied it.
type Cluster struct {
	// NodeID names this node in the cluster; it never changes.
	NodeID string
	// Addr is this node's raft address (host:port): it listens there,
	// and the other nodes dial it.
	Addr string
	// Bootstrap lists the first voters of a new cluster, this node among
	// them. It is used only when the directory holds no cluster state yet;
	// a node that is to join an existing cluster (AddVoter) leaves it empty.
	Bootstrap []Peer
	// HeartbeatTimeout is how long a follower waits for the leader before
	// it stands for election (the election timeout is the same); 0 means
	// one second. A shorter one fails over faster and elects more often
	// on a busy network.
	HeartbeatTimeout time.Duration
}

// Peer is a member of a cluster.
type Peer struct {
	ID   string
	Addr string
}

// ClusterStatus is a node's view of its cluster (ClusterNode.Status).
type ClusterStatus struct {
	NodeID string
	// LeaderID and LeaderAddr name the leader this node knows of; empty
	// while there is none (an election, or this node is cut off).
	LeaderID   string
	LeaderAddr string
	// Term is the raft term this node is in.
	Term uint64
	// Applied is the version of the last commit this node applied: its
	// reads see every commit up to it (Stats().Version is the same).
	Applied uint64
	// Members are the cluster's voters, as this node's configuration
	// holds them.
	Members []Peer
	// NonVoters are the read replicas (AddNonvoter): they receive the log
	// and apply it, and neither vote nor count toward a quorum.
	NonVoters []Peer
}

// ErrNotLeader is returned by a write, Barrier, AddVoter or Remove on a
// node that is not the cluster's leader. Nothing was written. The error
// is a *NotLeaderError naming the leader, if one is known.
var ErrNotLeader = errors.New("inmem: not the cluster's leader")

// ErrUnknownOutcome is returned by a commit whose outcome this node cannot
// know: its leadership ended after the record was proposed, so the commit
// may or may not be in the cluster's log. Read (on the new leader, after
// Barrier) before retrying a write that is not idempotent.
var ErrUnknownOutcome = errors.New("inmem: the commit's outcome is unknown")

// NotLeaderError is ErrNotLeader with the leader this node knows of (empty
// fields: none is known, an election is under way).
type NotLeaderError struct {
	LeaderID   string
	LeaderAddr string
}

func (e *NotLeaderError) Error() string {
	if e.LeaderID == "" {
		return ErrNotLeader.Error() + " (no leader is known)"
	}
	return fmt.Sprintf("%s (the leader is %s at %s)", ErrNotLeader, e.LeaderID, e.LeaderAddr)
}

// Unwrap makes errors.Is(err, ErrNotLeader) hold.
func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }

// WithCluster opens the database as a node of a replicated cluster (see
// Cluster). It needs a directory (Open, not OpenInMemory) and is not
// combined with WithReadOnly. The cold tier does not run on a cluster
// node (its files would be one node's alone): ended runs stay in memory.
func WithCluster(c Cluster) Option {
	return func(o *options) {
		if c.NodeID == "" || c.Addr == "" {
			o.err = fmt.Errorf("cluster: NodeID and Addr are required: %w", ErrInvalidArgument)
			return
		}
		if c.HeartbeatTimeout < 0 {
			o.err = fmt.Errorf("cluster: negative heartbeat timeout: %w", ErrInvalidArgument)
			return
		}
		seen := map[string]bool{}
		self := len(c.Bootstrap) == 0
		for _, p := range c.Bootstrap {
			if p.ID == "" || p.Addr == "" || seen[p.ID] {
				o.err = fmt.Errorf("cluster: bootstrap peer %q at %q: empty or repeated: %w", p.ID, p.Addr, ErrInvalidArgument)
				return
			}
			seen[p.ID] = true
			self = self || p.ID == c.NodeID
		}
		if !self {
			o.err = fmt.Errorf("cluster: node %s is not among its bootstrap peers: %w", c.NodeID, ErrInvalidArgument)
			return
		}
		cc := c
		cc.Bootstrap = append([]Peer(nil), c.Bootstrap...)
		o.cluster = &cc
	}
}

// ClusterNode is the cluster side of a database opened WithCluster
// (DB.Cluster). On a database opened without it, every method returns an
// error wrapping ErrInvalidArgument.
type ClusterNode struct {
	c *clusterNode // nil: not a cluster node
}

// Cluster returns the database's cluster node.
func (db *DB) Cluster() *ClusterNode { return &ClusterNode{c: db.cluster} }

// errNoCluster is what a ClusterNode of a single database returns.
var errNoCluster = fmt.Errorf("cluster: the database was not opened WithCluster: %w", ErrInvalidArgument)

func (n *ClusterNode) node() (*clusterNode, error) {
	if n == nil || n.c == nil {
		return nil, errNoCluster
	}
	if n.c.db.closed.Load() {
		return nil, ErrClosed
	}
	return n.c, nil
}

// Status returns this node's view of the cluster.
func (n *ClusterNode) Status() (ClusterStatus, error) {
	c, err := n.node()
	if err != nil {
		return ClusterStatus{}, err
	}
	addr, id := c.raft.LeaderWithID()
	st := ClusterStatus{
		NodeID:     c.cfg.NodeID,
		LeaderID:   string(id),
		LeaderAddr: string(addr),
		Term:       c.raft.CurrentTerm(),
		Applied:    c.db.store.Oracle.Visible(),
	}
	f := c.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return st, fmt.Errorf("cluster status: %w", err)
	}
	st.Members, st.NonVoters = peersOf(f.Configuration())
	return st, nil
}

// peersOf splits a configuration's servers into voters and non-voters.
func peersOf(cfg raft.Configuration) (voters, nonVoters []Peer) {
	for _, s := range cfg.Servers {
		p := Peer{ID: string(s.ID), Addr: string(s.Address)}
		if s.Suffrage == raft.Voter {
			voters = append(voters, p)
		} else {
			nonVoters = append(nonVoters, p)
		}
	}
	return voters, nonVoters
}

// clusterOpTimeout bounds a membership change or a barrier.
const clusterOpTimeout = 10 * time.Second

// AddVoter adds a voting member (leader only). The new node is opened
// WithCluster with its own ID and address and no Bootstrap; it receives
// the log (or a snapshot) from the leader. Adding a member already there
// with the same address changes nothing.
func (n *ClusterNode) AddVoter(id, addr string) error {
	c, err := n.node()
	if err != nil {
		return err
	}
	if id == "" || addr == "" {
		return fmt.Errorf("cluster: add voter: empty id or address: %w", ErrInvalidArgument)
	}
	return c.mapErr(c.wait(c.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, clusterOpTimeout)), false)
}

// AddNonvoter adds a read replica (leader only): a node that receives the
// log and applies it, so its local reads serve traffic, without voting or
// counting toward a quorum (so it adds no latency to commits). AddVoter
// on it later makes it a voter.
func (n *ClusterNode) AddNonvoter(id, addr string) error {
	c, err := n.node()
	if err != nil {
		return err
	}
	if id == "" || addr == "" {
		return fmt.Errorf("cluster: add non-voter: empty id or address: %w", ErrInvalidArgument)
	}
	return c.mapErr(c.wait(c.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, clusterOpTimeout)), false)
}

// Remove removes a member or a read replica (leader only). A leader that removes itself
// steps down once the change is committed.
func (n *ClusterNode) Remove(id string) error {
	c, err := n.node()
	if err != nil {
		return err
	}
	if id == "" {
		return fmt.Errorf("cluster: remove: empty id: %w", ErrInvalidArgument)
	}
	return c.mapErr(c.wait(c.raft.RemoveServer(raft.ServerID(id), 0, clusterOpTimeout)), false)
}

// Barrier returns once this node, the leader, has applied every commit
// acknowledged before the call, anywhere in the cluster: reads on this
// node after it are linearizable. On a follower it returns
// ErrNotLeader; a leader cut off from a quorum cannot complete it.
func (n *ClusterNode) Barrier() error {
	c, err := n.node()
	if err != nil {
		return err
	}
	if err := c.mapErr(c.wait(c.raft.Barrier(clusterOpTimeout)), false); err != nil {
		return err
	}
	return c.broken()
}

// WaitApplied returns once this node has applied version (a writer's
// Stats().Version after its commit), so that its reads see that commit:
// read-your-writes on any node. It fails with an error wrapping
// context.DeadlineExceeded after timeout.
func (n *ClusterNode) WaitApplied(version uint64, timeout time.Duration) error {
	c, err := n.node()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for wait := 50 * time.Microsecond; ; wait = min(2*wait, 10*time.Millisecond) {
		applied := c.db.store.Oracle.Visible()
		if applied >= version {
			return nil
		}
		if err := c.broken(); err != nil {
			return err
		}
		if c.db.closed.Load() {
			return ErrClosed
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("cluster: version %d not applied within %v (applied: %d): %w", version, timeout, applied, context.DeadlineExceeded)
		}
		time.Sleep(min(wait, time.Until(deadline)))
	}
}

// ReadClusterStatus reads what a stopped cluster node's directory records:
// its ID, its term, the members of the last configuration in its log, and
// the version it applied. LeaderID and LeaderAddr are empty: only a
// running node knows its leader (ask it: ClusterNode.Status, or inmem
// cluster status HOST:PORT). A directory a running node holds gives an
// error wrapping ErrLocked; one that is no cluster node's, ErrNotFound.
func ReadClusterStatus(dir string) (ClusterStatus, error) {
	var st ClusterStatus
	rdir := filepath.Join(dir, "raft")
	id, err := os.ReadFile(filepath.Join(rdir, nodeIDFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, fmt.Errorf("cluster status: %s holds no cluster node: %w", dir, ErrNotFound)
	}
	if err != nil {
		return st, fmt.Errorf("cluster status: %w", err)
	}
	st.NodeID = string(id)
	logs, err := raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(rdir, "raft.db"),
		BoltOptions: &bbolt.Options{ReadOnly: true, Timeout: 200 * time.Millisecond},
	})
	if errors.Is(err, bbolt.ErrTimeout) {
		return st, fmt.Errorf("cluster status: a running node holds %s: %w", dir, ErrLocked)
	}
	if err != nil {
		return st, fmt.Errorf("cluster status: raft log: %w", err)
	}
	defer logs.Close()
	if st.Term, err = logs.GetUint64([]byte("CurrentTerm")); err != nil && err.Error() != "not found" {
		return st, fmt.Errorf("cluster status: term: %w", err)
	}
	cfg, err := lastConfiguration(logs, rdir)
	if err != nil {
		return st, fmt.Errorf("cluster status: configuration: %w", err)
	}
	st.Members, st.NonVoters = peersOf(cfg)
	db, err := Open(dir, WithReadOnly(), WithMustExist())
	if err != nil {
		return st, fmt.Errorf("cluster status: %w", err)
	}
	st.Applied = db.Stats().Version
	return st, db.Close()
}

// lastConfiguration finds the newest membership configuration in a raft
// log, or in the newest snapshot's metadata if the log no longer holds
// one. It only reads.
func lastConfiguration(logs *raftboltdb.BoltStore, rdir string) (raft.Configuration, error) {
	first, err := logs.FirstIndex()
	if err != nil {
		return raft.Configuration{}, err
	}
	last, err := logs.LastIndex()
	if err != nil {
		return raft.Configuration{}, err
	}
	for i := last; i >= first && i > 0; i-- {
		var l raft.Log
		if err := logs.GetLog(i, &l); err != nil {
			return raft.Configuration{}, err
		}
		if l.Type == raft.LogConfiguration {
			return raft.DecodeConfiguration(l.Data), nil
		}
	}
	metas, _ := filepath.Glob(filepath.Join(rdir, "snapshots", "*", "meta.json"))
	// Each snapshot's directory is named term-index-time: the newest
	// has the highest term and index.
	key := func(p string) [2]uint64 {
		var k [2]uint64
		parts := strings.SplitN(filepath.Base(filepath.Dir(p)), "-", 3)
		for i := range min(2, len(parts)) {
			k[i], _ = strconv.ParseUint(parts[i], 10, 64)
		}
		return k
	}
	slices.SortFunc(metas, func(a, b string) int {
		ka, kb := key(a), key(b)
		return cmp.Or(cmp.Compare(ka[0], kb[0]), cmp.Compare(ka[1], kb[1]))
	})
	if len(metas) == 0 {
		return raft.Configuration{}, nil
	}
	b, err := os.ReadFile(metas[len(metas)-1])
	if err != nil {
		return raft.Configuration{}, err
	}
	var meta raft.SnapshotMeta
	if err := json.Unmarshal(b, &meta); err != nil {
		return raft.Configuration{}, fmt.Errorf("%s: %v: %w", metas[len(metas)-1], err, ErrCorruption)
	}
	return meta.Configuration, nil
}
