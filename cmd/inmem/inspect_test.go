package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// builtBinary builds the command once per test binary run.
func builtBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "inmem-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "inmem")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	require.NoError(t, binErr, binPath)
	return binPath
}

// builtCmd is the built command with args, to be started by the caller.
func builtCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	return exec.Command(builtBinary(t), args...)
}

// run executes the built command and returns its output and exit code.
func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := builtCmd(t, args...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return string(out), code
}

func demoDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	out, code := run(t, "demo", dir)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "12. reopened")
	return dir
}

func TestInspectCommands(t *testing.T) {
	dir := demoDir(t)

	out, code := run(t, "runs", dir)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "triage ticket 4821")
	require.Contains(t, out, "look up account")
	require.Contains(t, out, "completed")

	out, code = run(t, "runs", dir, "--json")
	require.Equal(t, 0, code, out)
	var runs []runOut
	require.NoError(t, json.Unmarshal([]byte(out), &runs))
	require.Len(t, runs, 3)
	require.Equal(t, runs[0].ID, runs[1].Parent)
	require.Equal(t, runs[0].ID, runs[2].ForkOf, "the demo forks the run")
	require.Equal(t, 1013, runs[0].Steps)

	out, code = run(t, "show", dir, runs[0].ID)
	require.Equal(t, 0, code, out)
	for _, want := range []string{"events (3):", "step.observe", `phase                = "done"  (version 4)`, "tool_calls", `└─ [4] tool_call "unlock_account"`} {
		require.Contains(t, out, want)
	}
	out, code = run(t, "show", dir, runs[0].ID, "--json")
	require.Equal(t, 0, code, out)
	var shown runDataOut
	require.NoError(t, json.Unmarshal([]byte(out), &shown))
	require.Len(t, shown.Events, 3)
	require.Len(t, shown.Spans, 7) // 4 agent spans, 3 recorded calls

	out, code = run(t, "verify", dir)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "3 events, hash chain ok")

	out, code = run(t, "checkpoint", dir)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "checkpoint written")
	before := listing(t, dir)
	out, code = run(t, "checkpoint", dir)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "nothing new since the snapshot at version 1025: nothing written")
	require.Equal(t, before, listing(t, dir), "a checkpoint with nothing new wrote")
	out, code = run(t, "verify", dir, "--json")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, `"ok": true`)

	// Usage errors exit 2.
	_, code = run(t, "show", dir)
	require.Equal(t, 2, code)
	out, code = run(t, "show", dir, "not-a-run-id")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, `no run named or prefixed "not-a-run-id"`)
	out, code = run(t, "show", dir, inmem.RunID{1}.String())
	require.Equal(t, 1, code)
	require.Contains(t, out, "run not found")
}

// TestVerifyFailsOnFlippedByte: one flipped byte in the middle of the WAL
// makes verify exit non-zero naming the file and the offset.
func TestVerifyFailsOnFlippedByte(t *testing.T) {
	dir := demoDir(t)
	segs, err := filepath.Glob(filepath.Join(dir, "wal", "*.log"))
	require.NoError(t, err)
	require.NotEmpty(t, segs)
	seg := segs[0]
	b, err := os.ReadFile(seg)
	require.NoError(t, err)
	b[len(b)/2] ^= 0x10
	require.NoError(t, os.WriteFile(seg, b, 0o644))
	out, code := run(t, "verify", dir)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, filepath.Base(seg))
	require.Contains(t, out, "offset")
	require.Contains(t, out, "corruption")
}

// TestInspectLockedDirectory: the commands that only read work on a
// directory another handle holds, and see what it committed; one that
// writes gets a clear message, not a hang.
func TestInspectLockedDirectory(t *testing.T) {
	dir := demoDir(t)
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	defer db.Close()
	r, err := db.BeginRun(inmem.Name("while held"))
	require.NoError(t, err)
	out, code := run(t, "runs", dir)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "while held")
	out, code = run(t, "checkpoint", dir)
	require.Equal(t, 1, code, out)
	require.True(t, strings.Contains(out, "open in another process"), out)
	require.NoError(t, r.End(inmem.Completed, ""))
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" && binErr == nil {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func TestExport(t *testing.T) {
	dir := demoDir(t)
	out, code := run(t, "runs", dir, "--json")
	require.Equal(t, 0, code, out)
	var runs []runOut
	require.NoError(t, json.Unmarshal([]byte(out), &runs))
	id, err := inmem.ParseRunID(runs[0].ID)
	require.NoError(t, err)

	out, code = run(t, "export", dir, id.String())
	require.Equal(t, 0, code, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	kinds := map[string]int{}
	for _, l := range lines {
		var rec struct {
			Kind string          `json:"kind"`
			Data json.RawMessage `json:"data"`
		}
		require.NoError(t, json.Unmarshal([]byte(l), &rec), l)
		kinds[rec.Kind]++
	}
	require.Equal(t, map[string]int{"run": 1, "event": 3, "cell": 1, "kv": 4, "span": 7}, kinds)
	require.Contains(t, out, `"type":"step.observe"`)

	out, code = run(t, "export", dir, id.String(), "--format", "otlp-json")
	require.Equal(t, 0, code, out)
	var req otlpExport
	require.NoError(t, json.Unmarshal([]byte(out), &req))
	require.Len(t, req.ResourceSpans, 1)
	spans := req.ResourceSpans[0].ScopeSpans[0].Spans
	require.Len(t, spans, 7)
	for _, s := range spans {
		require.Equal(t, strings.ReplaceAll(id.String(), "-", ""), s.TraceID)
		require.Len(t, s.SpanID, 16)
	}
	require.Empty(t, spans[0].ParentSpanID)
	require.Equal(t, spans[0].SpanID, spans[2].ParentSpanID)
	require.Equal(t, 3, spans[1].Kind, "a tool call is a CLIENT span")
	require.Equal(t, 1, spans[1].Status.Code)
	found := false
	for _, a := range spans[2].Attributes {
		if a.Key == "gen_ai.request.model" && a.Value.StringValue == "example-model" {
			found = true
		}
	}
	require.True(t, found, "GenAI attributes carried over")

	_, code = run(t, "export", dir, id.String(), "--format", "csv")
	require.Equal(t, 2, code)
}
