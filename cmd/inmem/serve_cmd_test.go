package main

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"slices"
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
// loopback port, once per way of choosing the bearer token: --token,
// INMEM_MCP_TOKEN, both (the flag wins, as its help says: the variable is
// only its default), and neither (a token is generated and printed on
// stderr). Each time the chosen token opens an MCP session, a missing or
// other one gets 401, and SIGTERM ends the process with status 0.
func TestServeHTTPCommand(t *testing.T) {
	for _, tc := range []struct {
		name, flag, env string
		want            string   // "": the generated token
		refused         []string // tokens that must get 401 besides none and a wrong one
	}{
		{name: "flag", flag: "flag-token", want: "flag-token"},
		{name: "env", env: "env-token", want: "env-token"},
		{name: "both", flag: "flag-token", env: "env-token", want: "flag-token", refused: []string{"env-token"}},
		{name: "neither"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkNoLeak(t)
			args := []string{"serve", t.TempDir(), "--mcp", "--http", "127.0.0.1:0"}
			if tc.flag != "" {
				args = append(args, "--token", tc.flag)
			}
			srv := startServeHTTP(t, tc.env, args...)
			want := tc.want
			if want == "" {
				require.Len(t, srv.token, 64, "a generated token is printed")
				want = srv.token
			} else {
				require.Empty(t, srv.token, "no token is generated when one is given")
			}
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			post := func(auth string) int {
				t.Helper()
				req, err := http.NewRequest(http.MethodPost, srv.url, strings.NewReader(initBody))
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				if auth != "" {
					req.Header.Set("Authorization", "Bearer "+auth)
				}
				resp, err := client.Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				return resp.StatusCode
			}
			require.Equal(t, http.StatusUnauthorized, post(""))
			require.Equal(t, http.StatusUnauthorized, post("not-"+want))
			for _, bad := range tc.refused {
				require.Equal(t, http.StatusUnauthorized, post(bad), bad)
			}
			require.Equal(t, http.StatusOK, post(want))
			client.CloseIdleConnections()

			rest := srv.stop(t)
			if tc.want != "" {
				require.NotContains(t, strings.Join(rest, "\n"), "bearer token", "no token is generated when one is given")
			}
		})
	}
}

// servedHTTP is a running inmem serve --http and what it printed.
type servedHTTP struct {
	cmd        *exec.Cmd
	lines      chan string
	url, token string // token: the generated one, if it printed one
}

// startServeHTTP starts the built command with args and INMEM_MCP_TOKEN
// set to env ("": unset), and waits for the address it serves. The
// process is killed at the end of the test unless stop ended it.
func startServeHTTP(t *testing.T, env string, args ...string) *servedHTTP {
	t.Helper()
	cmd := exec.Command(builtBinary(t), args...)
	// The caller's own token must not leak in. (DeleteFunc keeps the slice
	// non-nil: a nil Env would inherit everything.)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "INMEM_MCP_TOKEN=") })
	if env != "" {
		cmd.Env = append(cmd.Env, "INMEM_MCP_TOKEN="+env)
	}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &servedHTTP{cmd: cmd, lines: make(chan string)}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil { // the test failed before stop
			_ = cmd.Process.Kill()
			for range s.lines {
			}
			_ = cmd.Wait()
		}
	})
	// The address comes first; a generated token, if any, on the next line.
	generates := env == "" && !slices.Contains(args, "--token")
	for s.url == "" || (generates && s.token == "") {
		select {
		case l, ok := <-s.lines:
			require.True(t, ok, "stderr closed before the address (and a generated token) were printed")
			if _, u, ok := strings.Cut(l, "streamable HTTP at "); ok {
				s.url = u
			}
			if strings.Contains(l, "bearer token") {
				s.token = l[strings.LastIndex(l, " ")+1:]
			}
		case <-time.After(time.Minute): // a bound on a hang, not a speed check
			t.Fatal("no address on stderr")
		}
	}
	return s
}

// stop sends SIGTERM, requires exit status 0, and returns the lines
// printed on stderr since the address.
func (s *servedHTTP) stop(t *testing.T) []string {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	var rest []string
	for l := range s.lines { // drain, so the command never blocks writing
		rest = append(rest, l)
	}
	require.NoError(t, s.cmd.Wait(), "exit status 0 on SIGTERM")
	return rest
}
