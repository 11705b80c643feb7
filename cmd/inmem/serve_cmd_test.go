package main

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

// TestServeStdio runs the built command as an MCP server the way a client
// launches one, over stdin and stdout; what the client wrote is in the
// directory once the client disconnects and the server exits.
func TestServeStdio(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	cmd := exec.Command(builtBinary(t), "serve", dir, "--mcp")
	cmd.Stderr = &stderr
	ctx := context.Background()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	require.NoError(t, err)
	r := callTool[runOut](t, cs, "runs_begin", anyMap{"name": "over stdio"})
	callTool[okOut](t, cs, "kv_put", anyMap{"run": r.ID, "key": "answer", "value": "42"})
	require.NoError(t, cs.Close())
	require.Empty(t, stderr.String())

	out, code := run(t, "show", dir, r.ID)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, `"over stdio"`)
	require.Contains(t, out, `answer               = "42"`)
}

// TestServeUsage: bad flags exit 2 with a reason, and a directory another
// process holds fails at once with a clear message instead of waiting.
func TestServeUsage(t *testing.T) {
	dir := t.TempDir()
	out, code := run(t, "serve", dir)
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "--mcp")
	out, code = run(t, "serve", dir, "--mcp", "--http", "0.0.0.0:0")
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "--allow-remote")
	out, code = run(t, "serve", dir, "--mcp", "--token", "x")
	require.Equal(t, 2, code, out)

	db, err := inmem.Open(dir)
	require.NoError(t, err)
	defer db.Close()
	out, code = run(t, "serve", dir, "--mcp")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "open in another process")
}

// TestServeHTTPCommand runs the built command with --http on a free
// loopback port: it prints the address and a generated token on stderr,
// refuses requests without that token, accepts them with it, and exits
// cleanly on SIGTERM.
func TestServeHTTPCommand(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(builtBinary(t), "serve", dir, "--mcp", "--http", "127.0.0.1:0")
	cmd.Env = append(cmd.Environ(), "INMEM_MCP_TOKEN=")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var url, token string
	for url == "" || token == "" {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "stderr closed before the address and token were printed")
			if _, u, ok := strings.Cut(l, "streamable HTTP at "); ok {
				url = u
			}
			if strings.Contains(l, "bearer token") {
				token = l[strings.LastIndex(l, " ")+1:]
			}
		case <-time.After(time.Minute): // a bound on a hang, not a speed check
			_ = cmd.Process.Kill()
			t.Fatal("no address and token on stderr")
		}
	}
	require.Len(t, token, 64)

	post := func(auth string) int {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(initBody))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusUnauthorized, post(""))
	require.Equal(t, http.StatusUnauthorized, post("not-"+token))
	require.Equal(t, http.StatusOK, post(token))
	http.DefaultClient.CloseIdleConnections()

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	for range lines { // drain, so the command never blocks writing
	}
	require.NoError(t, cmd.Wait(), "exit status 0 on SIGTERM")
}
