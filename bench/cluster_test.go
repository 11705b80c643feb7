package bench

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	bolt "go.etcd.io/bbolt"
)

// A replicated commit against a single node's Strict commit, and reads on
// a follower against reads on the leader. The cluster is three nodes in
// this process on loopback, so all three share this machine's cores and
// disk: a commit here pays for the leader's and the followers' work on the
// same CPUs and for every node's raft log fsync on one disk, which a
// cluster of three machines would spread.

// testCluster is three nodes of one cluster in this process.
type testCluster struct {
	dbs    []*inmem.DB
	leader int
}

func openCluster(b *testing.B) *testCluster {
	b.Helper()
	var peers []inmem.Peer
	for i := range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		peers = append(peers, inmem.Peer{ID: fmt.Sprintf("n%d", i+1), Addr: ln.Addr().String()})
		ln.Close()
	}
	c := &testCluster{leader: -1}
	for _, p := range peers {
		db, err := inmem.Open(b.TempDir(), inmem.WithCluster(inmem.Cluster{NodeID: p.ID, Addr: p.Addr, Bootstrap: peers}))
		if err != nil {
			b.Fatal(err)
		}
		c.dbs = append(c.dbs, db)
	}
	deadline := time.Now().Add(time.Minute)
	for c.leader < 0 {
		for i, db := range c.dbs {
			if db.Shared(inmem.Namespace{}).KV().Put("hello", []byte("world")) == nil {
				c.leader = i
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("no leader within a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return c
}

func (c *testCluster) close() {
	for _, db := range c.dbs {
		db.Close()
	}
}

// BenchmarkClusterCommit commits one fresh key per transaction from N
// committers: to a single database in Strict mode, and to the leader of a
// three-node cluster (a quorum's raft logs fsynced before it returns).
func BenchmarkClusterCommit(b *testing.B) {
	dbLoadKeys()
	for _, g := range committerCounts {
		b.Run(fmt.Sprintf("committers=%d/single-strict", g), func(b *testing.B) {
			db, err := inmem.Open(b.TempDir(), inmem.WithDurability(inmem.Strict()))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			kv := db.Shared(inmem.Namespace{}).KV()
			commitParallel(b, commitKeys(b.N, g), func(k string) error { return kv.Put(k, dbValue) })
		})
		b.Run(fmt.Sprintf("committers=%d/cluster-3", g), func(b *testing.B) {
			c := openCluster(b)
			defer c.close()
			kv := c.dbs[c.leader].Shared(inmem.Namespace{}).KV()
			commitParallel(b, commitKeys(b.N, g), func(k string) error { return kv.Put(k, dbValue) })
		})
	}
	b.Run("committers=1/raftlog-floor", func(b *testing.B) { raftLogFloor(b) })
}

// raftLogFloor is the disk's part of one replicated commit on this
// machine, with the raft log store the cluster uses (bbolt, through
// raft-boltdb): the leader's log write, then the two followers' at once,
// each a bbolt transaction with its fsyncs, one commit at a time. No
// network, no encoding, no apply: a floor under cluster-3 at one committer.
func raftLogFloor(b *testing.B) {
	var logs []*bolt.DB
	for range 3 {
		db, err := bolt.Open(filepath.Join(b.TempDir(), "raft.db"), 0o600, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		logs = append(logs, db)
	}
	write := func(db *bolt.DB, i int) error {
		return db.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("logs"))
			if err != nil {
				return err
			}
			return bk.Put(binary.BigEndian.AppendUint64(nil, uint64(i)), dbValue)
		})
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if err := write(logs[0], i); err != nil {
			b.Fatal(err)
		}
		errs := make(chan error, 2)
		for _, f := range logs[1:] {
			go func() { errs <- write(f, i) }()
		}
		for range 2 {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, [][]time.Duration{lat})
}

// BenchmarkClusterRead reads random keys of 100,000 on the leader and on a
// follower (both local reads), and on the leader after a Barrier each time
// (a linearizable read: one raft round).
func BenchmarkClusterRead(b *testing.B) {
	c := openCluster(b)
	defer c.close()
	const n = 100_000
	leader := c.dbs[c.leader]
	run := leader.Shared(inmem.Namespace{})
	for lo := 0; lo < n; lo += 1000 {
		if err := run.Update(func(tx *inmem.Tx) error {
			for i := lo; i < lo+1000; i++ {
				if err := tx.KV().Put("key"+strconv.Itoa(i), dbValue); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	follower := c.dbs[(c.leader+1)%3]
	if err := follower.Cluster().WaitApplied(leader.Stats().Version, time.Minute); err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 4096)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range keys {
		keys[i] = "key" + strconv.Itoa(r.IntN(n))
	}
	read := func(b *testing.B, db *inmem.DB, barrier bool) {
		kv := db.Shared(inmem.Namespace{}).KV()
		b.ResetTimer()
		for i := range b.N {
			if barrier {
				if err := db.Cluster().Barrier(); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := kv.Get(keys[i&(len(keys)-1)]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("leader", func(b *testing.B) { read(b, leader, false) })
	b.Run("follower", func(b *testing.B) { read(b, follower, false) })
	b.Run("leader-barrier", func(b *testing.B) { read(b, leader, true) })
}
