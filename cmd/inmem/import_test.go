package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// normalizeExport decodes jsonl export lines and drops what an import
// must change: run IDs and parents (checked apart), times, versions,
// step counts and event hashes (recomputed over the import's times).
func normalizeExport(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &rec), l)
		data := rec["data"].(map[string]any)
		for _, k := range []string{"id", "parent", "created_at", "updated_at", "ended_at", "steps", "version", "time", "hash", "prev_hash"} {
			if rec["kind"] == "span" && (k == "id" || k == "parent") {
				continue // span IDs and parents carry over
			}
			delete(data, k)
		}
		recs = append(recs, rec)
	}
	return recs
}

func listRuns(t *testing.T, dir string) []runOut {
	t.Helper()
	out, code := run(t, "runs", dir, "--json")
	require.Equal(t, 0, code, out)
	var runs []runOut
	require.NoError(t, json.Unmarshal([]byte(out), &runs))
	return runs
}

// TestImportRoundTrip exports the demo's two runs (a parent and its
// child) into one file, imports it into a fresh directory and exports
// again: everything but IDs, times, versions and event hashes is the
// same, the child's parent is the imported parent, the status and end
// reason carry over, and the recomputed hash chains verify.
func TestImportRoundTrip(t *testing.T) {
	src := demoDir(t)
	var runs []runOut
	for _, r := range listRuns(t, src) {
		if r.ForkOf == "" { // the demo's fork is left out: an import makes plain runs
			runs = append(runs, r)
		}
	}
	require.Len(t, runs, 2)
	var file strings.Builder
	var before []map[string]any
	for _, r := range runs {
		out, code := run(t, "export", src, r.ID)
		require.Equal(t, 0, code, out)
		file.WriteString(out)
		before = append(before, normalizeExport(t, out)...)
	}
	path := filepath.Join(t.TempDir(), "runs.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(file.String()), 0o644))

	dst := t.TempDir()
	out, code := run(t, "import", dst, path)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "3 events (hashes recomputed), 1 cells, 4 kv, 7 spans")
	require.NotContains(t, out, "\r", "no progress bar when stderr is not a terminal")

	imported := listRuns(t, dst)
	require.Len(t, imported, 2)
	for i := range imported {
		require.NotEqual(t, runs[i].ID, imported[i].ID, "an import is a new run")
		require.Equal(t, runs[i].Status, imported[i].Status)
		require.Equal(t, runs[i].Error, imported[i].Error)
	}
	require.Equal(t, imported[0].ID, imported[1].Parent, "the child's parent is the imported parent")

	var after []map[string]any
	for _, r := range imported {
		out, code := run(t, "export", dst, r.ID)
		require.Equal(t, 0, code, out)
		after = append(after, normalizeExport(t, out)...)
	}
	require.Equal(t, before, after)

	out, code = run(t, "verify", dst)
	require.Equal(t, 0, code, out)
	require.Equal(t, 2, strings.Count(out, "hash chain ok"), out)

	// --json names the mapping; stdin works as FILE "-".
	cmd := builtCmd(t, "import", dst, "-", "--json")
	cmd.Stdin = strings.NewReader(file.String())
	b, err := cmd.Output()
	require.NoError(t, err)
	var res []importResult
	require.NoError(t, json.Unmarshal(b, &res))
	require.Len(t, res, 2)
	require.Equal(t, runs[0].ID, res[0].From.String())
	require.Len(t, listRuns(t, dst), 4)
}

// TestImportBadInput: a malformed file fails naming the line, and leaves
// no half-imported run behind.
func TestImportBadInput(t *testing.T) {
	dst := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(t.TempDir(), "in.jsonl")
		require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
		return p
	}
	runLine := `{"kind":"run","data":{"Name":"x","Status":3}}` + "\n"
	for _, c := range []struct{ in, want string }{
		{"not json\n", "line 1: not a JSON record"},
		{`{"resourceSpans":[]}` + "\n", "no \"kind\""},
		{`{"kind":"kv","data":{"Key":"k"}}` + "\n", "before any \"run\" record"},
		{runLine + `{"kind":"kv","data":{"Key":"k","Value":"djE="}}` + "\n" + `{"kind":"event","data":{"seq":5,"type":"t"}}` + "\n", "line 3: event seq 5, want 0"},
		{runLine + `{"kind":"blob","data":{}}` + "\n", "unknown record kind"},
		{runLine + `{"kind":"span","data":{"ID":2,"Parent":1,"Kind":1,"Name":"n"}}` + "\n", "parent 1 is not in the export"},
		{runLine + `{"kind":"kv","data":{"Key":"","Value":"djE="}}` + "\n", "empty key"},
		// The current shape.
		{`{"kind":"run","data":{"name":"x","status":"bogus"}}` + "\n", `line 1: run record: status "bogus": want active`},
		{`{"kind":"run","data":{"name":"x"}}` + "\n" + `{"kind":"span","data":{"id":1,"kind":"weird","name":"n"}}` + "\n", `span record: kind "weird"`},
		{`{"kind":"run","data":{"name":"x"}}` + "\n" + `{"kind":"kv","data":{"key":"k","value":"a","value_base64":"YQ=="}}` + "\n", "give value or value_base64, not both"},
		{`{"kind":"run","data":{"name":"x"}}` + "\n" + `{"kind":"span","data":{"id":1,"kind":"decision","name":"n","attrs":{"n":[1]}}}` + "\n", `span record: attrs["n"]: attribute value [1]`},
	} {
		out, code := run(t, "import", dst, write(c.in))
		require.Equal(t, 1, code, out)
		require.Contains(t, out, c.want)
		require.Empty(t, repeatedPhrase(out), out)
	}
	require.Empty(t, listRuns(t, dst), "failed imports leave no run")

	out, code := run(t, "import", dst)
	require.Equal(t, 2, code, out)
	out, code = run(t, "import", dst, filepath.Join(dst, "missing.jsonl"))
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "no such file")
}

// TestImportStatusesAndSpans: runs in every status come back in it (a
// failed run's reason too), binary values and typed span attributes
// survive, and spans whose start
// order differs from their ID order are re-recorded parents first.
func TestImportStatusesAndSpans(t *testing.T) {
	src := t.TempDir()
	db, err := inmem.Open(src)
	require.NoError(t, err)
	ids := map[inmem.RunStatus]inmem.RunID{}
	for _, st := range []inmem.RunStatus{inmem.Active, inmem.Paused, inmem.Completed, inmem.Failed, inmem.Cancelled, inmem.Archived} {
		r, err := db.BeginRun(inmem.Name(st.String()))
		require.NoError(t, err)
		require.NoError(t, r.KV().Put("bin", []byte{0, 0xff, 1}))
		switch st {
		case inmem.Paused, inmem.Archived:
			require.NoError(t, db.Runs().SetStatus(r.ID(), st))
		case inmem.Completed, inmem.Failed, inmem.Cancelled:
			require.NoError(t, r.End(st, "because "+st.String()))
		}
		ids[st] = r.ID()
	}
	// In the active run: a child that starts before its parent.
	r, err := db.Run(ids[inmem.Active])
	require.NoError(t, err)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	values := map[string]inmem.AttrValue{"tokens": inmem.IntValue(812), "temperature": inmem.Float64Value(3), "stream": inmem.BoolValue(true)}
	parent, err := r.Traces().Record(inmem.Span{Kind: inmem.Decision, Name: "parent", Start: t0,
		Attrs: map[string]string{"model": "m"}, Values: values})
	require.NoError(t, err)
	_, err = r.Traces().Record(inmem.Span{Kind: inmem.ToolCall, Name: "child", Parent: parent, Start: t0.Add(-time.Second)})
	require.NoError(t, err)
	require.NoError(t, db.Close())

	var file bytes.Buffer
	for _, id := range ids {
		var errOut bytes.Buffer
		require.Equal(t, 0, dispatch([]string{"export", src, id.String()}, &file, &errOut), errOut.String())
	}
	path := filepath.Join(t.TempDir(), "runs.jsonl")
	require.NoError(t, os.WriteFile(path, file.Bytes(), 0o644))
	dst := t.TempDir()
	var out, errOut bytes.Buffer
	require.Equal(t, 0, dispatch([]string{"import", dst, path, "--json"}, &out, &errOut), errOut.String())
	require.Empty(t, errOut.String())
	var res []importResult
	require.NoError(t, json.Unmarshal(out.Bytes(), &res))
	require.Len(t, res, len(ids))

	db, err = inmem.Open(dst)
	require.NoError(t, err)
	defer db.Close()
	for _, ir := range res {
		var st inmem.RunStatus
		for s, id := range ids {
			if id == ir.From {
				st = s
			}
		}
		info, err := db.Runs().Get(ir.Run)
		require.NoError(t, err)
		require.Equal(t, st, info.Status, st.String())
		if st == inmem.Completed || st == inmem.Failed || st == inmem.Cancelled {
			require.Equal(t, "because "+st.String(), info.Error)
		}
		r, err := db.Run(ir.Run)
		require.NoError(t, err)
		v, err := r.KV().Get("bin")
		require.NoError(t, err)
		require.Equal(t, []byte{0, 0xff, 1}, v)
		if st == inmem.Active {
			tree, err := r.Traces().Tree(1)
			require.NoError(t, err)
			require.Equal(t, "parent", tree.Span.Name)
			require.Equal(t, map[string]string{"model": "m"}, tree.Span.Attrs)
			require.Equal(t, values, tree.Span.Values, "typed attributes keep their types")
			require.Len(t, tree.Children, 1)
			require.Equal(t, "child", tree.Children[0].Span.Name)
			require.True(t, tree.Children[0].Span.Start.Equal(t0.Add(-time.Second)))
		}
	}
}

// TestImportLegacyShape: an export written before export took show's
// JSON shape (Go field names, statuses and kinds as numbers, bytes in
// base64) still imports, values decoded from base64.
func TestImportLegacyShape(t *testing.T) {
	legacy := strings.Join([]string{
		`{"kind":"run","data":{"ID":"01a24c6a-39bd-739b-9188-a85c40c40960","Name":"old","Namespace":{"Tenant":"acme","App":"","Agent":""},"Parent":"00000000-0000-0000-0000-000000000000","Status":3,"Error":"","Tags":["x"],"Steps":4}}`,
		`{"kind":"event","data":{"seq":0,"type":"step","payload":"Z28=","time":"2026-01-02T03:04:05Z","prev_hash":"00","hash":"00"}}`,
		`{"kind":"cell","data":{"Name":"phase","Value":"YWN0","Version":1}}`,
		`{"kind":"kv","data":{"Key":"k","Value":"AP8=","Version":3}}`,
		`{"kind":"span","data":{"ID":1,"Parent":0,"Kind":4,"Name":"plan","Start":"2026-01-02T03:04:05Z","End":"0001-01-01T00:00:00Z","Status":"ok","Input":null,"Output":"ZG9uZQ==","Attrs":{"model":"m"},"Tags":null}}`,
	}, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "old.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(legacy), 0o644))
	dst := t.TempDir()
	db, err := inmem.Open(dst)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	var out, errOut bytes.Buffer
	require.Equal(t, 0, dispatch([]string{"import", dst, path, "--json"}, &out, &errOut), errOut.String())
	var res []importResult
	require.NoError(t, json.Unmarshal(out.Bytes(), &res))
	require.Len(t, res, 1)

	db, err = inmem.Open(dst)
	require.NoError(t, err)
	defer db.Close()
	r, err := db.Run(res[0].Run)
	require.NoError(t, err)
	info, err := r.Info()
	require.NoError(t, err)
	require.Equal(t, "old", info.Name)
	require.Equal(t, inmem.Completed, info.Status)
	require.Equal(t, "acme", info.Namespace.Tenant)
	evs, err := r.Events().Range(0, 1)
	require.NoError(t, err)
	require.Equal(t, "go", string(evs[0].Payload))
	c, err := r.State().Get("phase")
	require.NoError(t, err)
	require.Equal(t, "act", string(c.Value))
	v, err := r.KV().Get("k")
	require.NoError(t, err)
	require.Equal(t, []byte{0, 0xff}, v)
	spans, err := r.Traces().Query(inmem.SpanQuery{})
	require.NoError(t, err)
	require.Len(t, spans, 1)
	require.Equal(t, inmem.Decision, spans[0].Kind)
	require.Equal(t, "done", string(spans[0].Output))
	require.Equal(t, map[string]string{"model": "m"}, spans[0].Attrs)
}
