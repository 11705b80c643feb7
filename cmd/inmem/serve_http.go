package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Limits of the HTTP transport. Bodies are JSON-RPC messages, small by
// nature; a slow or huge body is an attack, not a client.
const (
	maxBodyBytes      = 4 << 20
	bodyReadTimeout   = 30 * time.Second
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	sessionIdle       = 30 * time.Minute // an abandoned MCP session is closed after this
	shutdownGrace     = 5 * time.Second
	mcpPath           = "/mcp"
)

// serveHTTP serves srv on cfg.httpAddr until ctx is done.
func serveHTTP(ctx context.Context, srv *mcp.Server, cfg serveConfig, errOut io.Writer) error {
	if err := checkListenAddr(cfg.httpAddr, cfg.allowRemote); err != nil {
		return errUsage{err}
	}
	token, generated, err := tokenOr(cfg.token, "INMEM_MCP_TOKEN")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.httpAddr)
	if err != nil {
		return err
	}
	extra := map[string]http.Handler{}
	if cfg.cluster != nil {
		extra[clusterPath] = clusterStatusHandler(cfg.cluster)
	}
	h := newHTTPHandler(srv, token, cfg.origins, bodyReadTimeout, extra)
	if cfg.ui != nil {
		mux := http.NewServeMux()
		mux.Handle(mcpPath, h)
		if cfg.cluster != nil {
			mux.Handle(clusterPath, h)
		}
		mux.Handle("/", newUIHandler(liveSource{cfg.ui}, cfg.dir, token, cfg.origins))
		h = mux
	}
	fmt.Fprintf(errOut, "inmem serve: MCP over streamable HTTP at http://%s%s\n", ln.Addr(), mcpPath)
	if cfg.cluster != nil {
		fmt.Fprintf(errOut, "inmem serve: cluster status at http://%s%s (inmem cluster status %s)\n", ln.Addr(), clusterPath, ln.Addr())
	}
	if generated {
		fmt.Fprintf(errOut, "inmem serve: bearer token (set --token or INMEM_MCP_TOKEN to choose one): %s\n", token)
	}
	if cfg.ui != nil {
		printUIURL(errOut, ln.Addr(), token)
	}
	return serveOn(ctx, ln, h, log.New(errOut, "inmem serve: ", 0))
}

// serveOn serves h on ln until ctx is done, then shuts down, giving open
// requests (event streams) a grace period.
func serveOn(ctx context.Context, ln net.Listener, h http.Handler, errLog *log.Logger) error {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          errLog,
	}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close() // streams still open after the grace period
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// checkListenAddr refuses an address reachable from other machines unless
// the caller said so: the tools read and write every run in the database.
func checkListenAddr(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--http %q: want HOST:PORT such as 127.0.0.1:8765: %v", addr, err)
	}
	if allowRemote || isLoopbackHost(host) {
		return nil
	}
	return fmt.Errorf("--http %q is not a loopback address: other machines could reach it; pass --allow-remote to mean it", addr)
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newHTTPHandler wraps the SDK's streamable HTTP handler in the checks
// every request passes, cheapest and least revealing first: a foreign
// browser origin (403), then a missing or wrong bearer token (401), then
// the body's size and read time (413, 408; bodyTimeout bounds the read:
// bodyReadTimeout in serve, shorter in tests). The SDK adds its own
// protection against DNS rebinding (a loopback connection with a foreign
// Host header is refused).
func newHTTPHandler(srv *mcp.Server, token string, origins []string, bodyTimeout time.Duration, extra map[string]http.Handler) http.Handler {
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{MaxRequestBodyBytes: maxBodyBytes, SessionTimeout: sessionIdle})
	want := sha256.Sum256([]byte(token))
	allowed := map[string]bool{}
	for _, o := range origins {
		allowed[strings.TrimRight(strings.TrimSpace(o), "/")] = true
	}
	guard := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !originAllowed(r.Header.Get("Origin"), allowed) {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			// Compare digests: constant time, and no length to leak.
			gotSum := sha256.Sum256([]byte(got))
			if !ok || subtle.ConstantTimeCompare(gotSum[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="inmem"`)
				http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
				return
			}
			if r.Body != nil && r.Body != http.NoBody {
				if !readBody(w, r, bodyTimeout) {
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
	mux := http.NewServeMux()
	mux.Handle(mcpPath, guard(h))
	for path, eh := range extra {
		mux.Handle(path, guard(eh))
	}
	return mux
}

// readBody reads the whole request body under a size limit and a
// deadline timeout from now, then hands the handler the bytes. Reading it
// here bounds a slow upload without a server-wide ReadTimeout or
// WriteTimeout, which would cut the long-lived event streams of the
// transport.
func readBody(w http.ResponseWriter, r *http.Request, timeout time.Duration) bool {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(timeout)) // unsupported only on exotic writers
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("request body over %d bytes", maxBodyBytes), http.StatusRequestEntityTooLarge)
		} else {
			// Close after replying: otherwise the server drains the rest
			// of a small body before it writes the reply, with the
			// deadline cleared, and a stalled client holds it forever.
			w.Header().Set("Connection", "close")
			http.Error(w, "reading request body: "+err.Error(), http.StatusRequestTimeout)
		}
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return true
}

// originAllowed accepts requests with no Origin (not from a browser),
// from a loopback origin, or from an origin given with --allow-origin.
func originAllowed(origin string, allowed map[string]bool) bool {
	if origin == "" {
		return true
	}
	if allowed[origin] {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false // includes "null", which sandboxed pages send
	}
	return isLoopbackHost(u.Hostname())
}
