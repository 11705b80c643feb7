package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/inmem-db/inmem"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// serveConfig is what inmem serve was asked to do.
type serveConfig struct {
	dir         string
	mcp         bool
	httpAddr    string          // "": stdio
	allowRemote bool            // listen on a non-loopback address
	token       string          // bearer token for HTTP; generated when empty
	origins     []string        // browser origins allowed besides loopback ones
	memory      inmem.Namespace // whose knowledge graph the memory-server tools keep
	withUI      bool            // --ui: the run inspector at / beside /mcp
	ui          *inmem.DB       // the database the inspector reads, once open
	clusterOpt  clusterFlags    // --cluster and its flags
	cluster     *inmem.DB       // the cluster node, once open (for /cluster)
}

const serveUsage = "usage: inmem serve DIR --mcp [--memory-namespace tenant/app/agent] [--http 127.0.0.1:PORT [--ui] [--token T] [--allow-remote] [--allow-origin URL,...]] [--cluster --node-id ID --raft HOST:PORT [--bootstrap ID=HOST:PORT,...]]"

// runServe serves a database to MCP clients: inmem serve DIR --mcp.
//
// By default it speaks MCP over stdin and stdout, the way a client
// launches a local server; nothing else is written to stdout. With
// --http ADDR it serves the streamable HTTP transport at /mcp instead,
// on a loopback address unless --allow-remote, to clients that send the
// bearer token (--token or INMEM_MCP_TOKEN; one is generated and printed
// on stderr when neither is set); --ui adds the run inspector at / (see
// inmem ui) over the live database. The database stays open, and so locked
// against other processes, until the client disconnects (stdio) or the
// process gets SIGINT or SIGTERM.
//
// Besides its own tools it offers the nine of the MCP reference memory
// server, over the knowledge graph of the default namespace or of the one
// --memory-namespace names.
//
// With --cluster it runs the database as a node of a replicated cluster
// (inmem.WithCluster): --node-id and --raft name it, --bootstrap lists the
// first voters of a new cluster. Tools that write, called on a follower,
// are not forwarded: they fail with the leader's ID and address, for the
// client to call the leader. With --http, GET /cluster answers the node's
// status (inmem cluster status HOST:PORT).
func runServe(args []string, out, errOut io.Writer) error {
	cfg, err := parseServe(args, errOut)
	if err != nil {
		return err
	}
	var opts []inmem.Option
	copt, err := cfg.clusterOpt.option()
	if err != nil {
		return errUsage{err}
	}
	if copt != nil {
		opts = append(opts, copt)
	}
	db, err := openExisting(cfg.dir, errOut, opts...)
	if err != nil {
		return err
	}
	defer db.Close()
	if copt != nil {
		cfg.cluster = db
	}
	srv := newMCPServer(db, cfg.memory)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.httpAddr == "" {
		err := srv.Run(ctx, &mcp.StdioTransport{})
		if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) || errors.Is(err, mcp.ErrConnectionClosed) {
			return db.Close()
		}
		return err
	}
	if cfg.withUI {
		cfg.ui = db
	}
	if err := serveHTTP(ctx, srv, cfg, errOut); err != nil {
		return err
	}
	return db.Close()
}

func parseServe(args []string, errOut io.Writer) (cfg serveConfig, err error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() { fmt.Fprintln(errOut, serveUsage); fs.PrintDefaults() }
	fs.BoolVar(&cfg.mcp, "mcp", false, "speak the Model Context Protocol (required)")
	fs.StringVar(&cfg.httpAddr, "http", "", "serve streamable HTTP on this address instead of stdio, such as 127.0.0.1:8765")
	fs.BoolVar(&cfg.allowRemote, "allow-remote", false, "allow --http on an address other than loopback")
	fs.BoolVar(&cfg.withUI, "ui", false, "with --http: serve the run inspector at / (same token; the URL to open is printed)")
	fs.StringVar(&cfg.token, "token", "", "bearer token HTTP clients must send (default $INMEM_MCP_TOKEN, else generated)")
	origins := fs.String("allow-origin", "", "comma-separated browser origins allowed besides loopback ones, such as https://app.example")
	cfg.clusterOpt.register(fs)
	memory := fs.String("memory-namespace", "", "the namespace whose knowledge graph the memory-server tools keep, as TENANT/APP/AGENT (default: the default namespace)")
	flags, pos := splitFlags(args, map[string]bool{"http": true, "token": true, "allow-origin": true, "memory-namespace": true,
		"node-id": true, "raft": true, "bootstrap": true})
	if err = fs.Parse(flags); err != nil {
		return cfg, errUsage{err}
	}
	if len(pos) != 1 {
		return cfg, errUsage{errors.New(serveUsage)}
	}
	if !cfg.mcp {
		return cfg, errUsage{fmt.Errorf("serve speaks MCP only: pass --mcp\n%s", serveUsage)}
	}
	cfg.dir = pos[0]
	if cfg.memory, err = parseNamespace(*memory); err != nil {
		return cfg, errUsage{err}
	}
	cfg.origins = splitOrigins(*origins)
	if cfg.httpAddr == "" && (cfg.token != "" || cfg.allowRemote || len(cfg.origins) > 0 || cfg.withUI) {
		return cfg, errUsage{errors.New("--token, --allow-remote, --allow-origin and --ui go with --http")}
	}
	return cfg, nil
}

// parseNamespace reads TENANT/APP/AGENT as Namespace.String writes it:
// "-" or a missing trailing part is the default (empty) field.
func parseNamespace(s string) (inmem.Namespace, error) {
	if s == "" {
		return inmem.Namespace{}, nil
	}
	p := strings.Split(s, "/")
	if len(p) > 3 {
		return inmem.Namespace{}, fmt.Errorf("namespace %q: give TENANT/APP/AGENT, at most three parts", s)
	}
	p = append(p, "", "")
	for i := range 3 {
		if p[i] == "-" {
			p[i] = ""
		}
		if len(p[i]) > inmem.MaxNameSize || !utf8.ValidString(p[i]) {
			return inmem.Namespace{}, fmt.Errorf("namespace %q: each part is UTF-8 of at most %d bytes", s, inmem.MaxNameSize)
		}
	}
	return inmem.Namespace{Tenant: p[0], App: p[1], Agent: p[2]}, nil
}

// splitFlags separates flags from positional arguments, so that flags may
// follow them (inmem serve DIR --mcp). valued names the flags that take
// the next argument as their value unless written --name=value.
func splitFlags(args []string, valued map[string]bool) (flags, pos []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if valued[name] && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return flags, pos
}
