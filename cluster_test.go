package inmem

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

func TestClusterOptionErrors(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]Cluster{
		"no node id":          {Addr: "127.0.0.1:1"},
		"no address":          {NodeID: "n1"},
		"negative heartbeat":  {NodeID: "n1", Addr: "127.0.0.1:1", HeartbeatTimeout: -time.Second},
		"not among its peers": {NodeID: "n1", Addr: "127.0.0.1:1", Bootstrap: []Peer{{ID: "n2", Addr: "127.0.0.1:2"}}},
		"repeated peer":       {NodeID: "n1", Addr: "127.0.0.1:1", Bootstrap: []Peer{{ID: "n1", Addr: "127.0.0.1:1"}, {ID: "n1", Addr: "127.0.0.1:2"}}},
		"empty peer address":  {NodeID: "n1", Addr: "127.0.0.1:1", Bootstrap: []Peer{{ID: "n1"}}},
	} {
		_, err := Open(dir, WithCluster(c))
		require.ErrorIs(t, err, ErrInvalidArgument, name)
	}
	ok := Cluster{NodeID: "n1", Addr: "127.0.0.1:1"}
	_, err := OpenInMemory(WithCluster(ok))
	require.ErrorIs(t, err, ErrInvalidArgument)
	_, err = Open(dir, WithCluster(ok), WithReadOnly())
	require.ErrorIs(t, err, ErrInvalidArgument)
}

func TestClusterOfASingleDatabase(t *testing.T) {
	db, err := OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	c := db.Cluster()
	_, err = c.Status()
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.ErrorIs(t, c.AddVoter("n2", "127.0.0.1:2"), ErrInvalidArgument)
	require.ErrorIs(t, c.AddNonvoter("n2", "127.0.0.1:2"), ErrInvalidArgument)
	require.ErrorIs(t, c.Remove("n2"), ErrInvalidArgument)
	require.ErrorIs(t, c.Barrier(), ErrInvalidArgument)
	require.ErrorIs(t, c.WaitApplied(1, time.Millisecond), ErrInvalidArgument)
}

// TestClusterFollowers: writes on a follower are refused with the
// leader's name and change nothing; a follower reads what the leader
// committed once it applied it; and every node holds the same state of
// every primitive, step times included.
func TestClusterFollowers(t *testing.T) {
	jc := newJCluster(t, 3)
	l := jc.waitLeader()
	leader := jc.nodes[l].db.Load()
	f := jc.nodes[(l+1)%3].db.Load()

	run, err := leader.BeginRun(Name("agent"), Tags("t"))
	require.NoError(t, err)
	require.NoError(t, run.Update(func(tx *Tx) error {
		if err := tx.KV().Put("k", []byte("v")); err != nil {
			return err
		}
		if _, err := tx.Events().Append("e", []byte("payload")); err != nil {
			return err
		}
		_, err := tx.State().Set("cell", []byte("1"))
		return err
	}))
	require.NoError(t, run.Vectors().CreateCollection("docs", VectorConfig{Dim: 3, Metric: Cosine}))
	require.NoError(t, run.Vectors().Upsert("docs", "a", []float32{1, 0, 0}, map[string]any{"x": 1}))
	_, err = run.Traces().Record(Span{Kind: LLMCall, Name: "chat model", Start: time.Unix(1, 0), End: time.Unix(2, 0)})
	require.NoError(t, err)
	fork, err := leader.Fork(run.ID(), 1)
	require.NoError(t, err)
	require.NoError(t, run.End(Completed, ""))
	v := leader.Stats().Version

	before := f.Stats().Version
	err = f.Shared(Namespace{}).KV().Put("x", []byte("y"))
	require.ErrorIs(t, err, ErrNotLeader)
	var nl *NotLeaderError
	require.ErrorAs(t, err, &nl)
	require.Equal(t, jc.nodes[l].id, nl.LeaderID)
	require.Equal(t, jc.nodes[l].addr, nl.LeaderAddr)
	_, err = f.BeginRun()
	require.ErrorIs(t, err, ErrNotLeader)
	require.ErrorIs(t, f.Cluster().Barrier(), ErrNotLeader)
	require.LessOrEqual(t, f.Stats().Version, v)
	require.GreaterOrEqual(t, f.Stats().Version, before)

	var want []byte
	for _, n := range jc.nodes {
		db := n.db.Load()
		require.NoError(t, db.Cluster().WaitApplied(v, 10*time.Second))
		r, err := db.Run(run.ID())
		require.NoError(t, err)
		got, err := r.KV().Get("k")
		require.NoError(t, err)
		require.Equal(t, "v", string(got))
		hits, err := r.Vectors().Search("docs", []float32{1, 0, 0}, 1)
		require.NoError(t, err)
		require.Len(t, hits, 1)
		info, err := db.Runs().Get(fork.ID())
		require.NoError(t, err)
		require.Equal(t, run.ID(), info.ForkOf)
		steps, err := r.Steps()
		require.NoError(t, err)
		st := jStateOf(t, db, v)
		st = append(st, fmt.Sprint(steps)...) // versions and step times
		if want == nil {
			want = st
		}
		require.Equal(t, string(want), string(st), n.id)
		s, err := db.Cluster().Status()
		require.NoError(t, err)
		require.Equal(t, jc.nodes[l].id, s.LeaderID)
		require.Len(t, s.Members, 3)
		require.GreaterOrEqual(t, s.Applied, v)
	}
	err = f.Cluster().WaitApplied(v+1000, 50*time.Millisecond)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, f.Runs().Freeze(run.ID()), ErrInvalidArgument)
	require.ErrorIs(t, f.Runs().Delete(run.ID()), ErrNotLeader)
}

// TestClusterUnknownOutcome: a leader cut off from the others cannot
// commit; a write it had proposed fails with ErrUnknownOutcome or
// ErrNotLeader, never with success, and the cluster goes on without it.
func TestClusterUnknownOutcome(t *testing.T) {
	jc := newJCluster(t, 3)
	l := jc.waitLeader()
	old := jc.nodes[l].db.Load()
	jc.isolate(l)
	err := old.Shared(Namespace{}).KV().Put("k", []byte("lost"))
	require.Error(t, err)
	require.True(t, errors.Is(err, ErrUnknownOutcome) || errors.Is(err, ErrNotLeader), "%v", err)
	// The other two elect a leader and take writes.
	var nl int
	require.Eventually(t, func() bool { nl = jc.leader(); return nl >= 0 && nl != l }, 20*time.Second, 10*time.Millisecond)
	leader := jc.nodes[nl].db.Load()
	require.NoError(t, leader.Shared(Namespace{}).KV().Put("k", []byte("new")))
	jc.fab.heal()
	v := leader.Stats().Version
	require.NoError(t, old.Cluster().WaitApplied(v, 20*time.Second))
	got, err := old.Shared(Namespace{}).KV().Get("k")
	require.NoError(t, err)
	require.Equal(t, "new", string(got))
}

// TestClusterMembership: a cluster of one grows to two with AddVoter (the
// new node gets the whole log), then shrinks back with Remove.
func TestClusterMembership(t *testing.T) {
	jc := newJCluster(t, 1)
	l := jc.waitLeader()
	leader := jc.nodes[l].db.Load()
	for i := range 100 {
		require.NoError(t, leader.Shared(Namespace{}).KV().Put(fmt.Sprint("k", i), []byte("v")))
	}
	addr := freeAddr(t)
	dir := t.TempDir()
	jc.fab.register("n2", addr)
	db2, err := Open(dir, WithCluster(Cluster{NodeID: "n2", Addr: addr, HeartbeatTimeout: 200 * time.Millisecond}), withClusterStream(jc.fab.stream("n2")))
	require.NoError(t, err)
	defer db2.Close()
	require.NoError(t, leader.Cluster().AddVoter("n2", addr))
	require.NoError(t, db2.Cluster().WaitApplied(leader.Stats().Version, 10*time.Second))
	got, err := db2.Shared(Namespace{}).KV().Get("k99")
	require.NoError(t, err)
	require.Equal(t, "v", string(got))
	s, err := db2.Cluster().Status()
	require.NoError(t, err)
	require.Len(t, s.Members, 2)
	require.ErrorIs(t, db2.Cluster().AddVoter("n3", "127.0.0.1:1"), ErrNotLeader)
	require.NoError(t, leader.Cluster().Remove("n2"))
	s, err = leader.Cluster().Status()
	require.NoError(t, err)
	require.Equal(t, []Peer{{ID: jc.nodes[l].id, Addr: jc.nodes[l].addr}}, s.Members)

	// A read replica: it applies the log, refuses writes, and is no member.
	addr3 := freeAddr(t)
	jc.fab.register("n3", addr3)
	db3, err := Open(t.TempDir(), WithCluster(Cluster{NodeID: "n3", Addr: addr3, HeartbeatTimeout: 200 * time.Millisecond}), withClusterStream(jc.fab.stream("n3")))
	require.NoError(t, err)
	defer db3.Close()
	require.NoError(t, leader.Cluster().AddNonvoter("n3", addr3))
	require.NoError(t, leader.Shared(Namespace{}).KV().Put("replica", []byte("sees it")))
	require.NoError(t, db3.Cluster().WaitApplied(leader.Stats().Version, 10*time.Second))
	got, err = db3.Shared(Namespace{}).KV().Get("replica")
	require.NoError(t, err)
	require.Equal(t, "sees it", string(got))
	require.ErrorIs(t, db3.Shared(Namespace{}).KV().Put("x", []byte("y")), ErrNotLeader)
	s, err = db3.Cluster().Status()
	require.NoError(t, err)
	require.Len(t, s.Members, 1)
	require.Equal(t, []Peer{{ID: "n3", Addr: addr3}}, s.NonVoters)
	require.ErrorIs(t, leader.Cluster().AddVoter("", "x"), ErrInvalidArgument)
	require.ErrorIs(t, leader.Cluster().AddNonvoter("x", ""), ErrInvalidArgument)
	require.ErrorIs(t, leader.Cluster().Remove(""), ErrInvalidArgument)
}

// TestClusterRestart: every node closed and opened again holds what it
// held, and the cluster takes writes again.
func TestClusterRestart(t *testing.T) {
	jc := newJCluster(t, 3)
	l := jc.waitLeader()
	leader := jc.nodes[l].db.Load()
	run, err := leader.BeginRun()
	require.NoError(t, err)
	for i := range 50 {
		require.NoError(t, run.KV().Put(fmt.Sprint("k", i), []byte("v")))
	}
	require.NoError(t, leader.Checkpoint())
	require.NoError(t, run.KV().Put("after", []byte("checkpoint")))
	v := leader.Stats().Version
	for i := range jc.nodes {
		require.NoError(t, jc.nodes[i].db.Load().Cluster().WaitApplied(v, 10*time.Second))
	}
	for i := range jc.nodes {
		jc.close(i)
	}
	for i := range jc.nodes {
		jc.open(i)
	}
	for _, n := range jc.nodes {
		db := n.db.Load()
		require.NoError(t, db.Cluster().WaitApplied(v, 10*time.Second))
		r, err := db.Run(run.ID())
		require.NoError(t, err)
		got, err := r.KV().Get("after")
		require.NoError(t, err)
		require.Equal(t, "checkpoint", string(got))
	}
	l = jc.waitLeader()
	require.NoError(t, jc.nodes[l].db.Load().Shared(Namespace{}).KV().Put("again", []byte("yes")))
}

// TestClusterInstallSnapshot: a node added once the leader's log was
// compacted gets the leader's snapshot, loads it, follows the log after
// it, and holds all of it after a restart.
func TestClusterInstallSnapshot(t *testing.T) {
	addr1, addr2 := freeAddr(t), freeAddr(t)
	dir1 := t.TempDir()
	db1, err := Open(dir1, WithCluster(Cluster{NodeID: "n1", Addr: addr1, Bootstrap: []Peer{{ID: "n1", Addr: addr1}}, HeartbeatTimeout: 200 * time.Millisecond}),
		withClusterLogs(32, 8))
	require.NoError(t, err)
	defer db1.Close()
	var run *Run
	require.Eventually(t, func() bool {
		run, err = db1.BeginRun(Name("before"))
		return err == nil
	}, 20*time.Second, 10*time.Millisecond)
	for i := range 300 {
		require.NoError(t, run.KV().Put(fmt.Sprint("k", i), []byte(fmt.Sprint(i))))
	}
	require.NoError(t, db1.cluster.raft.Snapshot().Error())
	first, err := db1.cluster.logs.FirstIndex()
	require.NoError(t, err)
	require.Greater(t, first, uint64(1), "the log was compacted")

	dir2 := t.TempDir()
	open2 := func() *DB {
		db, err := Open(dir2, WithCluster(Cluster{NodeID: "n2", Addr: addr2, HeartbeatTimeout: 200 * time.Millisecond}))
		require.NoError(t, err)
		return db
	}
	db2 := open2()
	require.NoError(t, db1.Cluster().AddVoter("n2", addr2))
	require.NoError(t, run.KV().Put("after", []byte("the snapshot")))
	v := db1.Stats().Version
	require.NoError(t, db2.Cluster().WaitApplied(v, 20*time.Second))
	require.NotZero(t, db2.snapAt.Load(), "n2 loaded the leader's snapshot")
	check := func(db *DB) {
		r, err := db.Run(run.ID())
		require.NoError(t, err)
		got, err := r.KV().Get("k299")
		require.NoError(t, err)
		require.Equal(t, "299", string(got))
		got, err = r.KV().Get("after")
		require.NoError(t, err)
		require.Equal(t, "the snapshot", string(got))
		require.Equal(t, string(jStateOf(t, db1, v)), string(jStateOf(t, db, v)))
	}
	check(db2)
	require.NoError(t, db2.Close())
	db2 = open2()
	defer db2.Close()
	require.NoError(t, db2.Cluster().WaitApplied(v, 20*time.Second))
	check(db2)
}

// TestClusterCatchUpFromSnapshot: a follower that was down while the
// leader wrote, compacted its log and deleted a run comes back behind the
// log: it takes the leader's snapshot over what it had (runs it held grow,
// new ones appear, the deleted one goes, its vector graph is rebuilt) and
// ends with the leader's state, which it keeps across a restart.
func TestClusterCatchUpFromSnapshot(t *testing.T) {
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	var peers []Peer
	for i, a := range addrs {
		peers = append(peers, Peer{ID: fmt.Sprint("n", i+1), Addr: a})
	}
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	open := func(i int) *DB {
		db, err := Open(dirs[i], WithCluster(Cluster{NodeID: peers[i].ID, Addr: peers[i].Addr, Bootstrap: peers, HeartbeatTimeout: 200 * time.Millisecond}),
			withClusterLogs(32, 8))
		require.NoError(t, err)
		return db
	}
	dbs := []*DB{open(0), open(1), open(2)}
	defer func() {
		for _, db := range dbs {
			if db != nil {
				db.Close()
			}
		}
	}()
	leader := func() int {
		for i, db := range dbs {
			if db != nil && db.cluster.writable.Load() {
				return i
			}
		}
		return -1
	}
	var l int
	require.Eventually(t, func() bool { l = leader(); return l >= 0 }, 20*time.Second, 10*time.Millisecond)
	ldb := dbs[l]
	kept, err := ldb.BeginRun(Name("kept"))
	require.NoError(t, err)
	doomed, err := ldb.BeginRun(Name("doomed"))
	require.NoError(t, err)
	require.NoError(t, kept.Vectors().CreateCollection("docs", VectorConfig{Dim: 2, Metric: Cosine}))
	require.NoError(t, kept.Vectors().Upsert("docs", "a", []float32{1, 0}, nil))
	require.NoError(t, kept.KV().Put("before", []byte("1")))
	f := (l + 1) % 3
	v := ldb.Stats().Version
	require.NoError(t, dbs[f].Cluster().WaitApplied(v, 10*time.Second))
	// The follower builds the graph, so the snapshot must replace it.
	r, err := dbs[f].Run(kept.ID())
	require.NoError(t, err)
	_, err = r.Vectors().Search("docs", []float32{1, 0}, 1)
	require.NoError(t, err)
	require.NoError(t, dbs[f].Close())
	dbs[f] = nil

	for i := range 200 {
		require.NoError(t, kept.KV().Put(fmt.Sprint("k", i), []byte(fmt.Sprint(i))))
	}
	require.NoError(t, kept.Vectors().Upsert("docs", "b", []float32{0, 1}, nil))
	require.NoError(t, ldb.Runs().Delete(doomed.ID()))
	fresh, err := ldb.BeginRun(Name("fresh"))
	require.NoError(t, err)
	require.NoError(t, fresh.KV().Put("x", []byte("y")))
	require.NoError(t, ldb.cluster.raft.Snapshot().Error())
	first, err := ldb.cluster.logs.FirstIndex()
	require.NoError(t, err)
	require.Greater(t, first, uint64(10), "the log was compacted past what the follower had")
	v = ldb.Stats().Version

	dbs[f] = open(f)
	require.NoError(t, dbs[f].Cluster().WaitApplied(v, 20*time.Second))
	require.Equal(t, v, dbs[f].snapAt.Load(), "the follower took the leader's snapshot")
	check := func(db *DB) {
		require.Equal(t, string(jStateOf(t, ldb, v)), string(jStateOf(t, db, v)))
		require.Equal(t, ldb.store.Current().List.Len(), db.store.Current().List.Len(), "entries, each once")
		_, err := db.Run(doomed.ID())
		require.ErrorIs(t, err, ErrRunNotFound)
		r, err := db.Run(kept.ID())
		require.NoError(t, err)
		hits, err := r.Vectors().Search("docs", []float32{0, 1}, 1)
		require.NoError(t, err)
		require.Equal(t, "b", hits[0].Key)
		steps, err := r.Steps()
		require.NoError(t, err)
		lr, err := ldb.Run(kept.ID())
		require.NoError(t, err)
		want, err := lr.Steps()
		require.NoError(t, err)
		require.Equal(t, want, steps)
	}
	check(dbs[f])
	require.NoError(t, dbs[f].Close())
	dbs[f] = open(f)
	require.NoError(t, dbs[f].Cluster().WaitApplied(v, 20*time.Second))
	check(dbs[f])
}

// TestClusterNoGoroutineLeak: three nodes that elected, committed and
// closed leave no goroutine behind: raft's, the transport's and the
// node's own all end with Close.
func TestClusterNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	jc := newJCluster(t, 3)
	l := jc.waitLeader()
	for i := range 50 {
		require.NoError(t, jc.nodes[l].db.Load().Shared(Namespace{}).KV().Put(fmt.Sprint("k", i), []byte("v")))
	}
	for i := range jc.nodes {
		jc.close(i)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// lead makes node i of jc the writable leader, by a leadership transfer
// from whichever node leads.
func (jc *jcluster) lead(t *testing.T, i int) *DB {
	t.Helper()
	require.Eventually(t, func() bool {
		if l := jc.leader(); l == i {
			return true
		} else if l >= 0 {
			_ = jc.nodes[l].db.Load().cluster.raft.LeadershipTransferToServer(raft.ServerID(jc.nodes[i].id), raft.ServerAddress(jc.nodes[i].addr)).Error()
		}
		return false
	}, 30*time.Second, 20*time.Millisecond)
	return jc.nodes[i].db.Load()
}

// TestClusterSnapshotBeforeLeadership: a transaction that read on a node
// before it led, while another leader overwrote what it read, cannot
// commit once the node leads: that write is not in the node's commit
// records, so the commit is refused (ErrConflict) rather than losing it.
func TestClusterSnapshotBeforeLeadership(t *testing.T) {
	jc := newJCluster(t, 3)
	l := jc.waitLeader()
	f := (l + 1) % 3
	leader := jc.nodes[l].db.Load()
	require.NoError(t, leader.Shared(Namespace{}).KV().Put("balance", []byte("100")))
	require.NoError(t, jc.nodes[f].db.Load().Cluster().WaitApplied(leader.Stats().Version, 10*time.Second))

	tx, err := jc.nodes[f].db.Load().Shared(Namespace{}).Begin(true)
	require.NoError(t, err)
	defer tx.Discard()
	got, err := tx.KV().Get("balance")
	require.NoError(t, err)
	require.Equal(t, "100", string(got))
	require.NoError(t, leader.Shared(Namespace{}).KV().Put("balance", []byte("50")))
	require.NoError(t, jc.nodes[f].db.Load().Cluster().WaitApplied(leader.Stats().Version, 10*time.Second))

	jc.lead(t, f)
	require.NoError(t, tx.KV().Put("balance", []byte("90")))
	require.ErrorIs(t, tx.Commit(), ErrConflict)
	got, err = jc.nodes[f].db.Load().Shared(Namespace{}).KV().Get("balance")
	require.NoError(t, err)
	require.Equal(t, "50", string(got))
}

// TestClusterLeadershipRegained: a leader cut off with a write in flight
// leaves a version assigned and never applied; when it leads again it
// forgets that version, so its commits go on from what the cluster
// applied and every node takes them.
func TestClusterLeadershipRegained(t *testing.T) {
	jc := newJCluster(t, 3)
	l := jc.waitLeader()
	old := jc.nodes[l].db.Load()
	run, err := old.BeginRun()
	require.NoError(t, err)
	jc.isolate(l)
	// A status change that cannot commit: the guard that admitted it
	// changed the run's status in memory, which must not stay.
	err = run.End(Completed, "")
	require.ErrorIs(t, err, ErrUnknownOutcome)
	err = old.Shared(Namespace{}).KV().Put("k", []byte("lost"))
	require.True(t, errors.Is(err, ErrUnknownOutcome) || errors.Is(err, ErrNotLeader), "%v", err)
	require.Eventually(t, func() bool { n := jc.leader(); return n >= 0 && n != l }, 20*time.Second, 10*time.Millisecond)
	jc.fab.heal()
	db := jc.lead(t, l)
	require.NoError(t, db.Shared(Namespace{}).KV().Put("k", []byte("again")))
	info, err := db.Runs().Get(run.ID())
	require.NoError(t, err)
	require.Equal(t, Active, info.Status)
	require.NoError(t, run.KV().Put("still", []byte("active")))
	v := db.Stats().Version
	for _, n := range jc.nodes {
		require.NoError(t, n.db.Load().Cluster().WaitApplied(v, 10*time.Second), n.id)
		got, err := n.db.Load().Shared(Namespace{}).KV().Get("k")
		require.NoError(t, err)
		require.Equal(t, "again", string(got))
	}
}

// TestClusterStepTimesAcrossLeaders: nodes whose clocks disagree keep a
// run's step times in step order when leadership moves from a node whose
// clock is ahead to one whose clock is behind.
func TestClusterStepTimesAcrossLeaders(t *testing.T) {
	clocks := []time.Duration{time.Hour, 0, 0}
	jc := &jcluster{t: t, fab: newFabric()}
	for i := range 3 {
		addr := freeAddr(t)
		id := fmt.Sprintf("n%d", i+1)
		jc.nodes = append(jc.nodes, &jnode{id: id, addr: addr, dir: t.TempDir()})
		jc.peers = append(jc.peers, Peer{ID: id, Addr: addr})
		jc.fab.register(id, addr)
	}
	for i, n := range jc.nodes {
		skew := clocks[i]
		db, err := Open(n.dir, WithCluster(Cluster{NodeID: n.id, Addr: n.addr, Bootstrap: jc.peers, HeartbeatTimeout: 200 * time.Millisecond}),
			withClusterStream(jc.fab.stream(n.id)), WithClock(func() time.Time { return time.Now().Add(skew) }))
		require.NoError(t, err)
		n.db.Store(db)
	}
	defer func() {
		for i := range jc.nodes {
			jc.close(i)
		}
	}()
	ahead := jc.lead(t, 0)
	run, err := ahead.BeginRun()
	require.NoError(t, err)
	require.NoError(t, run.KV().Put("a", []byte("1")))
	behind := jc.lead(t, 1)
	r, err := behind.Run(run.ID())
	require.NoError(t, err)
	require.NoError(t, r.KV().Put("b", []byte("2")))
	steps, err := r.Steps()
	require.NoError(t, err)
	require.Len(t, steps, 2)
	require.False(t, steps[1].Time.Before(steps[0].Time), "step 2 at %v, before step 1 at %v", steps[1].Time, steps[0].Time)
}
