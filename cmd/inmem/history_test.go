package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// historyDir makes a database with a run of four steps and a fork of it
// at step 2 that went another way; the parent wrote once more after the
// fork.
func historyDir(t *testing.T) (dir string, parent, fork inmem.RunID) {
	t.Helper()
	dir = t.TempDir()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	r, err := db.BeginRun(inmem.Name("plan"))
	require.NoError(t, err)
	require.NoError(t, r.KV().Put("a", []byte("1")))
	require.NoError(t, r.KV().Put("b", []byte("2")))
	_, err = r.Events().Append("step", []byte("go"))
	require.NoError(t, err)
	_, err = r.State().Init("phase", []byte("act"))
	require.NoError(t, err)
	f, err := db.Fork(r.ID(), 2, inmem.Name("plan b"))
	require.NoError(t, err)
	require.NoError(t, f.KV().Put("a", []byte("changed")))
	require.NoError(t, f.KV().Put("c", []byte("3")))
	require.NoError(t, r.KV().Put("d", []byte("4")))
	parent, fork = r.ID(), f.ID()
	require.NoError(t, db.Close())
	return dir, parent, fork
}

// TestHistoryCommands: asof shows a run as it was at a step, replay lists
// the steps and confirms the rebuilt state, diff shows what a fork
// changed; each as a table and as JSON, with bad steps and IDs refused.
func TestHistoryCommands(t *testing.T) {
	dir, parent, fork := historyDir(t)
	p, f := parent.String(), fork.String()

	out, code := run(t, "asof", dir, p, "1")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, `"plan" as of step 1 of 5`)
	require.Contains(t, out, "kv (1):")
	require.Contains(t, out, `a                    = "1"`)
	require.Contains(t, out, "events (0):")
	out, code = run(t, "asof", dir, p, "3", "--json")
	require.Equal(t, 0, code, out)
	var asof asofOut
	require.NoError(t, json.Unmarshal([]byte(out), &asof))
	require.Equal(t, 3, asof.Step)
	require.Len(t, asof.KV, 2)
	require.Len(t, asof.Events, 1)
	out, code = run(t, "asof", dir, f, "0")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "kv (2):", "a fork at step 0 of its own is its parent at the fork step")
	out, code = run(t, "asof", dir, p, "9")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "no such step")
	_, code = run(t, "asof", dir, p, "two")
	require.Equal(t, 2, code)

	out, code = run(t, "replay", dir, p)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "replayed 5 steps: the rebuilt state matches")
	lines := strings.Split(out, "\n")
	require.True(t, strings.HasPrefix(lines[0], "STEP"), out)
	require.Contains(t, lines[3], "events 0")
	require.Contains(t, lines[4], "state phase")
	out, code = run(t, "replay", dir, f, "--json")
	require.Equal(t, 0, code, out)
	var rep struct {
		Steps  []stepOut
		Replay replayOut
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.True(t, rep.Replay.Match)
	require.Len(t, rep.Steps, 2)
	require.Equal(t, []string{"a"}, rep.Steps[0].Writes.KV)

	out, code = run(t, "diff", dir, p, f)
	require.Equal(t, 1, code, "diff exits 1 when the runs differ: "+out)
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		rows = append(rows, strings.Join(strings.Fields(l), " "))
	}
	require.Equal(t, []string{"PRIMITIVE KEY A B", "kv - d (only in A)", "kv + c (only in B)", `kv ~ a "1" "changed"`,
		"events - 0 (only in A)", "state - phase (only in A)"}, rows)
	out, code = run(t, "diff", dir, p, f, "--json")
	require.Equal(t, 1, code, out)
	var d diffOut
	require.NoError(t, json.Unmarshal([]byte(out), &d))
	require.False(t, d.Same)
	require.Equal(t, []string{"c"}, d.KV.Added)
	require.Equal(t, []string{"d"}, d.KV.Removed)
	require.Equal(t, []changeOut{{Key: "a", Before: "1", After: "changed"}}, d.KV.Changed)
	require.Equal(t, []string{"0"}, d.Events.Removed)
	require.Empty(t, d.Vectors.Added)
	out, code = run(t, "diff", dir, p, p)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "hold the same state")
	out, code = run(t, "diff", dir, p, "nope")
	require.Equal(t, 2, code, "trouble is 2, as for diff(1): "+out)
	require.Contains(t, out, `no run named or prefixed "nope"`)
	out, code = run(t, "diff", filepath.Join(dir, "missing"), p, p)
	require.Equal(t, 2, code, out)
}

// TestForkShown: runs names a fork's parent run and step in its PARENT
// column, and show and asof say the run is a fork and of what; a run a
// run started shows that one.
func TestForkShown(t *testing.T) {
	dir, parent, fork := historyDir(t)
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	child, err := db.BeginRun(inmem.Name("sub"), inmem.Parent(parent))
	require.NoError(t, err)
	require.NoError(t, db.Close())

	out, code := run(t, "runs", dir)
	require.Equal(t, 0, code, out)
	rows := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		rows[strings.Fields(l)[0]] = l
	}
	require.True(t, strings.HasSuffix(rows[parent.String()], "  -"), out)
	require.True(t, strings.HasSuffix(rows[fork.String()], "  fork of "+parent.String()+"@2"), out)
	require.True(t, strings.HasSuffix(rows[child.ID().String()], "  "+parent.String()), out)

	out, code = run(t, "show", dir, fork.String())
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "\n  fork of run "+parent.String()+` "plan" at step 2`+"\n")
	out, code = run(t, "asof", dir, "plan b", "1")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "\n  fork of run "+parent.String()+` "plan" at step 2`+"\n")
	out, code = run(t, "show", dir, "sub")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "\n  child of run "+parent.String()+` "plan"`+"\n")
	out, code = run(t, "show", dir, "plan")
	require.Equal(t, 0, code, out)
	require.NotContains(t, out, "fork of")
	require.NotContains(t, out, "child of")

	out, code = run(t, "show", dir, "plan b", "--json")
	require.Equal(t, 0, code, out)
	var shown runDataOut
	require.NoError(t, json.Unmarshal([]byte(out), &shown))
	require.Equal(t, parent.String(), shown.Run.ForkOf)
	require.Equal(t, 2, shown.Run.ForkStep)
}

// TestShowVectors: show and asof list a run's vector collections with
// their records (key, dimension, metadata), a fork's inherited ones
// included and its deleted ones left out, as text and as JSON.
func TestShowVectors(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	r, err := db.BeginRun(inmem.Name("vec"))
	require.NoError(t, err)
	vs := r.Vectors()
	require.NoError(t, vs.CreateCollection("notes", inmem.VectorConfig{Dim: 2, Metric: inmem.Cosine}))
	require.NoError(t, vs.Upsert("notes", "a", []float32{1, 0}, map[string]any{"lang": "en"}))
	require.NoError(t, vs.Upsert("notes", "b", []float32{0, 1}, nil))
	require.NoError(t, vs.CreateCollection("docs", inmem.VectorConfig{Dim: 3, Metric: inmem.Dot}))
	require.NoError(t, vs.Upsert("docs", "a", []float32{1, 0, 0}, nil))
	f, err := db.Fork(r.ID(), 3, inmem.Name("vec fork")) // before docs
	require.NoError(t, err)
	require.NoError(t, f.Vectors().Delete("notes", "a"))
	require.NoError(t, f.Vectors().Upsert("notes", "c", []float32{1, 1}, nil))
	require.NoError(t, db.Close())

	out, code := run(t, "show", dir, "vec")
	require.Equal(t, 0, code, out)
	_, vecs, ok := strings.Cut(out, "\nvectors (2 collections):\n")
	require.True(t, ok, out)
	require.Equal(t, `  docs: dim 3, dot, 1 record
    a                    dim 3
  notes: dim 2, cosine, 2 records
    a                    dim 2 {"lang":"en"}
    b                    dim 2
`, vecs)

	out, code = run(t, "show", dir, "vec fork", "--json")
	require.Equal(t, 0, code, out)
	var shown runDataOut
	require.NoError(t, json.Unmarshal([]byte(out), &shown))
	require.Equal(t, []vectorCollOut{{Name: "notes", Dim: 2, Metric: "cosine", Records: []vectorRecOut{{Key: "b", Dim: 2}, {Key: "c", Dim: 2}}}}, shown.Vectors)

	out, code = run(t, "asof", dir, "vec fork", "0", "--json")
	require.Equal(t, 0, code, out)
	var asof asofOut
	require.NoError(t, json.Unmarshal([]byte(out), &asof))
	require.Equal(t, []vectorCollOut{{Name: "notes", Dim: 2, Metric: "cosine", Records: []vectorRecOut{
		{Key: "a", Dim: 2, Meta: map[string]any{"lang": "en"}}, {Key: "b", Dim: 2}}}}, asof.Vectors, "the parent's at the fork step")

	out, code = run(t, "asof", dir, "vec", "2")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "\nvectors (1 collection):\n  notes: dim 2, cosine, 1 record\n    a ")
	out, code = run(t, "asof", dir, "vec", "0")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "\nvectors (0 collections):\n")
	require.NotContains(t, out, "compacted")

	// A compacted history keeps the latest state: show lists it whole.
	out, code = run(t, "show", dir, "vec", "--json")
	require.Equal(t, 0, code, out)
	require.NoError(t, json.Unmarshal([]byte(out), &shown))
	before := shown.Vectors
	require.Len(t, before, 2)
	db, err = inmem.Open(dir)
	require.NoError(t, err)
	require.NoError(t, db.Runs().Compact(r.ID()))
	require.NoError(t, db.Close())
	out, code = run(t, "show", dir, "vec", "--json")
	require.Equal(t, 0, code, out)
	require.NoError(t, json.Unmarshal([]byte(out), &shown))
	require.Equal(t, before, shown.Vectors)
}
