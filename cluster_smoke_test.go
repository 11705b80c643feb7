package inmem_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

func freeAddrs(t *testing.T, n int) []string {
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		out = append(out, ln.Addr().String())
		ln.Close()
	}
	return out
}

func TestClusterSmoke(t *testing.T) {
	addrs := freeAddrs(t, 3)
	var peers []inmem.Peer
	for i, a := range addrs {
		peers = append(peers, inmem.Peer{ID: fmt.Sprint("n", i+1), Addr: a})
	}
	dbs := make([]*inmem.DB, 3)
	dirs := make([]string, 3)
	for i := range dbs {
		dirs[i] = t.TempDir()
		db, err := inmem.Open(dirs[i], inmem.WithCluster(inmem.Cluster{NodeID: peers[i].ID, Addr: peers[i].Addr, Bootstrap: peers, HeartbeatTimeout: 300 * time.Millisecond}))
		require.NoError(t, err)
		dbs[i] = db
	}
	var leader *inmem.DB
	require.Eventually(t, func() bool {
		for _, db := range dbs {
			sh := db.Shared(inmem.Namespace{Tenant: "t"})
			if err := sh.KV().Put("k", []byte("v")); err == nil {
				leader = db
				return true
			} else {
				t.Log(err)
			}
		}
		return false
	}, 10*time.Second, 100*time.Millisecond)
	r, err := leader.BeginRun(inmem.Tags("x"))
	require.NoError(t, err)
	for i := range 100 {
		require.NoError(t, r.KV().Put(fmt.Sprint("k", i), []byte("v")))
	}
	require.NoError(t, r.End(inmem.Completed, ""))
	v := leader.Stats().Version
	for _, db := range dbs {
		require.NoError(t, db.Cluster().WaitApplied(v, 5*time.Second))
		rr, err := db.Run(r.ID())
		require.NoError(t, err)
		val, err := rr.KV().Get("k99")
		require.NoError(t, err)
		require.Equal(t, "v", string(val))
		st, err := db.Cluster().Status()
		require.NoError(t, err)
		t.Logf("%+v", st)
	}
	for _, db := range dbs {
		require.NoError(t, db.Close())
	}
	// reopen all
	for i := range dbs {
		db, err := inmem.Open(dirs[i], inmem.WithCluster(inmem.Cluster{NodeID: peers[i].ID, Addr: peers[i].Addr, Bootstrap: peers, HeartbeatTimeout: 300 * time.Millisecond}))
		require.NoError(t, err)
		dbs[i] = db
	}
	for _, db := range dbs {
		require.NoError(t, db.Cluster().WaitApplied(v, 5*time.Second))
		rr, err := db.Run(r.ID())
		require.NoError(t, err)
		info, err := db.Runs().Get(r.ID())
		require.NoError(t, err)
		require.Equal(t, inmem.Completed, info.Status)
		_ = rr
		require.NoError(t, db.Close())
	}
}
