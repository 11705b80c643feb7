package uitest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// runRowsJS lists the runs table's rows by run ID, top to bottom.
const runRowsJS = `[...document.querySelectorAll('table[data-testid=runs] tr[data-run-id]')].map((r) => r.dataset.runId)`

// ids lists the IDs of runs, as the page writes them.
func ids(runs []inmem.RunInfo) []string {
	out := []string{}
	for _, r := range runs {
		out = append(out, r.ID.String())
	}
	return out
}

// waitRunRows waits until the runs table lists exactly want, in order.
func waitRunRows(t *testing.T, ctx context.Context, what string, want []string) {
	t.Helper()
	b, err := json.Marshal(want)
	require.NoError(t, err)
	waitJS(t, ctx, what, `JSON.stringify(`+runRowsJS+`) === `+jsString(string(b)), waitDefault)
}

// newestFirst is the IDs of runs (listed oldest first) as the runs page
// lists them by default.
func newestFirst(runs []inmem.RunInfo) []string {
	out := ids(runs)
	slices.Reverse(out)
	return out
}

// labelIs is a JavaScript test of #step-label's text.
func labelIs(k, n int) string {
	return fmt.Sprintf(`(document.querySelector('#step-label') || {}).textContent === 'step %d of %d'`, k, n)
}

func TestRunsListShowsRunsAndFiltersNarrowIt(t *testing.T) {
	fx := newFixture(t)
	srv := startUI(t, fx.dir)
	ro := openRO(t, fx.dir)
	ctx := newBrowser(t)

	all, err := ro.Runs().List(inmem.RunQuery{})
	require.NoError(t, err)
	require.Len(t, all, 5)
	open(t, ctx, srv, "#/runs")
	waitRunRows(t, ctx, "every run, newest first", newestFirst(all))
	screenshot(t, ctx, "runs.png")

	// The namespace filter, typed and applied with Enter.
	lab, err := ro.Runs().List(inmem.RunQuery{Namespace: inmem.Namespace{Tenant: "lab", App: "eval", Agent: "bench"}})
	require.NoError(t, err)
	require.Equal(t, []string{fx.nightly.String()}, ids(lab))
	require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#filter-namespace"), "lab/eval/bench"+kb.Enter)))
	waitRunRows(t, ctx, "the runs of namespace lab/eval/bench", newestFirst(lab))

	// The status filter, with the namespace cleared.
	completed, err := ro.Runs().List(inmem.RunQuery{Status: inmem.Completed})
	require.NoError(t, err)
	require.Len(t, completed, 2)
	evalJS[chromedp.Void](t, ctx, `(() => {
		const ns = document.querySelector('#filter-namespace');
		ns.value = ''; ns.dispatchEvent(new Event('change', {bubbles: true}));
		const st = document.querySelector('#filter-status');
		st.value = 'completed'; st.dispatchEvent(new Event('change', {bubbles: true}));
	})()`)
	waitRunRows(t, ctx, "the completed runs", newestFirst(completed))

	// The tag filter, with the status cleared.
	prod, err := ro.Runs().List(inmem.RunQuery{Tag: "prod"})
	require.NoError(t, err)
	require.Less(t, len(prod), len(all))
	evalJS[chromedp.Void](t, ctx, `(() => {
		const st = document.querySelector('#filter-status');
		st.value = ''; st.dispatchEvent(new Event('change', {bubbles: true}));
		const tag = document.querySelector('#filter-tag');
		tag.value = 'prod'; tag.dispatchEvent(new Event('change', {bubbles: true}));
	})()`)
	waitRunRows(t, ctx, "the runs tagged prod", newestFirst(prod))

	// A row leads to its run.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`tr[data-run-id="`+fx.billing.String()+`"] td:nth-child(2)`))))
	waitJS(t, ctx, "the billing run's page", `document.querySelector('#run-title') && document.querySelector('#run-title').textContent === 'billing sync'`, waitDefault)
	hash := evalJS[string](t, ctx, `location.hash`)
	require.True(t, hash == "#/run/"+fx.billing.String() || strings.HasPrefix(hash, "#/run/"+fx.billing.String()+"/"), hash)
}

func TestRunPageShowsItsSteps(t *testing.T) {
	fx := newFixture(t)
	srv := startUI(t, fx.dir)
	ro := openRO(t, fx.dir)
	ctx := newBrowser(t)

	run, err := ro.Run(fx.triage)
	require.NoError(t, err)
	info, err := run.Info()
	require.NoError(t, err)
	open(t, ctx, srv, "#/run/"+fx.triage.String())
	waitJS(t, ctx, "the last step", labelIs(info.Steps, info.Steps), waitDefault)
	require.Equal(t, "ticket 4821", evalJS[string](t, ctx, `document.querySelector('#run-title').textContent`))
	require.Equal(t, "active", evalJS[string](t, ctx, `document.querySelector('#run-status').textContent`))
	require.Equal(t, strconv.Itoa(info.Steps), evalJS[string](t, ctx, `document.querySelector('#step-slider').max`))

	// The last step's writes, as the run's history lists them.
	steps, err := run.Steps()
	require.NoError(t, err)
	writes := evalJS[string](t, ctx, `document.querySelector('[data-testid=step-writes]').textContent`)
	last := steps[len(steps)-1].Writes
	for _, k := range slices.Concat(last.KV, last.State, last.Events, last.Traces) {
		require.Contains(t, writes, k)
	}

	// Lineage: the child and the fork, each a link to its page.
	lineage := evalJS[map[string][]string](t, ctx, `(() => {
		const out = {};
		for (const a of document.querySelectorAll('[data-testid=lineage] a[data-lineage]')) {
			(out[a.dataset.lineage] = out[a.dataset.lineage] || []).push(a.getAttribute('href'));
		}
		return out;
	})()`)
	require.Equal(t, []string{"#/run/" + fx.child.String()}, lineage["child"])
	require.Len(t, lineage["fork"], 1)
	require.True(t, strings.HasPrefix(lineage["fork"][0], "#/run/"+fx.fork.String()), lineage["fork"][0])
	require.Empty(t, lineage["parent"])
	require.True(t, evalJS[bool](t, ctx, `document.querySelector('#compare-link').hidden || document.querySelector('#compare-link').hasAttribute('disabled')`),
		"a run with no parent has nothing to compare with")

	// Replay, as the library reports it.
	rep, err := ro.Replay(fx.triage)
	require.NoError(t, err)
	require.True(t, rep.Match)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#replay"))))
	want := fmt.Sprintf("match (%d steps)", rep.Steps)
	waitJS(t, ctx, "the replay's result", `document.querySelector('#replay-result').textContent === `+jsString(want), waitDefault)

	// The fork's page: its own steps, its parent, and the compare link.
	goHash(t, ctx, "#/run/"+fx.fork.String())
	waitJS(t, ctx, "the fork's last step", labelIs(fx.forkSteps, fx.forkSteps), waitDefault)
	require.Equal(t, "ticket 4821 retry", evalJS[string](t, ctx, `document.querySelector('#run-title').textContent`))
	parent := evalJS[string](t, ctx, `document.querySelector('[data-testid=lineage] a[data-lineage=parent]').getAttribute('href')`)
	require.True(t, strings.HasPrefix(parent, "#/run/"+fx.triage.String()), parent)
	require.Equal(t, "#/compare/"+fx.triage.String()+"/"+fx.fork.String(),
		evalJS[string](t, ctx, `document.querySelector('#compare-link').getAttribute('href')`))
}

func TestMovingToAStepShowsWhatAsOfReturns(t *testing.T) {
	fx := newFixture(t)
	srv := startUI(t, fx.dir)
	ro := openRO(t, fx.dir)
	ctx := newBrowser(t)
	run, err := ro.Run(fx.triage)
	require.NoError(t, err)
	n := fx.triageSteps

	// check waits for #step-label to name step k, then compares every
	// AsOf panel with run.AsOf(k): the panels show the step the label names.
	check := func(k int, how string) {
		t.Helper()
		waitJS(t, ctx, fmt.Sprintf("step %d (%s)", k, how), labelIs(k, n), waitDefault)
		got := evalJS[stepShown](t, ctx, stepJS)
		require.Equal(t, asOf(t, run, k, n), got, "step %d, reached by %s", k, how)
	}
	slide := func(k int) {
		t.Helper()
		evalJS[chromedp.Void](t, ctx, fmt.Sprintf(`(() => {
			const s = document.querySelector('#step-slider');
			s.value = '%d';
			s.dispatchEvent(new Event('input', {bubbles: true}));
			s.dispatchEvent(new Event('change', {bubbles: true}));
		})()`, k))
	}
	key := func(k string) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, chromedp.KeyEvent(k)))
	}

	open(t, ctx, srv, "#/run/"+fx.triage.String())
	check(n, "opening the run")

	// Stored markup is text, never HTML.
	require.Equal(t, xssValue, evalJS[string](t, ctx, `document.querySelector('[data-testid=kv] tr[data-key="html"] .value').textContent`))
	require.Zero(t, evalJS[int](t, ctx, `document.querySelectorAll('#app img, #app b').length`))
	require.False(t, evalJS[bool](t, ctx, `'__xss' in window`))

	for _, k := range []int{3, 6, 0, 1, 5} {
		slide(k)
		check(k, "the slider")
	}
	// Quick moves in a row: the page settles on the last one.
	for _, k := range []int{2, 7, 4, 6} {
		slide(k)
	}
	check(6, "four slider moves in a row")

	evalJS[chromedp.Void](t, ctx, `document.activeElement && document.activeElement.blur()`)
	key(kb.ArrowLeft)
	check(5, "ArrowLeft")
	key(kb.ArrowLeft)
	check(4, "ArrowLeft")
	key(kb.ArrowRight)
	check(5, "ArrowRight")
	key(kb.End)
	check(n, "End")
	key(kb.Home)
	check(0, "Home")
	key(kb.ArrowRight + kb.ArrowRight + kb.ArrowRight)
	check(3, "three ArrowRight")
	// With the focus on the slider, its own keys move it one step too.
	require.NoError(t, chromedp.Do(ctx, chromedp.Focus(chromedp.CSS("#step-slider"))))
	key(kb.ArrowLeft)
	check(2, "ArrowLeft on the focused slider")
	key(kb.End)
	check(n, "End on the focused slider")
	// In another input of the page the keys are the input's.
	require.NoError(t, chromedp.Do(ctx, chromedp.Focus(chromedp.CSS("#app input:not(#step-slider)"))))
	key(kb.ArrowLeft + kb.Home)
	time.Sleep(300 * time.Millisecond) // longer than the page's debounce
	check(n, "keys typed in the key filter")

	// A step in the address opens the run at that step.
	open(t, ctx, srv, "#/run/"+fx.triage.String()+"/2")
	check(2, "the address #/run/ID/2")
}

func TestWaterfallShowsTheSpanTree(t *testing.T) {
	fx := newFixture(t)
	srv := startUI(t, fx.dir)
	ro := openRO(t, fx.dir)
	ctx := newBrowser(t)
	run, err := ro.Run(fx.triage)
	require.NoError(t, err)
	n := fx.triageSteps

	const rowsJS = `[...document.querySelectorAll('[data-testid=waterfall] .span-row[data-span-id]')]
		.sort((a, b) => a.offsetTop - b.offsetTop)
		.map((r) => ({id: r.dataset.spanId, depth: r.dataset.depth, name: r.querySelector('.span-name') ? r.querySelector('.span-name').textContent : r.textContent}))`
	waitTree := func(k int) {
		t.Helper()
		want := treeRows(t, run, k)
		b, err := json.Marshal(want)
		require.NoError(t, err)
		waitJS(t, ctx, fmt.Sprintf("the span tree of step %d", k),
			labelIs(k, n)+` && document.querySelector('[data-testid=waterfall]').dataset.total === '`+strconv.Itoa(len(want))+`'`+
				` && JSON.stringify(`+rowsJS+`) === `+jsString(string(b)), waitDefault)
	}

	open(t, ctx, srv, "#/run/"+fx.triage.String())
	waitTree(n)
	rows := treeRows(t, run, n)
	depth := map[string]string{}
	for _, r := range rows {
		depth[r.Name] = r.Depth
	}
	require.Equal(t, map[string]string{"plan": "0", "search_orders": "1", "fetch_order": "2", "route": "1",
		"draft_reply": "0", "reply": "0", "check tone": "1", "send_email": "1"}, depth)

	// GenAI attributes in the rows: the model, the tokens.
	rowText := func(name string) string {
		t.Helper()
		for _, r := range rows {
			if r.Name == name {
				return evalJS[string](t, ctx, `document.querySelector('[data-testid=waterfall] .span-row[data-span-id="`+r.ID+`"]').textContent`)
			}
		}
		t.Fatalf("no span %q", name)
		return ""
	}
	require.Contains(t, rowText("plan"), "gpt-4o-mini")
	require.Contains(t, rowText("plan"), "812")
	require.Contains(t, rowText("reply"), "claude-haiku-4-5")

	// A click shows the span's attributes, input and output.
	var search string
	for _, r := range rows {
		if r.Name == "search_orders" {
			search = r.ID
		}
	}
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid=waterfall] .span-row[data-span-id="`+search+`"]`))))
	waitJS(t, ctx, "the span's detail", `(() => {
		const d = document.querySelector('[data-testid=span-detail]');
		return d && !d.hidden && d.textContent.includes('gen_ai.tool.name') && d.textContent.includes('{"customer":"c-77"}')
			&& d.textContent.includes('[{"order":"o-1","status":"lost"}]');
	})()`, waitDefault)

	// The recorded calls: the LLM and tool spans with their input and output.
	calls := evalJS[string](t, ctx, `document.querySelector('[data-testid=calls]').textContent`)
	for _, s := range []string{"draft_reply", "write a reply about the refund", "We are sorry: your refund is on its way.", "search_orders", "reply"} {
		require.Contains(t, calls, s)
	}

	// A middle step holds fewer spans.
	evalJS[chromedp.Void](t, ctx, `(() => {
		const s = document.querySelector('#step-slider');
		s.value = '5';
		s.dispatchEvent(new Event('input', {bubbles: true}));
	})()`)
	waitTree(5)
	screenshot(t, ctx, "run.png")
}

func TestCompareShowsTheForksChanges(t *testing.T) {
	fx := newFixture(t)
	srv := startUI(t, fx.dir)
	ro := openRO(t, fx.dir)
	ctx := newBrowser(t)

	d, err := ro.Diff(fx.triage, fx.fork)
	require.NoError(t, err)
	require.False(t, d.Empty())
	type item struct {
		Primitive string `json:"primitive"`
		Key       string `json:"key"`
		Change    string `json:"change"`
	}
	want := []item{}
	for p, pd := range map[string]inmem.PrimitiveDiff{"kv": d.KV, "events": d.Events, "state": d.State, "traces": d.Traces, "vectors": d.Vectors} {
		for _, k := range pd.Added {
			want = append(want, item{p, k, "added"})
		}
		for _, k := range pd.Removed {
			want = append(want, item{p, k, "removed"})
		}
		for _, c := range pd.Changed {
			want = append(want, item{p, c.Key, "changed"})
		}
	}
	// What this fixture makes differ in KV, spelled out.
	require.Contains(t, want, item{"kv", "plan", "changed"})
	require.Contains(t, want, item{"kv", "fork/note", "added"})
	require.Contains(t, want, item{"kv", "html", "removed"})

	open(t, ctx, srv, "#/compare/"+fx.triage.String()+"/"+fx.fork.String())
	waitJS(t, ctx, "the diff", `document.querySelectorAll('[data-testid=diff] [data-diff-key]').length === `+strconv.Itoa(len(want)), waitDefault)
	got := evalJS[[]item](t, ctx, `[...document.querySelectorAll('[data-testid=diff] [data-diff-key]')].map((e) => ({
		primitive: e.closest('[data-primitive]').dataset.primitive, key: e.dataset.diffKey, change: e.dataset.change}))`)
	require.ElementsMatch(t, want, got)

	// A changed key shows both values.
	plan := evalJS[string](t, ctx, `document.querySelector('[data-testid=diff] [data-primitive=kv] [data-diff-key="plan"]').textContent`)
	require.Contains(t, plan, "refund issued")
	require.Contains(t, plan, "replacement")

	// Both timelines, the fork point marked on each.
	for _, side := range []string{"a", "b"} {
		require.Equal(t, 1, evalJS[int](t, ctx, `document.querySelectorAll('[data-testid=timeline-`+side+`] .fork-mark').length`), "timeline %s", side)
	}
	screenshot(t, ctx, "compare.png")
}

func TestNewStepAppearsWithoutReload(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir) // held read-write by this process, as an agent would
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	run, err := db.BeginRun(inmem.Name("live agent"), inmem.Tags("live"))
	require.NoError(t, err)
	for i := range 3 {
		require.NoError(t, run.KV().Put("k"+strconv.Itoa(i), []byte("v")))
	}
	srv := startUI(t, dir)
	ctx := newBrowser(t)

	open(t, ctx, srv, "#/run/"+run.ID().String())
	waitJS(t, ctx, "step 3 of 3", labelIs(3, 3), waitDefault)
	evalJS[chromedp.Void](t, ctx, `window.__samePage = true`) // gone if the page reloads

	start := time.Now()
	require.NoError(t, run.KV().Put("arrived", []byte("while the page was open")))
	waitJS(t, ctx, "step 4 of 4 without a reload", labelIs(4, 4)+
		` && (document.querySelector('[data-testid=kv] tr[data-key="arrived"] .value') || {}).textContent === 'while the page was open'`,
		10*time.Second)
	t.Logf("the committed step showed on the open page after %v", time.Since(start).Round(time.Millisecond))
	require.True(t, evalJS[bool](t, ctx, `window.__samePage === true`), "the page was not reloaded")

	// A page away from the last step stays where it is, and learns the new total.
	evalJS[chromedp.Void](t, ctx, `(() => {
		const s = document.querySelector('#step-slider');
		s.value = '2';
		s.dispatchEvent(new Event('input', {bubbles: true}));
	})()`)
	waitJS(t, ctx, "step 2 of 4", labelIs(2, 4), waitDefault)
	require.NoError(t, run.KV().Put("later", []byte("x")))
	waitJS(t, ctx, "step 2 of 5", labelIs(2, 5), 10*time.Second)

	// The runs page lists a new run without a reload.
	goHash(t, ctx, "#/runs")
	waitRunRows(t, ctx, "the one run", []string{run.ID().String()})
	other, err := db.BeginRun(inmem.Name("second agent"))
	require.NoError(t, err)
	waitJS(t, ctx, "the new run", `JSON.stringify(`+runRowsJS+`) === `+jsString(`["`+other.ID().String()+`","`+run.ID().String()+`"]`), 10*time.Second)
	require.True(t, evalJS[bool](t, ctx, `window.__samePage === true`), "the page was not reloaded")
}

func TestRequestsNeedTheToken(t *testing.T) {
	fx := newFixture(t)
	srv := startUI(t, fx.dir)
	client := &http.Client{
		Transport:     &http.Transport{DisableKeepAlives: true},
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	do := func(method, path string, header map[string]string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.base+path, nil)
		require.NoError(t, err)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		res, err := client.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res, string(b)
	}
	bearer := map[string]string{"Authorization": "Bearer " + srv.token}

	for _, path := range []string{"/api/runs", "/", "/app.js", "/api/watch"} {
		res, _ := do(http.MethodGet, path, nil)
		require.Equal(t, http.StatusUnauthorized, res.StatusCode, "GET %s without the token", path)
	}
	res, _ := do(http.MethodGet, "/api/runs", map[string]string{"Authorization": "Bearer not-" + srv.token})
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "a wrong token")
	res, _ = do(http.MethodGet, "/?token=not-"+srv.token, nil)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "a wrong token in the URL")

	res, body := do(http.MethodGet, "/api/runs", bearer)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	var runs struct {
		Runs []struct {
			ID string `json:"id"`
		} `json:"runs"`
		Next *string `json:"next"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &runs), body)
	require.Len(t, runs.Runs, 5)
	require.NotNil(t, runs.Next)
	res, body = do(http.MethodGet, "/", bearer)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body, "app.js")

	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		res, _ = do(method, "/api/runs", bearer)
		require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode, "%s with the token", method)
	}

	// The printed URL trades the token for a cookie that scripts cannot read.
	res, _ = do(http.MethodGet, "/?token="+url.QueryEscape(srv.token), nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "/", res.Header.Get("Location"))
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "inmem_ui" {
			cookie = c
		}
	}
	require.NotNil(t, cookie, "Set-Cookie: %v", res.Header.Values("Set-Cookie"))
	require.True(t, cookie.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, cookie.SameSite)
	res, _ = do(http.MethodGet, "/api/runs", map[string]string{"Cookie": "inmem_ui=" + cookie.Value})
	require.Equal(t, http.StatusOK, res.StatusCode)

	// A page of another site cannot read it, token or not.
	res, _ = do(http.MethodGet, "/api/runs", map[string]string{"Authorization": "Bearer " + srv.token, "Origin": "https://evil.example"})
	require.Equal(t, http.StatusForbidden, res.StatusCode)
}

func TestServeUIServesTheSamePage(t *testing.T) {
	fx := newFixture(t)
	const token = "serve-ui-token"
	srv := startInmem(t, "serve", fx.dir, "--mcp", "--http", "127.0.0.1:0", "--ui", "--token", token)
	require.Equal(t, token, srv.token)
	ctx := newBrowser(t)

	open(t, ctx, srv, "#/runs")
	all := []string{fx.nightly.String(), fx.billing.String(), fx.child.String(), fx.fork.String(), fx.triage.String()}
	waitRunRows(t, ctx, "every run, newest first", all)
	goHash(t, ctx, "#/run/"+fx.triage.String())
	waitJS(t, ctx, "the run's last step", labelIs(fx.triageSteps, fx.triageSteps), waitDefault)
}

func TestRunsListPagesByKeyset(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	var all []string
	for i := range 120 {
		run, err := db.BeginRun(inmem.Name(fmt.Sprintf("run %03d", i)))
		require.NoError(t, err)
		all = append(all, run.ID().String())
	}
	require.NoError(t, db.Close())
	srv := startUI(t, dir)
	ctx := newBrowser(t)
	disabled := func(id string) bool {
		t.Helper()
		return evalJS[bool](t, ctx, `document.querySelector('#`+id+`').disabled`)
	}
	click := func(id string) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#"+id))))
	}

	newest := slices.Clone(all)
	slices.Reverse(newest)
	open(t, ctx, srv, "#/runs")
	waitRunRows(t, ctx, "the first page, newest first", newest[:50])
	require.True(t, disabled("runs-first"))
	click("runs-next")
	waitRunRows(t, ctx, "the second page", newest[50:100])
	require.False(t, disabled("runs-first"))
	click("runs-next")
	waitRunRows(t, ctx, "the last page", newest[100:])
	require.True(t, disabled("runs-next"), "no page after the last")
	click("runs-first")
	waitRunRows(t, ctx, "the first page again", newest[:50])

	// Oldest first, from the first page.
	require.NoError(t, chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#runs-order"), "oldest")))
	evalJS[bool](t, ctx, `document.querySelector('#runs-order').dispatchEvent(new Event('change')) || true`)
	waitRunRows(t, ctx, "the first page, oldest first", all[:50])
	click("runs-next")
	waitRunRows(t, ctx, "the second page, oldest first", all[50:100])
}

// TestSharedScopeShowsItsCollections: a namespace's shared scope lists its
// KV entries and vector collections with their sizes, as the library
// reads them; the run page's namespace links there.
func TestSharedScopeShowsItsCollections(t *testing.T) {
	fx := newFixture(t)
	srv := startUI(t, fx.dir)
	ro := openRO(t, fx.dir)
	ctx := newBrowser(t)

	sh := ro.Shared(inmem.Namespace{Tenant: "acme", App: "support"})
	colls, err := sh.Vectors().Collections()
	require.NoError(t, err)
	want := map[string]int{}
	for _, c := range colls {
		recs, err := sh.Vectors().List(c.Name)
		require.NoError(t, err)
		want[c.Name] = len(recs)
	}
	require.Equal(t, map[string]int{"faq": 3}, want)

	open(t, ctx, srv, "#/shared/acme/support")
	waitJS(t, ctx, "the collections", `document.querySelectorAll('[data-testid=shared-vectors] tr[data-collection]').length === 1`, waitDefault)
	got := evalJS[map[string]int](t, ctx, `Object.fromEntries([...document.querySelectorAll('[data-testid=shared-vectors] tr[data-collection]')].map((r) => [r.dataset.collection, Number(r.querySelector('.count').textContent)]))`)
	require.Equal(t, want, got)
	require.Equal(t, "within 30 days", evalJS[string](t, ctx, `document.querySelector('[data-testid=shared-kv] tr[data-key="policy/refunds"] td:nth-child(2)').textContent`))
	screenshot(t, ctx, "shared.png")

	// A run's namespace leads to its shared scope; the default one has nothing.
	open(t, ctx, srv, "#/run/"+fx.billing.String())
	waitJS(t, ctx, "the namespace link", `!!document.querySelector('[data-testid=shared-link]')`, waitDefault)
	require.Equal(t, "#/shared/acme/billing/-", evalJS[string](t, ctx, `document.querySelector('[data-testid=shared-link]').getAttribute('href')`))
	goHash(t, ctx, "#/shared/")
	waitJS(t, ctx, "the empty default scope", `document.querySelector('[data-testid=shared-vectors] tr.empty') !== null`, waitDefault)
}

// TestManyTabs: more tabs of one inspector than the browser opens
// connections to one server (six, over HTTP/1.1) all load and stay live:
// they share one version stream.
func TestManyTabs(t *testing.T) {
	fx := newFixture(t)
	srv := startUI(t, fx.dir)
	ctx := newBrowser(t)
	var tabs []context.Context
	for i := range 9 {
		tab := ctx
		if i > 0 {
			var cancel context.CancelFunc
			tab, cancel = chromedp.NewContext(ctx)
			t.Cleanup(cancel)
		}
		open(t, tab, srv, "#/run/"+fx.triage.String())
		waitJS(t, tab, fmt.Sprintf("tab %d: the run's last step", i+1), labelIs(fx.triageSteps, fx.triageSteps), waitDefault)
		tabs = append(tabs, tab)
	}
	for i, tab := range tabs {
		waitJS(t, tab, fmt.Sprintf("tab %d: live", i+1), `document.querySelector('#live').textContent === 'live'`, waitDefault)
	}
	// Every tab still reads: none is starved of a connection.
	for i, tab := range tabs {
		goHash(t, tab, "#/runs")
		waitJS(t, tab, fmt.Sprintf("tab %d: the runs", i+1), `document.querySelectorAll('tr[data-run-id]').length === 5`, waitDefault)
	}
}
