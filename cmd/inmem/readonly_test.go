package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

// listing names every file and directory under dir, with its size and
// modification time.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, fmt.Sprint(rel, " ", info.Mode(), " ", info.Size(), " ", info.ModTime().UnixNano()))
		return nil
	}))
	sort.Strings(out)
	return out
}

// TestReadCommandsRefuseNoDatabase: every command that reads (and
// checkpoint) refuses a mistyped path or an ordinary directory with a
// clear message and exit status 1, and creates nothing there.
func TestReadCommandsRefuseNoDatabase(t *testing.T) {
	plain := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(plain, "notes.txt"), []byte("mine"), 0o644))
	typo := filepath.Join(t.TempDir(), "tpyo")
	for _, dir := range []string{plain, typo} {
		var before []string
		if dir == plain {
			before = listing(t, dir)
		}
		for _, args := range [][]string{
			{"runs", dir}, {"show", dir, "r"}, {"export", dir, "r"}, {"asof", dir, "r", "1"},
			{"replay", dir, "r"}, {"diff", dir, "a", "b"}, {"verify", dir}, {"checkpoint", dir},
		} {
			out, code := run(t, args...)
			want := 1
			if args[0] == "diff" {
				want = 2 // as diff(1): 1 says the runs differ
			}
			require.Equal(t, want, code, "%v: %s", args, out)
			require.Contains(t, out, "no database", "%v", args)
			if dir == plain {
				require.Equal(t, before, listing(t, dir), "%v wrote to the directory", args)
			} else {
				require.NoDirExists(t, dir, "%v created the directory", args)
			}
		}
	}
}

// TestReadCommandsBesideServe: while `inmem serve` holds a database and an
// MCP client writes through it, runs, show, export, asof, replay and diff
// read it from the files, and each sees what was committed before it ran.
func TestReadCommandsBesideServe(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	cmd := exec.Command(builtBinary(t), "serve", dir, "--mcp")
	cmd.Stderr = &stderr
	ctx := context.Background()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	require.NoError(t, err)
	defer cs.Close()
	r := callTool[runOut](t, cs, "runs_begin", anyMap{"name": "held by serve"})
	callTool[okOut](t, cs, "kv_put", anyMap{"run": r.ID, "key": "answer", "value": "42"})
	callTool[okOut](t, cs, "kv_put", anyMap{"run": r.ID, "key": "plan", "value": "ask"})

	out, code := run(t, "runs", dir)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "held by serve")
	out, code = run(t, "show", dir, r.ID)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, `answer               = "42"`)
	out, code = run(t, "asof", dir, r.ID, "1")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "answer")
	require.NotContains(t, out, "plan")
	out, code = run(t, "replay", dir, r.ID)
	require.Equal(t, 0, code, out)
	out, code = run(t, "export", dir, r.ID)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "answer")
	out, code = run(t, "diff", dir, r.ID, r.ID)
	require.Equal(t, 0, code, out)

	// A later commit is seen once the server's log has written it out (in
	// the default Batched mode, within milliseconds of the commit).
	callTool[okOut](t, cs, "kv_put", anyMap{"run": r.ID, "key": "later", "value": "seen"})
	require.Eventually(t, func() bool {
		out, code = run(t, "show", dir, r.ID)
		return code == 0 && strings.Contains(out, `later                = "seen"`)
	}, 10*time.Second, 10*time.Millisecond, out)

	// Writing commands still get the holder's name for it.
	out, code = run(t, "checkpoint", dir)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "open in another process")
	require.NoError(t, cs.Close())
	require.Empty(t, stderr.String())
}
