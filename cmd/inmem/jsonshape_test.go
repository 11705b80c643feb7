package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// richDir makes a database whose runs hold every primitive: a run with
// KV, events, state, spans and vectors, a child it started, and a fork
// of it that went another way.
func richDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	r, err := db.BeginRun(inmem.Name("rich"), inmem.InNamespace(inmem.Namespace{Tenant: "acme"}),
		inmem.Tags("t"), inmem.Meta(map[string]string{"Model.Name": "m"}))
	require.NoError(t, err)
	require.NoError(t, r.KV().Put("k", []byte{0, 0xff}))
	_, err = r.Events().Append("step", []byte("go"))
	require.NoError(t, err)
	_, err = r.State().Init("phase", []byte("act"))
	require.NoError(t, err)
	root, err := r.Traces().Record(inmem.Span{Kind: inmem.Decision, Name: "plan", Status: inmem.StatusOK})
	require.NoError(t, err)
	_, err = r.Traces().Record(inmem.Span{Parent: root, Kind: inmem.LLMCall, Name: "chat", Status: inmem.StatusOK,
		Attrs: map[string]string{"gen_ai.request.model": "m"}, Start: time.Now(), End: time.Now().Add(time.Second)})
	require.NoError(t, err)
	require.NoError(t, r.Vectors().CreateCollection("notes", inmem.VectorConfig{Dim: 2, Metric: inmem.Cosine}))
	require.NoError(t, r.Vectors().Upsert("notes", "n1", []float32{1, 0}, map[string]any{"Lang": "en"}))
	child, err := db.BeginRun(inmem.Name("child"), inmem.Parent(r.ID()))
	require.NoError(t, err)
	require.NoError(t, child.End(inmem.Failed, "gave up"))
	f, err := db.Fork(r.ID(), 7, inmem.Name("rich fork")) // after the upsert
	require.NoError(t, err)
	require.NoError(t, f.KV().Put("k", []byte("other")))
	require.NoError(t, f.Vectors().Upsert("notes", "n2", []float32{0, 1}, nil))
	require.NoError(t, r.End(inmem.Completed, ""))
	require.NoError(t, db.Close())
	return dir
}

// TestJSONShape runs every command with --json against one database and
// holds each output to the rules of the one shape: snake_case keys (but
// in maps of user data: attrs, meta, values), no byte arrays as lists of
// numbers, enums (status, kind) by name, times in RFC 3339, run IDs in
// their canonical form and hashes in hex.
func TestJSONShape(t *testing.T) {
	dir := richDir(t)
	exported := filepath.Join(t.TempDir(), "rich.jsonl")
	cases := map[string]struct {
		args  []string
		code  int
		lines bool // JSON lines rather than one document
	}{
		"runs":       {args: []string{"runs", dir}},
		"show":       {args: []string{"show", dir, "rich fork"}},
		"asof":       {args: []string{"asof", dir, "rich", "2"}},
		"replay":     {args: []string{"replay", dir, "rich"}},
		"diff":       {args: []string{"diff", dir, "rich", "rich fork"}, code: 1},
		"verify":     {args: []string{"verify", dir}},
		"checkpoint": {args: []string{"checkpoint", dir}},
		"export":     {args: []string{"export", dir, "rich"}, lines: true},
		"import":     {args: []string{"import", dir, exported}},
		"cluster":    {args: []string{"cluster", "status", stoppedNode(t)}},
	}
	// Not one-shot commands with a result to print: the demo tells a
	// story (its --json is refused, saying what to use), serve speaks MCP,
	// ui serves a page (its API: TestUIJSONShape).
	notJSON := map[string]bool{"demo": true, "serve": true, "ui": true}
	for _, c := range commands {
		_, ok := cases[c.name]
		require.True(t, ok || notJSON[c.name], "no JSON shape case for command %s", c.name)
	}
	for _, name := range []string{"runs", "show", "asof", "replay", "diff", "verify", "checkpoint", "export", "import", "cluster"} {
		c := cases[name]
		var out, errOut bytes.Buffer
		code := dispatch(append(c.args, "--json"), &out, &errOut)
		require.Equal(t, c.code, code, "%s: %s", name, errOut.String())
		docs := []string{out.String()}
		if c.lines {
			docs = strings.Split(strings.TrimSpace(out.String()), "\n")
			require.NoError(t, os.WriteFile(exported, out.Bytes(), 0o644))
		}
		for _, doc := range docs {
			var v any
			require.NoError(t, json.Unmarshal([]byte(doc), &v), "%s printed: %s", name, doc)
			for _, p := range shapeProblems(name, v) {
				t.Errorf("%s --json: %s", name, p)
			}
		}
	}

	var out, errOut bytes.Buffer
	require.Equal(t, 2, dispatch([]string{"demo", "--json"}, &out, &errOut))
	require.Contains(t, errOut.String(), "inmem runs DIR --json")
}

var (
	snakeKey = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	hexHash  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// userMaps hold keys the user chose.
	userMaps = map[string]bool{"attrs": true, "meta": true, "values": true}
)

// shapeProblems walks a decoded JSON value and lists what breaks the
// rules, each with its path.
func shapeProblems(path string, v any) []string {
	var problems []string
	var walk func(path, key string, v any)
	walk = func(path, key string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if !userMaps[key] && !snakeKey.MatchString(k) {
					problems = append(problems, fmt.Sprintf("%s: key %q is not snake_case", path, k))
				}
				walk(path+"."+k, k, e)
			}
		case []any:
			if len(x) == 16 || len(x) == 32 {
				allNum := true
				for _, e := range x {
					_, isNum := e.(float64)
					allNum = allNum && isNum
				}
				if allNum {
					problems = append(problems, fmt.Sprintf("%s: bytes as a list of %d numbers", path, len(x)))
				}
			}
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), key, e)
			}
		default:
			problems = append(problems, scalarProblems(path, key, v)...)
		}
	}
	walk(path, "", v)
	return problems
}

// scalarProblems checks a value by the name of its key.
func scalarProblems(path, key string, v any) []string {
	s, isString := v.(string)
	switch {
	case key == "status" || key == "kind":
		if !isString {
			return []string{fmt.Sprintf("%s: %v is not a name", path, v)}
		}
	case key == "time" || key == "start" || key == "end" || strings.HasSuffix(key, "_at"):
		if _, err := time.Parse(time.RFC3339Nano, s); !isString || err != nil {
			return []string{fmt.Sprintf("%s: %v is not an RFC 3339 time", path, v)}
		}
	case key == "hash" || key == "prev_hash":
		if !isString || !hexHash.MatchString(s) {
			return []string{fmt.Sprintf("%s: %v is not a hex hash", path, v)}
		}
	case key == "run" || key == "fork_of" || key == "from" || ((key == "id" || key == "parent") && isString):
		// A span's id and parent are numbers, a run's are strings.
		if _, err := inmem.ParseRunID(s); !isString || err != nil {
			return []string{fmt.Sprintf("%s: %v is not a run ID", path, v)}
		}
	}
	return nil
}

// TestVerifyJSONMatchesText: verify's JSON counts the segments and
// commits its text names, and neither changes when commands that only
// read run in between: they used to add a WAL segment each, so that a
// verify --json after a verify counted one more.
func TestVerifyJSONMatchesText(t *testing.T) {
	dir := richDir(t)
	text := func() string {
		out, code := run(t, "verify", dir)
		require.Equal(t, 0, code, out)
		line := regexp.MustCompile(`(?m)^wal: .*$`).FindString(out)
		require.NotEmpty(t, line, out)
		return line
	}
	asJSON := func() string {
		out, code := run(t, "verify", dir, "--json")
		require.Equal(t, 0, code, out)
		var v verifyOut
		require.NoError(t, json.Unmarshal([]byte(out), &v))
		f := v.Files
		require.Len(t, f.Segments, f.SegmentCount)
		return fmt.Sprintf("wal: %s (%s to %s), %s, versions %d to %d", plural(f.SegmentCount, "segment"),
			f.Segments[0], f.Segments[len(f.Segments)-1], plural(f.Commits, "commit"), f.FirstVersion, f.LastVersion)
	}
	first := text()
	require.Equal(t, first, asJSON())
	for _, args := range [][]string{{"runs", dir}, {"show", dir, "rich"}, {"asof", dir, "rich", "1"}, {"replay", dir, "rich"}, {"export", dir, "rich"}} {
		out, code := run(t, args...)
		require.Equal(t, 0, code, out)
	}
	require.Equal(t, first, text(), "reading commands leave the WAL as it was")
}

// stoppedNode returns the directory of a stopped cluster node of one,
// which committed something.
func stoppedNode(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	addr := freePort(t)
	db, err := inmem.Open(dir, inmem.WithCluster(inmem.Cluster{NodeID: "n1", Addr: addr, Bootstrap: []inmem.Peer{{ID: "n1", Addr: addr}}}))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return db.Shared(inmem.Namespace{}).KV().Put("k", []byte("v")) == nil
	}, time.Minute, 10*time.Millisecond)
	require.NoError(t, db.Close())
	return dir
}
