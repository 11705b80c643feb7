package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/inmem-db/inmem"
)

// clusterPath is where inmem serve --cluster --http answers with its
// node's status.
const clusterPath = "/cluster"

// clusterFlags are serve's flags for running a cluster node.
type clusterFlags struct {
	on        bool
	nodeID    string
	raftAddr  string
	bootstrap string
}

func (c *clusterFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&c.on, "cluster", false, "run as a node of a replicated cluster (needs --node-id and --raft)")
	fs.StringVar(&c.nodeID, "node-id", "", "with --cluster: this node's ID in the cluster")
	fs.StringVar(&c.raftAddr, "raft", "", "with --cluster: this node's raft address, host:port")
	fs.StringVar(&c.bootstrap, "bootstrap", "", "with --cluster: the first voters of a new cluster, as id=host:port,... (this node among them); left out to join one (AddVoter on its leader)")
}

// option returns the Open option of the flags, nil without --cluster.
func (c *clusterFlags) option() (inmem.Option, error) {
	if !c.on {
		if c.nodeID != "" || c.raftAddr != "" || c.bootstrap != "" {
			return nil, errors.New("--node-id, --raft and --bootstrap go with --cluster")
		}
		return nil, nil
	}
	if c.nodeID == "" || c.raftAddr == "" {
		return nil, errors.New("--cluster needs --node-id and --raft")
	}
	cfg := inmem.Cluster{NodeID: c.nodeID, Addr: c.raftAddr}
	for _, p := range strings.Split(c.bootstrap, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		id, addr, ok := strings.Cut(p, "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("--bootstrap %q: give id=host:port pairs separated by commas", c.bootstrap)
		}
		cfg.Bootstrap = append(cfg.Bootstrap, inmem.Peer{ID: id, Addr: addr})
	}
	return inmem.WithCluster(cfg), nil
}

// clusterStatusOut is what inmem cluster status prints with --json, and
// what serve answers at /cluster.
type clusterStatusOut struct {
	NodeID     string      `json:"node_id"`
	LeaderID   string      `json:"leader_id"` // "" when none is known (or the node is stopped)
	LeaderAddr string      `json:"leader_addr"`
	Term       uint64      `json:"term"`
	Applied    uint64      `json:"applied"` // the version of the last commit the node applied
	Members    []memberOut `json:"members"`
	NonVoters  []memberOut `json:"non_voters"` // read replicas
	Running    bool        `json:"running"`    // false: read from a stopped node's directory
}

type memberOut struct {
	NodeID string `json:"node_id"`
	Addr   string `json:"addr"`
}

func newClusterStatusOut(st inmem.ClusterStatus, running bool) clusterStatusOut {
	out := clusterStatusOut{NodeID: st.NodeID, LeaderID: st.LeaderID, LeaderAddr: st.LeaderAddr,
		Term: st.Term, Applied: st.Applied, Members: []memberOut{}, NonVoters: []memberOut{}, Running: running}
	for _, m := range st.Members {
		out.Members = append(out.Members, memberOut{NodeID: m.ID, Addr: m.Addr})
	}
	for _, m := range st.NonVoters {
		out.NonVoters = append(out.NonVoters, memberOut{NodeID: m.ID, Addr: m.Addr})
	}
	return out
}

// clusterStatusHandler answers GET /cluster with the node's status.
func clusterStatusHandler(db *inmem.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			http.Error(w, "GET only", http.StatusMethodNotAllowed)
			return
		}
		st, err := db.Cluster().Status()
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(newClusterStatusOut(st, true))
	})
}

// runCluster is inmem cluster status DIR|HOST:PORT: a node's view of its
// cluster, from a running node's serve --http address (with its bearer
// token) or from a stopped node's directory.
func runCluster(args []string, out, errOut io.Writer) error {
	if len(args) == 0 || args[0] != "status" {
		return errUsage{errors.New("the cluster command has one subcommand: status")}
	}
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	token := fs.String("token", "", "the bearer token of the node's serve --http (default $INMEM_MCP_TOKEN)")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	target := pos[0]
	var st clusterStatusOut
	if fi, serr := os.Stat(target); serr == nil && fi.IsDir() {
		s, err := inmem.ReadClusterStatus(target)
		if errors.Is(err, inmem.ErrLocked) {
			return fmt.Errorf("%w; ask the running node at its serve --http address: inmem cluster status HOST:PORT", err)
		}
		if err != nil {
			return err
		}
		st = newClusterStatusOut(s, false)
	} else if st, err = fetchClusterStatus(target, *token); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out, st)
	}
	state := "running"
	if !st.Running {
		state = "stopped"
	}
	fmt.Fprintf(out, "node %s (%s), term %d, applied version %d\n", st.NodeID, state, st.Term, st.Applied)
	switch {
	case st.LeaderID != "":
		fmt.Fprintf(out, "leader %s at %s\n", st.LeaderID, st.LeaderAddr)
	case st.Running:
		fmt.Fprintln(out, "no leader known (an election, or this node is cut off)")
	}
	printMembers(out, "members:", st.Members, st)
	if len(st.NonVoters) > 0 {
		printMembers(out, "read replicas (non-voters):", st.NonVoters, st)
	}
	return nil
}

func printMembers(out io.Writer, title string, ms []memberOut, st clusterStatusOut) {
	fmt.Fprintln(out, title)
	for _, m := range ms {
		var marks []string
		if m.NodeID == st.NodeID {
			marks = append(marks, "this node")
		}
		if m.NodeID == st.LeaderID {
			marks = append(marks, "leader")
		}
		mark := ""
		if len(marks) > 0 {
			mark = " (" + strings.Join(marks, ", ") + ")"
		}
		fmt.Fprintf(out, "  %s %s%s\n", m.NodeID, m.Addr, mark)
	}
}

// fetchClusterStatus asks a running node's serve --http at addr.
func fetchClusterStatus(addr, token string) (clusterStatusOut, error) {
	var st clusterStatusOut
	if token == "" {
		token = os.Getenv("INMEM_MCP_TOKEN")
	}
	if !strings.Contains(addr, ":") {
		return st, errUsage{fmt.Errorf("%s is neither a directory nor host:port", addr)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+clusterPath, nil)
	if err != nil {
		return st, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return st, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return st, errors.New("the node refused the bearer token: pass --token or set INMEM_MCP_TOKEN")
	case http.StatusNotFound:
		return st, fmt.Errorf("%s serves no cluster status: is it inmem serve --cluster --http?", addr)
	default:
		return st, fmt.Errorf("%s answered %s: %s", addr, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("%s answered with something other than a cluster status: %v", addr, err)
	}
	return st, nil
}
