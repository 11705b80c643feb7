package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

const uiTestToken = "t0ken"

// uiServer serves the inspector over src for the test.
func uiServer(t *testing.T, src uiSource) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(newUIHandler(src, "DIR", uiTestToken, []string{"https://app.example"}))
	t.Cleanup(ts.Close)
	return ts
}

// uiGet GETs path with the token and decodes the JSON answer into out;
// it returns the status.
func uiGet(t *testing.T, ts *httptest.Server, path string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+uiTestToken)
	res, err := ts.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	if out != nil {
		require.NoError(t, json.Unmarshal(b, out), string(b))
	}
	return res.StatusCode
}

// uiFixture is a database with a run that wrote to every primitive over
// several steps, a child run and a fork.
type uiFixture struct {
	db                *inmem.DB
	run, child, fork  *inmem.Run
	parentSteps       int
	otherNS, otherTag *inmem.Run
}

func newUIFixture(t *testing.T) uiFixture {
	t.Helper()
	db := memDB(t)
	ns := inmem.Namespace{Tenant: "acme", App: "support"}
	run, err := db.BeginRun(inmem.Name("triage"), inmem.InNamespace(ns), inmem.Tags("demo"))
	require.NoError(t, err)
	require.NoError(t, run.KV().Put("ticket", []byte("4821")))
	_, err = run.State().Init("phase", []byte("start"))
	require.NoError(t, err)
	require.NoError(t, run.State().Define("mode", inmem.Machine{Initial: "draft", Allow: map[string][]string{"draft": {"sent"}}}))
	_, err = run.Events().Append("user.message", []byte(`{"text":"refund?"}`))
	require.NoError(t, err)
	root, err := run.Traces().Record(inmem.Span{Kind: inmem.LLMCall, Name: "plan", Start: time.Unix(100, 0), End: time.Unix(101, 0),
		Attrs: map[string]string{"gen_ai.request.model": "m1"}})
	require.NoError(t, err)
	_, err = run.Traces().Record(inmem.Span{Parent: root, Kind: inmem.ToolCall, Name: "lookup", Start: time.Unix(100, 5e8), End: time.Unix(100, 9e8)})
	require.NoError(t, err)
	require.NoError(t, run.Vectors().CreateCollection("notes", inmem.VectorConfig{Dim: 2, Metric: inmem.Cosine}))
	require.NoError(t, run.Vectors().Upsert("notes", "n1", []float32{1, 0}, nil))
	require.NoError(t, run.KV().Put("ticket", []byte("4822")))
	child, err := db.BeginRun(inmem.Name("sub"), inmem.InNamespace(ns), inmem.Parent(run.ID()))
	require.NoError(t, err)
	fork, err := db.Fork(run.ID(), 1)
	require.NoError(t, err)
	require.NoError(t, fork.KV().Put("ticket", []byte("9999")))
	other, err := db.BeginRun(inmem.Name("elsewhere"), inmem.InNamespace(inmem.Namespace{Tenant: "globex"}))
	require.NoError(t, err)
	tagged, err := db.BeginRun(inmem.Name("tagged"), inmem.Tags("rare"))
	require.NoError(t, err)
	require.NoError(t, tagged.End(inmem.Completed, ""))
	info, err := run.Info()
	require.NoError(t, err)
	return uiFixture{db: db, run: run, child: child, fork: fork, parentSteps: info.Steps, otherNS: other, otherTag: tagged}
}

func TestUIAuth(t *testing.T) {
	ts := uiServer(t, liveSource{memDB(t)})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, hdr map[string]string) *http.Response {
		req, err := http.NewRequest(method, ts.URL+path, nil)
		require.NoError(t, err)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := noRedirect.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res
	}
	for _, p := range []string{"/", "/api/runs", "/api/watch", "/app.js"} {
		require.Equal(t, http.StatusUnauthorized, do("GET", p, nil).StatusCode, p)
		require.Equal(t, http.StatusUnauthorized, do("GET", p, map[string]string{"Authorization": "Bearer wrong"}).StatusCode, p)
	}
	require.Equal(t, http.StatusUnauthorized, do("GET", "/?token=wrong", nil).StatusCode)

	// The printed URL trades its token for a cookie and leaves the address bar.
	res := do("GET", "/?token="+uiTestToken, nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "/", res.Header.Get("Location"))
	cookies := res.Cookies()
	require.Len(t, cookies, 1)
	require.Equal(t, uiCookie, cookies[0].Name)
	require.True(t, cookies[0].HttpOnly)
	require.Equal(t, http.StatusOK, do("GET", "/api/runs", map[string]string{"Cookie": uiCookie + "=" + uiTestToken}).StatusCode)
	require.Equal(t, http.StatusOK, do("GET", "/", map[string]string{"Cookie": uiCookie + "=" + uiTestToken}).StatusCode)

	auth := map[string]string{"Authorization": "Bearer " + uiTestToken}
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		require.Equal(t, http.StatusMethodNotAllowed, do(m, "/api/runs", auth).StatusCode, "no write endpoints: %s", m)
	}
	auth["Origin"] = "https://evil.example"
	require.Equal(t, http.StatusForbidden, do("GET", "/api/runs", auth).StatusCode)
	auth["Origin"] = "https://app.example"
	require.Equal(t, http.StatusOK, do("GET", "/api/runs", auth).StatusCode)
	auth["Origin"] = "http://127.0.0.1:9"
	require.Equal(t, http.StatusOK, do("GET", "/api/runs", auth).StatusCode)
}

func TestUIRuns(t *testing.T) {
	f := newUIFixture(t)
	ts := uiServer(t, liveSource{f.db})

	var page uiRunsOut
	all, err := f.db.Runs().List(inmem.RunQuery{})
	require.NoError(t, err)
	oldest := mapSlice(all, func(r inmem.RunInfo) string { return r.ID.String() })
	newest := slices.Clone(oldest)
	slices.Reverse(newest)
	for order, want := range map[string][]string{"": newest, "newest": newest, "oldest": oldest} {
		require.Equal(t, 200, uiGet(t, ts, "/api/runs?limit=2&order="+order, &page))
		require.Len(t, page.Runs, 2)
		seen := runIDs(page.Runs)
		for page.Next != "" {
			require.Equal(t, 200, uiGet(t, ts, "/api/runs?limit=2&order="+order+"&after="+page.Next, &page))
			seen = append(seen, runIDs(page.Runs)...)
		}
		require.Equal(t, want, seen, "order %q: every run once across the pages", order)
	}

	require.Equal(t, 200, uiGet(t, ts, "/api/runs?namespace=globex", &page))
	require.Equal(t, []string{f.otherNS.ID().String()}, runIDs(page.Runs))
	require.Equal(t, 200, uiGet(t, ts, "/api/runs?tag=rare&status=completed", &page))
	require.Equal(t, []string{f.otherTag.ID().String()}, runIDs(page.Runs))
	require.Equal(t, 200, uiGet(t, ts, "/api/runs?status=paused", &page))
	require.Empty(t, page.Runs)
	require.NotNil(t, page.Runs, "an empty page is [], not null")

	for _, bad := range []string{"status=nope", "limit=0", "limit=x", "after=zzz", "namespace=a/b/c/d", "order=random"} {
		var e map[string]string
		require.Equal(t, 400, uiGet(t, ts, "/api/runs?"+bad, &e), bad)
		require.NotEmpty(t, e["error"], bad)
	}

	var one uiRunOut
	require.Equal(t, 200, uiGet(t, ts, "/api/runs/"+f.run.ID().String(), &one))
	require.Equal(t, "triage", one.Run.Name)
	require.Equal(t, []string{f.child.ID().String()}, runIDs(one.Children))
	require.Equal(t, []string{f.fork.ID().String()}, runIDs(one.Forks))
	require.Equal(t, 1, one.Forks[0].ForkStep)
	var e map[string]string
	require.Equal(t, 404, uiGet(t, ts, "/api/runs/"+inmem.RunID{1}.String(), &e))
	require.Equal(t, 404, uiGet(t, ts, "/api/nothing", &e))
}

func runIDs(rs []runOut) []string { return mapSlice(rs, func(r runOut) string { return r.ID }) }

// TestUIAsOf: every step of the run reads back through the API exactly as
// AsOf reads it.
func TestUIAsOf(t *testing.T) {
	f := newUIFixture(t)
	ts := uiServer(t, liveSource{f.db})
	id := f.run.ID().String()

	var steps uiStepsOut
	require.Equal(t, 200, uiGet(t, ts, "/api/runs/"+id+"/steps", &steps))
	require.Equal(t, f.parentSteps, steps.Total)
	require.Len(t, steps.Steps, f.parentSteps)
	require.Equal(t, []string{"ticket"}, steps.Steps[0].Writes.KV)
	require.Equal(t, 200, uiGet(t, ts, "/api/runs/"+id+"/steps?from=4&limit=1", &steps))
	require.Len(t, steps.Steps, 1)
	require.Equal(t, 4, steps.Steps[0].N)
	require.Equal(t, []string{"0"}, steps.Steps[0].Writes.Events)

	for k := 0; k <= f.parentSteps; k++ {
		var got uiAsOfOut
		require.Equal(t, 200, uiGet(t, ts, fmt.Sprintf("/api/runs/%s/asof/%d", id, k), &got))
		view, err := f.run.AsOf(k)
		require.NoError(t, err)
		kv, err := view.KV().List("")
		require.NoError(t, err)
		cells, err := view.State().List()
		require.NoError(t, err)
		n, err := view.Events().Len()
		require.NoError(t, err)
		spans, err := view.Traces().Query(inmem.SpanQuery{})
		require.NoError(t, err)
		require.Equal(t, k, got.Step)
		require.Equal(t, nonNilSlice(mapSlice(kv, entryOf)), nonNilSlice(got.KV), "kv at %d", k)
		require.Equal(t, nonNilSlice(mapSlice(cells, cellOf)), nonNilSlice(mapSlice(got.State, func(c uiCellOut) cellOut { return c.cellOut })), "cells at %d", k)
		require.Equal(t, n, got.Events.Count)
		require.True(t, got.Events.Verified)
		require.Equal(t, int64(-1), got.Events.FirstBad)
		require.Equal(t, len(spans), got.Spans.Count)

		var sp uiSpansOut
		require.Equal(t, 200, uiGet(t, ts, fmt.Sprintf("/api/runs/%s/spans?step=%d", id, k), &sp))
		require.Len(t, sp.Spans, len(spans))
		require.True(t, slices.IsSortedFunc(sp.Spans, func(a, b spanOut) int { return cmp.Compare(a.ID, b.ID) }), "spans by ID")
	}
	var last uiAsOfOut
	require.Equal(t, 200, uiGet(t, ts, fmt.Sprintf("/api/runs/%s/asof/%d", id, f.parentSteps), &last))
	require.Len(t, last.State, 2)
	require.Equal(t, "mode", last.State[0].Name)
	require.Equal(t, &uiMachineOut{Initial: "draft", Allow: map[string][]string{"draft": {"sent"}}}, last.State[0].Machine, "the declared machine")
	require.Nil(t, last.State[1].Machine, "phase has none")
	require.Equal(t, []uiCollectionCount{{Collection: "notes", Count: 1}}, last.Vectors)
	require.Len(t, last.Events.Recent, 1)
	require.Equal(t, "user.message", last.Events.Recent[0].Type)

	var e map[string]string
	require.Equal(t, 400, uiGet(t, ts, fmt.Sprintf("/api/runs/%s/asof/%d", id, f.parentSteps+1), &e), "a step the run does not have")
	require.Equal(t, 400, uiGet(t, ts, "/api/runs/"+id+"/asof/-1", &e))
	require.Equal(t, 400, uiGet(t, ts, "/api/runs/"+id+"/spans?step=x", &e))

	var sp uiSpansOut
	require.Equal(t, 200, uiGet(t, ts, "/api/runs/"+id+"/spans", &sp), "no step: the last")
	require.Len(t, sp.Spans, 2)
	require.Equal(t, sp.Spans[0].ID, sp.Spans[1].Parent)
	require.Equal(t, "m1", sp.Spans[0].Attrs["gen_ai.request.model"])
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func TestUIReplayDiffVectors(t *testing.T) {
	f := newUIFixture(t)
	ts := uiServer(t, liveSource{f.db})
	id := f.run.ID().String()

	var rep replayOut
	require.Equal(t, 200, uiGet(t, ts, "/api/runs/"+id+"/replay", &rep))
	require.True(t, rep.Match)
	require.Equal(t, f.parentSteps, rep.Steps)

	var d uiDiffOut
	require.Equal(t, 200, uiGet(t, ts, "/api/diff?a="+id+"&b="+f.fork.ID().String(), &d))
	require.Equal(t, id, d.A.ID)
	require.Equal(t, 1, d.B.ForkStep)
	require.False(t, d.Diff.Same)
	require.Equal(t, []changeOut{{Key: "ticket", Before: "4822", After: "9999"}}, d.Diff.KV.Changed)
	require.Contains(t, d.Diff.Events.Removed, "0", "the event came after the fork point")
	var e map[string]string
	require.Equal(t, 400, uiGet(t, ts, "/api/diff?a="+id, &e))

	// The step that upserted n1 wrote it; the one that made the
	// collection wrote no vector.
	var steps uiStepsOut
	require.Equal(t, 200, uiGet(t, ts, "/api/runs/"+id+"/steps", &steps))
	upsert, create := 0, 0
	for _, s := range steps.Steps {
		switch {
		case len(s.Writes.Vectors) == 1 && s.Writes.Vectors[0] == "n1":
			upsert = s.N
		case len(s.Writes.Vectors) == 1 && s.Writes.Vectors[0] == "notes":
			create = s.N
		}
	}
	require.NotZero(t, upsert)
	require.NotZero(t, create)
	var vs uiVectorsOut
	require.Equal(t, 200, uiGet(t, ts, fmt.Sprintf("/api/runs/%s/vectors?step=%d", id, upsert), &vs))
	require.Equal(t, []uiCollectionOut{{Name: "notes", Count: 1, Dim: 2, Metric: "cosine"}}, vs.Collections)
	require.Equal(t, []uiVectorRef{{Collection: "notes", Key: "n1"}}, vs.Written)
	require.Equal(t, 200, uiGet(t, ts, fmt.Sprintf("/api/runs/%s/vectors?step=%d", id, create), &vs))
	require.Equal(t, []uiCollectionOut{{Name: "notes", Count: 0, Dim: 2, Metric: "cosine"}}, vs.Collections)
	require.Empty(t, vs.Written)
	require.Equal(t, 200, uiGet(t, ts, "/api/runs/"+id+"/vectors?step=0", &vs))
	require.Empty(t, vs.Collections)
}

// readVersion reads the next version event of an /api/watch stream.
func readVersion(t *testing.T, sc *bufio.Scanner) uint64 {
	t.Helper()
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var v struct{ Version uint64 }
			require.NoError(t, json.Unmarshal([]byte(data), &v))
			return v.Version
		}
	}
	t.Fatalf("stream ended: %v", sc.Err())
	return 0
}

// TestUIWatchFollows: inmem ui reading a directory another process writes
// (here a handle of the test's, which holds the lock) sees each commit:
// the version stream moves, and the new step reads back.
func TestUIWatchFollows(t *testing.T) {
	checkNoLeak(t)
	dir := t.TempDir()
	// Strict: a commit is on disk, where a read-only open reads, when it
	// returns (Batched writes it within milliseconds; the page shows it then).
	w, err := inmem.Open(dir, inmem.WithDurability(inmem.Strict()))
	require.NoError(t, err)
	defer w.Close()
	run, err := w.BeginRun(inmem.Name("live"))
	require.NoError(t, err)
	require.NoError(t, run.KV().Put("a", []byte("1")))

	src, err := openFollow(dir, 20*time.Millisecond, func() (*inmem.DB, error) { return inmem.Open(dir, inmem.WithReadOnly()) })
	require.NoError(t, err)
	defer func() { require.NoError(t, src.close()) }()
	ts := uiServer(t, src)

	// A stream that stops sending ends the test in a failure, not a hang.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/api/watch", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+uiTestToken)
	res, err := ts.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	sc := bufio.NewScanner(res.Body)
	first := readVersion(t, sc)
	require.Equal(t, w.Stats().Version, first)

	require.NoError(t, run.KV().Put("b", []byte("2")))
	require.Equal(t, w.Stats().Version, readVersion(t, sc), "the writer's commit reaches the stream")
	var steps uiStepsOut
	require.Equal(t, 200, uiGet(t, ts, "/api/runs/"+run.ID().String()+"/steps", &steps))
	require.Equal(t, 2, steps.Total, "the version %d stream said", w.Stats().Version)
	var info uiInfoOut
	require.Equal(t, 200, uiGet(t, ts, "/api/info", &info))
	require.True(t, info.ReadOnly)
}

// TestUICommand runs inmem ui on a directory and serve --ui beside MCP.
func TestUICommand(t *testing.T) {
	dir := t.TempDir()
	out, code := run(t, "demo", dir)
	require.Equal(t, 0, code, out)
	for _, args := range [][]string{{"ui", dir}, {"serve", dir, "--mcp", "--http", "127.0.0.1:0", "--ui", "--token", "tok"}} {
		cmd := builtCmd(t, args...)
		stderr, err := cmd.StderrPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		sc := bufio.NewScanner(stderr)
		var url string
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "inmem ui: "); ok {
				url = u
				break
			}
		}
		require.NotEmpty(t, url, "%v prints the URL to open", args)
		go io.Copy(io.Discard, stderr) //nolint:errcheck // drained so the server never blocks on it
		jar, err := cookiejar.New(nil)
		require.NoError(t, err)
		c := &http.Client{Jar: jar}
		res, err := c.Get(url)
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, 200, res.StatusCode, string(body))
		require.Contains(t, string(body), "<title>", "the page, after the token became a cookie")
		base := strings.SplitN(url, "/?", 2)[0]
		res, err = c.Get(base + "/api/runs")
		require.NoError(t, err)
		var page uiRunsOut
		require.NoError(t, json.NewDecoder(res.Body).Decode(&page))
		res.Body.Close()
		require.NotEmpty(t, page.Runs)
		require.NoError(t, cmd.Process.Signal(os.Interrupt))
		require.NoError(t, cmd.Wait(), "%v exits cleanly on SIGINT", args)
	}
	out, code = run(t, "serve", dir, "--mcp", "--ui")
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "--ui go with --http")
	out, code = run(t, "ui", dir, "--http", "0.0.0.0:0")
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "--allow-remote")
	out, code = run(t, "ui", t.TempDir())
	require.Equal(t, 1, code, out)
}

// TestUIJSONShape holds the inspector API's answers to the one JSON shape
// of the commands' --json.
func TestUIJSONShape(t *testing.T) {
	dir := richDir(t)
	src, err := openFollow(dir, time.Hour, func() (*inmem.DB, error) { return inmem.Open(dir, inmem.WithReadOnly()) })
	require.NoError(t, err)
	defer func() { require.NoError(t, src.close()) }()
	ts := uiServer(t, src)
	var runs uiRunsOut
	require.Equal(t, 200, uiGet(t, ts, "/api/runs", &runs))
	var rich, fork string
	for _, r := range runs.Runs {
		switch r.Name {
		case "rich":
			rich = r.ID
		case "rich fork":
			fork = r.ID
		}
	}
	for _, p := range []string{"/api/info", "/api/runs", "/api/runs/" + rich, "/api/runs/" + rich + "/steps",
		"/api/runs/" + rich + "/asof/7", "/api/runs/" + rich + "/spans", "/api/runs/" + rich + "/replay",
		"/api/runs/" + rich + "/vectors?step=7", "/api/diff?a=" + rich + "&b=" + fork} {
		var v any
		require.Equal(t, 200, uiGet(t, ts, p, &v), p)
		for _, problem := range shapeProblems("ui", v) {
			t.Errorf("%s: %s", p, problem)
		}
	}
}

func TestUIShared(t *testing.T) {
	db := memDB(t)
	ns := inmem.Namespace{Tenant: "acme", App: "support"}
	sh := db.Shared(ns)
	require.NoError(t, sh.KV().Put("policy", []byte("refunds within 30 days")))
	require.NoError(t, sh.Vectors().CreateCollection("faq", inmem.VectorConfig{Dim: 2, Metric: inmem.Dot}))
	require.NoError(t, sh.Vectors().Upsert("faq", "q1", []float32{1, 0}, nil))
	require.NoError(t, sh.Vectors().Upsert("faq", "q2", []float32{0, 1}, nil))
	ts := uiServer(t, liveSource{db})

	var got uiSharedOut
	require.Equal(t, 200, uiGet(t, ts, "/api/shared?namespace=acme/support", &got))
	require.Equal(t, nsOf(ns), got.Namespace)
	require.Equal(t, 1, got.KVCount)
	require.Equal(t, "refunds within 30 days", got.KV[0].Value)
	require.Equal(t, []uiCollectionOut{{Name: "faq", Count: 2, Dim: 2, Metric: "dot"}}, got.Collections)
	require.Equal(t, 200, uiGet(t, ts, "/api/shared", &got), "the default namespace")
	require.Empty(t, got.Collections)
	require.NotNil(t, got.KV)
	var e map[string]string
	require.Equal(t, 400, uiGet(t, ts, "/api/shared?namespace=a/b/c/d", &e))
}

// TestUIPageEdges: a page that holds exactly the runs left names no next
// one; the step list follows commits and the run asked for; recent events
// are the last ones; limits above the cap are capped.
func TestUIPageEdges(t *testing.T) {
	db := memDB(t)
	a, err := db.BeginRun(inmem.Name("a"))
	require.NoError(t, err)
	b, err := db.BeginRun(inmem.Name("b"))
	require.NoError(t, err)
	ts := uiServer(t, liveSource{db})

	var page uiRunsOut
	require.Equal(t, 200, uiGet(t, ts, "/api/runs?limit=2", &page))
	require.Len(t, page.Runs, 2)
	require.Empty(t, page.Next, "no runs after these two")

	for i := range 150 {
		_, err := a.Events().Append("tick", []byte(strconv.Itoa(i)))
		require.NoError(t, err)
	}
	require.NoError(t, b.KV().Put("k", []byte("v")))
	var steps uiStepsOut
	require.Equal(t, 200, uiGet(t, ts, "/api/runs/"+a.ID().String()+"/steps?limit=1", &steps))
	require.Equal(t, 150, steps.Total)
	require.Equal(t, 200, uiGet(t, ts, "/api/runs/"+b.ID().String()+"/steps?limit=1", &steps))
	require.Equal(t, 1, steps.Total, "the other run's steps, not the cached ones")
	require.NoError(t, b.KV().Put("k", []byte("w")))
	require.Equal(t, 200, uiGet(t, ts, "/api/runs/"+b.ID().String()+"/steps?limit=1", &steps))
	require.Equal(t, 2, steps.Total, "a commit since: listed again")

	var asof uiAsOfOut
	require.Equal(t, 200, uiGet(t, ts, "/api/runs/"+a.ID().String()+"/asof/150", &asof))
	require.Equal(t, uint64(150), asof.Events.Count)
	require.Len(t, asof.Events.Recent, uiRecentEvents)
	require.Equal(t, uint64(50), asof.Events.Recent[0].Seq, "the last ones")
	require.Equal(t, uint64(149), asof.Events.Recent[uiRecentEvents-1].Seq)

	n, err := intArg("100000", 1, 1, uiRunsMax)
	require.NoError(t, err)
	require.Equal(t, uiRunsMax, n, "capped")
	n, err = intArg("", 7, 1, 10)
	require.NoError(t, err)
	require.Equal(t, 7, n)
}

// TestFollowSourceReleases: a database the follower replaced stays open
// for the request that holds it and closes at its release; one nobody
// holds closes at once; close closes the current one.
func TestFollowSourceReleases(t *testing.T) {
	dir := t.TempDir()
	w, err := inmem.Open(dir, inmem.WithDurability(inmem.Strict()))
	require.NoError(t, err)
	defer w.Close()
	run, err := w.BeginRun()
	require.NoError(t, err)
	src, err := openFollow(dir, 10*time.Millisecond, func() (*inmem.DB, error) { return inmem.Open(dir, inmem.WithReadOnly()) })
	require.NoError(t, err)

	held, release := src.acquire()
	next := func(old *inmem.DB) *inmem.DB {
		t.Helper()
		require.NoError(t, run.KV().Put("k", []byte(time.Now().String())))
		require.Eventually(t, func() bool {
			db, rel := src.acquire()
			defer rel()
			return db != old
		}, 10*time.Second, 5*time.Millisecond, "the follower opens the directory again")
		db, rel := src.acquire()
		rel()
		return db
	}
	second := next(held)
	_, err = held.Runs().List(inmem.RunQuery{})
	require.NoError(t, err, "replaced, but still held")
	release()
	release() // twice: the second changes nothing
	_, err = held.Runs().List(inmem.RunQuery{})
	require.ErrorIs(t, err, inmem.ErrClosed, "closed at its release")

	third := next(second)
	_, err = second.Runs().List(inmem.RunQuery{})
	require.ErrorIs(t, err, inmem.ErrClosed, "held by nobody: closed when replaced")
	require.NoError(t, src.close())
	_, err = third.Runs().List(inmem.RunQuery{})
	require.ErrorIs(t, err, inmem.ErrClosed)
}
