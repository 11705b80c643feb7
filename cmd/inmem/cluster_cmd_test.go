package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

// clusterProc is one inmem serve --cluster process of a test, restarted
// on the same directory and addresses.
type clusterProc struct {
	id, dir, raft, http string
	srv                 atomic.Pointer[servedHTTP] // nil while the process is down
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

const clusterToken = "cluster-token"

func (p *clusterProc) start(t *testing.T, bootstrap string) {
	for attempt := 0; ; attempt++ {
		srv := startServeHTTP(t, "", "serve", p.dir, "--mcp", "--http", p.http, "--token", clusterToken,
			"--cluster", "--node-id", p.id, "--raft", p.raft, "--bootstrap", bootstrap)
		// Its status answers once raft is up.
		ok := false
		for range 100 {
			if _, err := fetchClusterStatus(p.http, clusterToken); err == nil {
				ok = true
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if ok {
			p.srv.Store(srv)
			return
		}
		// The killed process's ports may take a moment to free.
		_ = srv.cmd.Process.Kill()
		for range srv.lines {
		}
		_ = srv.cmd.Wait()
		require.Less(t, attempt, 20, "node %s does not come up", p.id)
	}
}

func (p *clusterProc) kill() {
	srv := p.srv.Swap(nil)
	_ = srv.cmd.Process.Signal(syscall.SIGKILL)
	for range srv.lines {
	}
	_ = srv.cmd.Wait()
}

// TestClusterServeKill runs three inmem serve --cluster processes while a
// client puts keys through the MCP tools of whichever node leads, and a
// seeded schedule kills a node with SIGKILL every 1-2 s and starts it
// again. At the end every acknowledged put is on all three nodes, which
// hold the same version and the same keys, and verify clean.
func TestClusterServeKill(t *testing.T) {
	seed := uint64(1)
	if s := os.Getenv("INMEM_JEPSEN_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
		seed = v
	}
	secs := 6
	if s := os.Getenv("INMEM_JEPSEN_SECONDS"); s != "" {
		v, err := strconv.Atoi(s)
		require.NoError(t, err)
		secs = v
	}
	t.Logf("seed %d, %d s of kills", seed, secs)
	r := rand.New(rand.NewPCG(seed, 1))
	procs := make([]*clusterProc, 3)
	var boot []string
	for i := range procs {
		procs[i] = &clusterProc{id: fmt.Sprintf("n%d", i+1), dir: t.TempDir(), raft: freePort(t), http: freePort(t)}
		boot = append(boot, procs[i].id+"="+procs[i].raft)
	}
	bootstrap := strings.Join(boot, ",")
	for _, p := range procs {
		p.start(t, bootstrap)
	}
	t.Cleanup(func() {
		for _, p := range procs {
			if p.srv.Load() != nil {
				p.kill()
			}
		}
	})

	_, err := fetchClusterStatus(procs[0].http, "not-"+clusterToken)
	require.ErrorContains(t, err, "refused the bearer token")

	// leader asks the running nodes which of them leads.
	leader := func() *clusterProc {
		for _, p := range procs {
			if p.srv.Load() == nil {
				continue
			}
			st, err := fetchClusterStatus(p.http, clusterToken)
			if err != nil || st.LeaderID == "" {
				continue
			}
			for _, q := range procs {
				if q.id == st.LeaderID && q.srv.Load() != nil {
					return q
				}
			}
		}
		return nil
	}
	connect := func(p *clusterProc) (*mcp.ClientSession, error) {
		tr := &mcp.StreamableClientTransport{Endpoint: "http://" + p.http + "/mcp", DisableStandaloneSSE: true, MaxRetries: -1,
			HTTPClient: &http.Client{Transport: bearer{clusterToken, http.DefaultTransport}, Timeout: 10 * time.Second}}
		return mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(context.Background(), tr, nil)
	}

	var runID string
	require.Eventually(t, func() bool {
		p := leader()
		if p == nil {
			return false
		}
		cs, err := connect(p)
		if err != nil {
			return false
		}
		defer cs.Close()
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "runs_begin", Arguments: anyMap{"name": "kills"}})
		if err != nil || res.IsError {
			return false
		}
		runID = res.StructuredContent.(map[string]any)["id"].(string)
		return true
	}, time.Minute, 50*time.Millisecond)

	acked := map[string]string{}
	refused := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		var cs *mcp.ClientSession
		end := time.Now().Add(time.Duration(secs) * time.Second)
		for i := 0; time.Now().Before(end); i++ {
			if cs == nil {
				p := leader()
				if p == nil {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				var err error
				if cs, err = connect(p); err != nil {
					cs = nil
					continue
				}
			}
			k, v := fmt.Sprintf("k%05d", i), strconv.Itoa(i)
			res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "kv_put", Arguments: anyMap{"run": runID, "key": k, "value": v}})
			if err == nil && !res.IsError {
				acked[k] = v
				continue
			}
			if err == nil && strings.Contains(resultText(res), "not the cluster's leader") {
				refused++
			}
			cs.Close()
			cs = nil // a follower, or a node killed under the call: find the leader again
		}
		if cs != nil {
			cs.Close()
		}
	}()
	for stop := false; !stop; {
		select {
		case <-done:
			stop = true
		case <-time.After(time.Duration(1000+r.IntN(1000)) * time.Millisecond):
			i := r.IntN(len(procs))
			if r.IntN(2) == 0 {
				if l := leader(); l != nil {
					for j, p := range procs {
						if p == l {
							i = j
						}
					}
				}
			}
			t.Logf("SIGKILL %s", procs[i].id)
			procs[i].kill()
			time.Sleep(time.Duration(100+r.IntN(700)) * time.Millisecond)
			procs[i].start(t, bootstrap)
		}
	}
	<-done
	t.Logf("%d puts acknowledged, %d refused by a follower", len(acked), refused)
	require.NotEmpty(t, acked)

	// All three agree on the applied version, then stop.
	var applied uint64
	require.Eventually(t, func() bool {
		var vs []uint64
		for _, p := range procs {
			st, err := fetchClusterStatus(p.http, clusterToken)
			if err != nil || st.LeaderID == "" {
				return false
			}
			vs = append(vs, st.Applied)
		}
		applied = vs[0]
		return vs[0] == vs[1] && vs[1] == vs[2]
	}, time.Minute, 50*time.Millisecond)
	for _, p := range procs {
		p.srv.Swap(nil).stop(t)
		st, err := inmem.ReadClusterStatus(p.dir)
		require.NoError(t, err)
		require.Equal(t, p.id, st.NodeID)
		require.Equal(t, applied, st.Applied)
		require.Len(t, st.Members, 3)
		out, code := run(t, "verify", p.dir)
		require.Equal(t, 0, code, out)
	}
	var first map[string]string
	for _, p := range procs {
		db, err := inmem.Open(p.dir, inmem.WithReadOnly())
		require.NoError(t, err)
		id, err := inmem.ParseRunID(runID)
		require.NoError(t, err)
		rr, err := db.Run(id)
		require.NoError(t, err)
		all := map[string]string{}
		require.NoError(t, rr.KV().Scan("", func(k string, v []byte) bool { all[k] = string(v); return true }))
		for k, v := range acked {
			require.Equal(t, v, all[k], "%s misses the acknowledged put of %s", p.id, k)
		}
		if first == nil {
			first = all
		}
		require.Equal(t, first, all, "%s's keys", p.id)
		require.Equal(t, applied, db.Stats().Version)
		require.NoError(t, db.Close())
	}
	out, code := run(t, "cluster", "status", procs[0].dir)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "node n1 (stopped)")
	require.Contains(t, out, fmt.Sprintf("applied version %d", applied))
}

// TestClusterServeUsage: serve's cluster flags are checked before anything
// is opened, and cluster status says what it needs.
func TestClusterServeUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--node-id", "n1"}, "go with --cluster"},
		{[]string{"--cluster"}, "needs --node-id and --raft"},
		{[]string{"--cluster", "--node-id", "n1"}, "needs --node-id and --raft"},
		{[]string{"--cluster", "--node-id", "n1", "--raft", "127.0.0.1:1", "--bootstrap", "n1"}, "id=host:port"},
	} {
		out, code := run(t, append([]string{"serve", dir, "--mcp"}, tc.args...)...)
		require.Equal(t, 2, code, out)
		require.Contains(t, out, tc.want)
	}
	out, code := run(t, "cluster", "status", "nowhere")
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "neither a directory nor host:port")
	out, code = run(t, "cluster", "status", dir)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "holds no cluster node")
	out, code = run(t, "cluster", "status", freePort(t))
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "connection refused")
}
