package uitest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

const (
	bigSteps = 50_000
	bigSpans = 20_000
)

// newBigRun writes a run of bigSteps steps, each its own commit: every
// step appends one event (so step k holds k events) and sets a key; two
// steps in five record a span, in trees of one LLM call and nine tool
// calls under it. Asynchronous durability keeps the writing to seconds;
// Close makes it all durable.
func newBigRun(t *testing.T) (string, inmem.RunID) {
	t.Helper()
	dir := t.TempDir()
	db, err := inmem.Open(dir, inmem.WithDurability(inmem.Async(time.Second)))
	require.NoError(t, err)
	run, err := db.BeginRun(inmem.Name("long agent"), inmem.Tags("bench"))
	require.NoError(t, err)
	started := time.Now()
	base := started.Add(-time.Hour)
	var root inmem.SpanID
	var rootStart time.Time
	spans := 0
	payload := []byte(`{"tick":true}`)
	for i := 1; i <= bigSteps; i++ {
		err := run.Update(func(tx *inmem.Tx) error {
			if _, err := tx.Events().Append("tick", payload); err != nil {
				return err
			}
			if err := tx.KV().Put("step", []byte(strconv.Itoa(i))); err != nil {
				return err
			}
			if i%1000 == 0 {
				if err := tx.KV().Put(fmt.Sprintf("checkpoint/%05d", i), []byte("ok")); err != nil {
					return err
				}
			}
			if i%5 >= 2 {
				return nil
			}
			if spans%10 == 0 {
				rootStart = base.Add(time.Duration(spans) * 50 * time.Millisecond)
				id, err := tx.Traces().Record(inmem.Span{Kind: inmem.LLMCall, Name: "turn " + strconv.Itoa(spans/10),
					Start: rootStart, End: rootStart.Add(500 * time.Millisecond), Status: inmem.StatusOK,
					Attrs:  map[string]string{"gen_ai.request.model": "gpt-4o-mini"},
					Values: map[string]inmem.AttrValue{"gen_ai.usage.input_tokens": inmem.IntValue(900 + spans%100), "gen_ai.usage.output_tokens": inmem.IntValue(80)}})
				root = id
				return err
			}
			start := rootStart.Add(time.Duration(spans%10) * 50 * time.Millisecond)
			_, err := tx.Traces().Record(inmem.Span{Parent: root, Kind: inmem.ToolCall, Name: "tool " + strconv.Itoa(spans%10),
				Start: start, End: start.Add(40 * time.Millisecond), Attrs: map[string]string{"gen_ai.tool.name": "tool_" + strconv.Itoa(spans%10)}})
			return err
		})
		require.NoError(t, err)
		if i%5 < 2 {
			spans++
		}
	}
	require.Equal(t, bigSpans, spans)
	info, err := run.Info()
	require.NoError(t, err)
	require.Equal(t, bigSteps, info.Steps)
	require.NoError(t, db.Checkpoint()) // the inspector then opens from a snapshot
	require.NoError(t, db.Close())
	t.Logf("wrote %d steps (%d spans), one commit each, in %v", bigSteps, bigSpans, time.Since(started).Round(time.Millisecond))
	return dir, run.ID()
}

// readyMarkJS, run in every new document, records in window.__ready when
// the run page first shows its last step with the waterfall filled:
// performance.now() counts from the start of the navigation.
func readyMarkJS(label string, total int) string {
	return fmt.Sprintf(`(() => {
  const ready = () => {
    const l = document.getElementById('step-label');
    const w = document.querySelector('[data-testid=waterfall]');
    return l && l.textContent === %s && w && w.dataset.total === '%d';
  };
  const mo = new MutationObserver(() => {
    if (ready()) { window.__ready = performance.now(); mo.disconnect(); }
  });
  mo.observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
})()`, jsString(label), total)
}

// moveJS moves the slider to step k and resolves with the milliseconds
// until #step-label and #event-count show it.
func moveJS(k, total int) string {
	return fmt.Sprintf(`new Promise((resolve, reject) => {
  const label = document.getElementById('step-label');
  const count = document.getElementById('event-count');
  const shown = () => label.textContent === 'step %[1]d of %[2]d' && count.textContent === '%[1]d';
  const t0 = performance.now();
  const mo = new MutationObserver(() => {
    if (!shown()) return;
    mo.disconnect(); clearTimeout(timer); resolve(performance.now() - t0);
  });
  mo.observe(document.getElementById('app'), {subtree: true, childList: true, characterData: true});
  const timer = setTimeout(() => { mo.disconnect(); reject(new Error('step %[1]d not shown in 60 s: ' + label.textContent)); }, 60000);
  const s = document.getElementById('step-slider');
  s.value = '%[1]d';
  s.dispatchEvent(new Event('input', {bubbles: true}));
})`, k, total)
}

// scrollJS scrolls the waterfall from top to bottom in jumps, waiting two
// frames after each (the scroll handler renders the rows in the next),
// and resolves with the time of each jump (ms), the long tasks (over
// 50 ms) meanwhile, and the most rows the DOM held at once.
const scrollJS = `new Promise((resolve) => {
  // The box that scrolls: the nearest ancestor of a row with overflow.
  let box = document.querySelector('[data-testid=waterfall] .span-row');
  while (box && !(box.scrollHeight > box.clientHeight + 1 && /(auto|scroll)/.test(getComputedStyle(box).overflowY))) box = box.parentElement;
  const long = [];
  const po = new PerformanceObserver((list) => { for (const e of list.getEntries()) long.push(e.duration); });
  po.observe({type: 'longtask'});
  const frames = [];
  let most = 0, i = 0;
  const jumps = 60;
  const step = () => {
    most = Math.max(most, document.querySelectorAll('[data-testid=waterfall] .span-row').length);
    if (i > jumps) {
      for (const e of po.takeRecords()) long.push(e.duration);
      po.disconnect();
      resolve({frames, long, most, top: box.scrollTop, height: box.scrollHeight - box.clientHeight});
      return;
    }
    box.scrollTop = (box.scrollHeight - box.clientHeight) * i / jumps;
    i++;
    const t0 = performance.now();
    requestAnimationFrame(() => requestAnimationFrame(() => { frames.push(performance.now() - t0); step(); }));
  };
  step();
})`

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// TestTimingLargeRun measures the run page over a run of 50,000 steps and
// 20,000 spans: reported, not asserted (the machine is shared).
func TestTimingLargeRun(t *testing.T) {
	dir, id := newBigRun(t)
	srv := startUI(t, dir)
	ctx := newBrowser(t)
	label := fmt.Sprintf("step %d of %d", bigSteps, bigSteps)

	// The cookie first: the measured loads then go straight to the page.
	open(t, ctx, srv, "#/runs")
	waitRunRows(t, ctx, "the long run", []string{id.String()})
	require.NoError(t, chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: readyMarkJS(label, bigSpans)})
		return err
	})))

	var loads []float64
	for range 5 {
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")))
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.base+"/#/run/"+id.String())))
		waitJS(t, ctx, label+" with the waterfall's data-total", `typeof window.__ready === 'number'`, 2*time.Minute)
		loads = append(loads, evalJS[float64](t, ctx, `window.__ready`))
	}

	// Ten moves, near and far.
	var moves []float64
	for _, k := range []int{25_000, 25_001, 24_999, 1, bigSteps, 12_345, 37_500, 49_999, 100, 25_000} {
		ms, err := chromedp.Run(ctx, chromedp.Evaluate[float64](moveJS(k, bigSteps), chromedp.EvalAwaitPromise))
		require.NoError(t, err, "moving to step %d", k)
		moves = append(moves, ms)
	}

	// Scrolling the waterfall of the last step (20,000 rows) end to end.
	goHash(t, ctx, "#/run/"+id.String()+"/"+strconv.Itoa(bigSteps))
	waitJS(t, ctx, label, labelIs(bigSteps, bigSteps)+` && document.querySelector('[data-testid=waterfall]').dataset.total === '`+strconv.Itoa(bigSpans)+`'`, 2*time.Minute)
	type scrolled struct {
		Frames []float64 `json:"frames"`
		Long   []float64 `json:"long"`
		Most   int       `json:"most"`
		Top    float64   `json:"top"`
		Height float64   `json:"height"`
	}
	sc, err := chromedp.Run(ctx, chromedp.Evaluate[scrolled](scrollJS, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.InDelta(t, sc.Height, sc.Top, 1, "scrolled to the end")
	require.LessOrEqual(t, sc.Most, 120, "only the rows in view are in the DOM")
	// The last row of the tree is in the DOM at the end: the last tool call of the last turn.
	last := evalJS[string](t, ctx, `[...document.querySelectorAll('[data-testid=waterfall] .span-row')].sort((a, b) => b.offsetTop - a.offsetTop)[0].textContent`)
	require.Contains(t, last, "tool 9")

	t.Logf("run of %d steps and %d spans, measured in the browser (performance.now):", bigSteps, bigSpans)
	t.Logf("  navigation to %q with the waterfall's data-total=%d: median %.0f ms of %d loads (each: %v)", label, bigSpans, median(loads), len(loads), roundAll(loads))
	t.Logf("  a slider move until #step-label and #event-count show the step (90 ms of it the page's debounce): median %.0f ms of %d (each: %v)", median(moves), len(moves), roundAll(moves))
	t.Logf("  scrolling the waterfall's %d rows end to end in %d jumps, each waited for two frames (33 ms at 60 Hz): median %.1f ms, slowest %.1f ms, %d long tasks (>50 ms), at most %d rows in the DOM",
		bigSpans, len(sc.Frames), median(sc.Frames), slices.Max(sc.Frames), len(sc.Long), sc.Most)
}

func roundAll(xs []float64) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = int(x + 0.5)
	}
	return out
}
