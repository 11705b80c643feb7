package uitest

import (
	"cmp"
	"encoding/base64"
	"slices"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// fixture is a small database, written and closed before the inspector
// opens it: a run ("ticket 4821") that wrote every primitive over
// triageSteps steps, a fork of it at forkStep with other keys, a child run,
// and runs in other namespaces with other tags and statuses.
type fixture struct {
	dir                                   string
	triage, fork, child, billing, nightly inmem.RunID
	triageSteps, forkSteps, forkStep      int
}

var triageNS = inmem.Namespace{Tenant: "acme", App: "support", Agent: "triage"}

// A value that would run script if the page put it in as HTML.
const xssValue = `<img src=x onerror="window.__xss=1"><b>bold</b>`

// newFixture writes the small database into a directory of the test's.
func newFixture(t *testing.T) fixture {
	t.Helper()
	fx := fixture{dir: t.TempDir(), forkStep: 5}
	db, err := inmem.Open(fx.dir)
	require.NoError(t, err)
	base := time.Now()
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }

	run, err := db.BeginRun(inmem.Name("ticket 4821"), inmem.InNamespace(triageNS),
		inmem.Tags("prod", "support"), inmem.Meta(map[string]string{"ticket": "4821"}))
	require.NoError(t, err)
	fx.triage = run.ID()

	// Step 1: a key.
	require.NoError(t, run.KV().Put("ticket/id", []byte("4821")))
	// Step 2: a cell with a declared machine.
	require.NoError(t, run.State().Define("phase", inmem.Machine{Initial: "triage",
		Allow: map[string][]string{"triage": {"plan"}, "plan": {"act"}, "act": {"reply"}}}))
	// Step 3: one agent turn in one transaction: an event, a cell, a key
	// and a span tree three deep with GenAI attributes.
	var plan inmem.SpanID
	require.NoError(t, run.Update(func(tx *inmem.Tx) error {
		if _, err := tx.Events().Append("user.message", []byte(`{"text":"my order never arrived"}`)); err != nil {
			return err
		}
		if _, err := tx.State().Init("budget", []byte("100")); err != nil {
			return err
		}
		if err := tx.KV().Put("ticket/priority", []byte("high")); err != nil {
			return err
		}
		var err error
		plan, err = tx.Traces().Record(inmem.Span{Kind: inmem.LLMCall, Name: "plan", Start: at(0), End: at(1200), Status: inmem.StatusOK,
			Input:  []byte("Customer says: my order never arrived. Plan the next steps."),
			Output: []byte("1. look the order up 2. decide refund or replacement"),
			Attrs:  map[string]string{"gen_ai.request.model": "gpt-4o-mini", "gen_ai.system": "openai"},
			Values: map[string]inmem.AttrValue{"gen_ai.usage.input_tokens": inmem.IntValue(812), "gen_ai.usage.output_tokens": inmem.IntValue(96)}})
		if err != nil {
			return err
		}
		search, err := tx.Traces().Record(inmem.Span{Parent: plan, Kind: inmem.ToolCall, Name: "search_orders", Start: at(300), End: at(900),
			Status: inmem.StatusOK, Input: []byte(`{"customer":"c-77"}`), Output: []byte(`[{"order":"o-1","status":"lost"}]`),
			Attrs: map[string]string{"gen_ai.tool.name": "search_orders"}})
		if err != nil {
			return err
		}
		_, err = tx.Traces().Record(inmem.Span{Parent: search, Kind: inmem.Retrieval, Name: "fetch_order", Start: at(350), End: at(800)})
		return err
	}))
	// Step 4: a vector collection.
	require.NoError(t, run.Vectors().CreateCollection("notes", inmem.VectorConfig{Dim: 3, Metric: inmem.Cosine}))
	// Step 5: a vector, an event, a move of the machine, a key, a span.
	require.NoError(t, run.Update(func(tx *inmem.Tx) error {
		if err := tx.Vectors().Upsert("notes", "n1", []float32{1, 0, 0}, map[string]any{"lang": "en"}); err != nil {
			return err
		}
		if _, err := tx.Events().Append("tool.result", []byte(`{"order":"o-1","status":"lost"}`)); err != nil {
			return err
		}
		if _, err := tx.State().Set("phase", []byte("plan")); err != nil {
			return err
		}
		if err := tx.KV().Put("plan", []byte("refund")); err != nil {
			return err
		}
		_, err := tx.Traces().Record(inmem.Span{Parent: plan, Kind: inmem.Decision, Name: "route", Start: at(1000), End: at(1100),
			Attrs: map[string]string{"decision": "refund"}})
		return err
	}))
	// Step 6: a delete, markup and bytes that are not UTF-8 as values.
	require.NoError(t, run.Update(func(tx *inmem.Tx) error {
		if err := tx.KV().Delete("ticket/priority"); err != nil {
			return err
		}
		if err := tx.KV().Put("html", []byte(xssValue)); err != nil {
			return err
		}
		if err := tx.KV().Put("bin", []byte{0xff, 0x00, 0xfe}); err != nil {
			return err
		}
		if _, err := tx.State().Set("phase", []byte("act")); err != nil {
			return err
		}
		if err := tx.Vectors().Upsert("notes", "n2", []float32{0, 1, 0}, nil); err != nil {
			return err
		}
		_, err := tx.Events().Append("agent.action", []byte(`{"action":"refund"}`))
		return err
	}))
	// Step 7: a recorded LLM call.
	_, err = run.Recorder().WithKind(inmem.LLMCall).Do("draft_reply", []byte("write a reply about the refund"),
		func() ([]byte, error) { return []byte("We are sorry: your refund is on its way."), nil })
	require.NoError(t, err)
	// Step 8: the reply turn.
	require.NoError(t, run.Update(func(tx *inmem.Tx) error {
		if _, err := tx.Events().Append("agent.reply", []byte(`{"text":"refund issued"}`)); err != nil {
			return err
		}
		if _, err := tx.State().Set("phase", []byte("reply")); err != nil {
			return err
		}
		if _, err := tx.State().Set("budget", []byte("64")); err != nil {
			return err
		}
		if err := tx.KV().Put("plan", []byte("refund issued")); err != nil {
			return err
		}
		reply, err := tx.Traces().Record(inmem.Span{Kind: inmem.LLMCall, Name: "reply", Start: at(2000), End: at(2600), Status: inmem.StatusOK,
			Attrs:  map[string]string{"gen_ai.request.model": "claude-haiku-4-5"},
			Values: map[string]inmem.AttrValue{"gen_ai.usage.input_tokens": inmem.IntValue(402), "gen_ai.usage.output_tokens": inmem.IntValue(120)}})
		if err != nil {
			return err
		}
		if _, err := tx.Traces().Record(inmem.Span{Parent: reply, Kind: inmem.Thought, Name: "check tone", Start: at(2100), End: at(2200)}); err != nil {
			return err
		}
		_, err = tx.Traces().Record(inmem.Span{Parent: reply, Kind: inmem.ToolCall, Name: "send_email", Start: at(2300), End: at(2550),
			Attrs: map[string]string{"gen_ai.tool.name": "send_email"}})
		return err
	}))
	info, err := run.Info()
	require.NoError(t, err)
	fx.triageSteps = info.Steps
	require.Equal(t, 8, fx.triageSteps, "one step per transaction above")

	// The fork: from step 5, another plan.
	fork, err := db.Fork(run.ID(), fx.forkStep, inmem.Name("ticket 4821 retry"))
	require.NoError(t, err)
	fx.fork = fork.ID()
	require.NoError(t, fork.KV().Put("plan", []byte("replacement")))
	require.NoError(t, fork.KV().Put("fork/note", []byte("tried a replacement")))
	_, err = fork.Events().Append("agent.action", []byte(`{"action":"replace"}`))
	require.NoError(t, err)
	fx.forkSteps = 3

	child, err := db.BeginRun(inmem.Name("summarize"), inmem.Parent(run.ID()), inmem.InNamespace(triageNS))
	require.NoError(t, err)
	fx.child = child.ID()
	require.NoError(t, child.KV().Put("summary", []byte("refund issued for o-1")))
	require.NoError(t, child.End(inmem.Completed, ""))

	billing, err := db.BeginRun(inmem.Name("billing sync"), inmem.InNamespace(inmem.Namespace{Tenant: "acme", App: "billing"}), inmem.Tags("prod", "billing"))
	require.NoError(t, err)
	fx.billing = billing.ID()
	_, err = billing.Events().Append("sync.done", []byte(`{"invoices":12}`))
	require.NoError(t, err)
	require.NoError(t, billing.End(inmem.Completed, ""))

	nightly, err := db.BeginRun(inmem.Name("nightly eval"), inmem.InNamespace(inmem.Namespace{Tenant: "lab", App: "eval", Agent: "bench"}), inmem.Tags("eval"))
	require.NoError(t, err)
	fx.nightly = nightly.ID()
	require.NoError(t, nightly.KV().Put("score", []byte("0.82")))
	require.NoError(t, nightly.End(inmem.Failed, "timeout"))

	// The support app's shared scope: long-lived memory outside any run.
	shared := db.Shared(inmem.Namespace{Tenant: "acme", App: "support"})
	require.NoError(t, shared.KV().Put("policy/refunds", []byte("within 30 days")))
	require.NoError(t, shared.Vectors().CreateCollection("faq", inmem.VectorConfig{Dim: 3, Metric: inmem.Dot}))
	for i, v := range [][]float32{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}} {
		require.NoError(t, shared.Vectors().Upsert("faq", "q"+strconv.Itoa(i), v, nil))
	}

	require.NoError(t, db.Close())
	return fx
}

// openRO opens dir read-only beside the inspector: what the tests expect
// the page to show comes from here.
func openRO(t *testing.T, dir string) *inmem.DB {
	t.Helper()
	db, err := inmem.Open(dir, inmem.WithReadOnly())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

// shown is how the page shows stored bytes: as text when they are UTF-8,
// else as their base64 (the API's *_base64 fields).
func shown(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// stepShown is what the run page shows of one step: the same shape the
// page script stepJS reads out of the DOM.
type stepShown struct {
	Label   string      `json:"label"`
	KV      [][2]string `json:"kv"`
	Cells   [][2]string `json:"cells"`
	Events  string      `json:"events"`
	Chain   string      `json:"chain"`
	Spans   string      `json:"spans"`
	Vectors [][2]string `json:"vectors"`
	// Machines is, per cell with a declared machine, the states it may
	// move to from its value.
	Machines map[string][]string `json:"machines"`
}

// stepJS reads the run page's AsOf panels.
const stepJS = `(() => {
  const all = (s) => [...document.querySelectorAll(s)];
  const text = (s) => { const e = document.querySelector(s); return e ? e.textContent : ''; };
  return {
    label: text('#step-label'),
    kv: all('[data-testid=kv] tr[data-key]').map((r) => [r.dataset.key, r.querySelector('.value').textContent]),
    cells: all('[data-testid=state] tr[data-cell]').map((r) => [r.dataset.cell, r.querySelector('.value').textContent]),
    events: text('#event-count'),
    chain: text('#chain-status'),
    spans: text('#span-count'),
    vectors: all('[data-testid=vectors] tr[data-collection]').map((r) => [r.dataset.collection, r.querySelector('.count').textContent]),
    machines: Object.fromEntries(all('[data-testid=state] tr[data-cell]').filter((r) => r.querySelector('[data-testid=machine]'))
      .map((r) => [r.dataset.cell, [...r.querySelectorAll('[data-next]')].map((e) => e.dataset.next)])),
  };
})()`

// asOf is what the page must show for step k of a run of total steps,
// read through run.AsOf(k).
func asOf(t *testing.T, run *inmem.Run, k, total int) stepShown {
	t.Helper()
	view, err := run.AsOf(k)
	require.NoError(t, err)
	want := stepShown{Label: "step " + strconv.Itoa(k) + " of " + strconv.Itoa(total),
		KV: [][2]string{}, Cells: [][2]string{}, Vectors: [][2]string{}, Chain: "verified", Machines: map[string][]string{}}
	entries, err := view.KV().List("")
	require.NoError(t, err)
	for _, e := range entries {
		want.KV = append(want.KV, [2]string{e.Key, shown(e.Value)})
	}
	cells, err := view.State().List()
	require.NoError(t, err)
	for _, c := range cells {
		want.Cells = append(want.Cells, [2]string{c.Name, shown(c.Value)})
		if m, ok, err := view.State().Machine(c.Name); err != nil || ok {
			require.NoError(t, err)
			want.Machines[c.Name] = append([]string{}, m.Allow[string(c.Value)]...)
		}
	}
	n, err := view.Events().Len()
	require.NoError(t, err)
	want.Events = strconv.FormatUint(n, 10)
	rep, err := view.Events().Verify()
	require.NoError(t, err)
	if !rep.OK {
		want.Chain = "broken at " + strconv.FormatUint(rep.FirstBad, 10)
	}
	spans, err := view.Traces().Query(inmem.SpanQuery{})
	require.NoError(t, err)
	want.Spans = strconv.Itoa(len(spans))
	colls, err := view.Vectors().Collections()
	require.NoError(t, err)
	for _, c := range colls {
		recs, err := view.Vectors().List(c.Name)
		require.NoError(t, err)
		want.Vectors = append(want.Vectors, [2]string{c.Name, strconv.Itoa(len(recs))})
	}
	return want
}

// spanRow is one row of the waterfall as the tests compare it.
type spanRow struct {
	ID    string `json:"id"`
	Depth string `json:"depth"`
	Name  string `json:"name"`
}

// treeRows is the span tree of the run as of step k in the order the
// waterfall lists it: depth first, parents before children, siblings by
// start time then ID; a span whose parent is not there is a root.
func treeRows(t *testing.T, run *inmem.Run, k int) []spanRow {
	t.Helper()
	view, err := run.AsOf(k)
	require.NoError(t, err)
	spans, err := view.Traces().Query(inmem.SpanQuery{})
	require.NoError(t, err)
	has := map[inmem.SpanID]bool{}
	for _, s := range spans {
		has[s.ID] = true
	}
	kids := map[inmem.SpanID][]inmem.Span{}
	for _, s := range spans {
		p := s.Parent
		if !has[p] {
			p = 0
		}
		kids[p] = append(kids[p], s)
	}
	rows := []spanRow{}
	var walk func(parent inmem.SpanID, depth int)
	walk = func(parent inmem.SpanID, depth int) {
		list := kids[parent]
		slices.SortFunc(list, func(a, b inmem.Span) int {
			return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.ID, b.ID))
		})
		for _, s := range list {
			rows = append(rows, spanRow{ID: strconv.FormatUint(uint64(s.ID), 10), Depth: strconv.Itoa(depth), Name: s.Name})
			walk(s.ID, depth+1)
		}
	}
	walk(0, 0)
	return rows
}
