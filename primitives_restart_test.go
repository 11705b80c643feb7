package inmem_test

import (
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

var (
	primNSA = inmem.Namespace{Tenant: "acme", App: "support", Agent: "triage"}
	primNSB = inmem.Namespace{Tenant: "globex", App: "support", Agent: "triage"}
)

var primPhase = inmem.Machine{
	Initial: "idle",
	Allow: map[string][]string{
		"idle":    {"running"},
		"running": {"done", "failed"},
		"failed":  {"idle"},
	},
}

var primEventTypes = []string{"user", "tool", "assistant", "note"}

// primFull is a scope's content read every way the API offers.
type primFull struct {
	Dump     primDump
	ByType   map[string][]inmem.Event
	Cells    map[string]inmem.Cell // by Get
	Roots    []inmem.Span
	Trees    []inmem.SpanTree
	Children map[inmem.SpanID][]inmem.Span
	ByKind   map[inmem.SpanKind][]inmem.Span
	ByTag    map[string][]inmem.Span
	ByName   map[string][]inmem.Span
	Window   []inmem.Span // a start-time window
	Values   map[string][]byte
}

func primReadFull(t *testing.T, r *inmem.Run) primFull {
	t.Helper()
	f := primFull{
		Dump:     primRead(t, r),
		ByType:   map[string][]inmem.Event{},
		Cells:    map[string]inmem.Cell{},
		Children: map[inmem.SpanID][]inmem.Span{},
		ByKind:   map[inmem.SpanKind][]inmem.Span{},
		ByTag:    map[string][]inmem.Span{},
		ByName:   map[string][]inmem.Span{},
		Values:   map[string][]byte{},
	}
	var err error
	for _, typ := range primEventTypes {
		f.ByType[typ], err = r.Events().ByType(typ)
		require.NoError(t, err)
	}
	for _, c := range f.Dump.Cells {
		f.Cells[c.Name], err = r.State().Get(c.Name)
		require.NoError(t, err)
	}
	for _, s := range f.Dump.Spans {
		f.Children[s.ID], err = r.Traces().Children(s.ID)
		require.NoError(t, err)
		if s.Parent == 0 {
			f.Roots = append(f.Roots, s)
			tree, err := r.Traces().Tree(s.ID)
			require.NoError(t, err)
			f.Trees = append(f.Trees, tree)
		}
		for _, tag := range s.Tags {
			if _, ok := f.ByTag[tag]; !ok {
				f.ByTag[tag], err = r.Traces().Query(inmem.SpanQuery{Tag: tag})
				require.NoError(t, err)
			}
		}
		if _, ok := f.ByKind[s.Kind]; !ok {
			f.ByKind[s.Kind], err = r.Traces().Query(inmem.SpanQuery{Kind: s.Kind})
			require.NoError(t, err)
		}
		if _, ok := f.ByName[s.Name]; !ok {
			f.ByName[s.Name], err = r.Traces().Query(inmem.SpanQuery{Name: s.Name})
			require.NoError(t, err)
		}
	}
	if len(f.Dump.Spans) > 1 {
		f.Window, err = r.Traces().Query(inmem.SpanQuery{From: f.Dump.Spans[1].Start, Until: f.Dump.Spans[len(f.Dump.Spans)-1].Start})
		require.NoError(t, err)
	}
	for _, e := range f.Dump.KV {
		f.Values[e.Key], err = r.KV().Get(e.Key)
		require.NoError(t, err)
	}
	return f
}

// primFill writes a bit of everything: several event types, cells with
// history and a declared machine, a span tree, KV with a delete and a TTL.
func primFill(t *testing.T, r *inmem.Run) {
	t.Helper()
	base := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	ev := r.Events()
	for i, p := range [][]byte{[]byte("hello"), nil, {0x00, 0xff, 0x7f}, []byte(`{"tool":"search","q":"x"}`), []byte("bye")} {
		_, err := ev.Append(primEventTypes[i%len(primEventTypes)], p)
		require.NoError(t, err)
	}

	st := r.State()
	_, err := st.Init("plan", []byte("draft"))
	require.NoError(t, err)
	_, err = st.Set("plan", []byte("v2"))
	require.NoError(t, err)
	_, err = st.CAS("plan", 2, []byte("v3"))
	require.NoError(t, err)
	_, err = st.Init("empty", nil)
	require.NoError(t, err)
	_, err = st.Init("gone", []byte("x"))
	require.NoError(t, err)
	require.NoError(t, st.Delete("gone"))
	require.NoError(t, st.Define("phase", primPhase))
	_, err = st.Set("phase", []byte("running"))
	require.NoError(t, err)

	tr := r.Traces()
	root, err := tr.Record(inmem.Span{
		Kind: inmem.LLMCall, Name: "plan", Start: base, End: base.Add(2 * time.Second), Status: inmem.StatusOK,
		Input: []byte("prompt"), Output: []byte("completion"),
		Attrs: map[string]string{"gen_ai.request.model": "model-x", "gen_ai.usage.input_tokens": "120", "gen_ai.usage.output_tokens": "40"},
		Tags:  []string{"planning", "hot"},
	})
	require.NoError(t, err)
	tool, err := tr.Record(inmem.Span{
		Parent: root, Kind: inmem.ToolCall, Name: "search", Start: base.Add(100 * time.Millisecond), End: base.Add(time.Second),
		Attrs: map[string]string{"gen_ai.tool.name": "web_search"}, Tags: []string{"tool", "hot"},
	})
	require.NoError(t, err)
	_, err = tr.Record(inmem.Span{Parent: tool, Kind: inmem.Retrieval, Name: "fetch", Start: base.Add(200 * time.Millisecond), Output: []byte{0, 1, 2}})
	require.NoError(t, err)
	_, err = tr.Record(inmem.Span{Parent: root, Kind: inmem.Decision, Name: "answer", Start: base.Add(1500 * time.Millisecond), Status: inmem.StatusError})
	require.NoError(t, err)
	_, err = tr.Record(inmem.Span{Kind: inmem.Thought, Name: "reflect", Start: base.Add(3 * time.Second), Tags: []string{"planning"}})
	require.NoError(t, err)

	kv := r.KV()
	require.NoError(t, kv.Put("a", []byte("1")))
	require.NoError(t, kv.Put("b", []byte("2")))
	require.NoError(t, kv.Put("mem/bin", []byte{0x00, 0xff}))
	require.NoError(t, kv.Delete("b"))
	require.NoError(t, kv.PutTTL("session", []byte("s"), time.Hour))

	// One step across all four.
	require.NoError(t, r.Update(func(tx *inmem.Tx) error {
		if _, err := tx.Events().Append("assistant", []byte("done")); err != nil {
			return err
		}
		if err := tx.KV().Put("a", []byte("1b")); err != nil {
			return err
		}
		if _, err := tx.State().Set("plan", []byte("final")); err != nil {
			return err
		}
		_, err := tx.Traces().Record(inmem.Span{Parent: root, Kind: inmem.Custom, Name: "wrap", Start: base.Add(1800 * time.Millisecond)})
		return err
	}))
}

type primRestartState struct {
	runA, runB inmem.RunID
	a, b       primFull
	shared     primFull
	infoA      inmem.RunInfo
}

func primCapture(t *testing.T, db *inmem.DB, runA, runB inmem.RunID) primRestartState {
	t.Helper()
	ra, err := db.Run(runA)
	require.NoError(t, err)
	rb, err := db.Run(runB)
	require.NoError(t, err)
	info, err := ra.Info()
	require.NoError(t, err)
	return primRestartState{runA: runA, runB: runB, a: primReadFull(t, ra), b: primReadFull(t, rb),
		shared: primReadFull(t, db.Shared(primNSA)), infoA: info}
}

// primCompare checks, primitive by primitive, that db holds what was read
// before the restart.
func primCompare(t *testing.T, db *inmem.DB, want primRestartState) {
	t.Helper()
	got := primCapture(t, db, want.runA, want.runB)
	for _, sc := range []struct {
		name      string
		want, got primFull
	}{{"run", want.a, got.a}, {"other-tenant-run", want.b, got.b}, {"shared", want.shared, got.shared}} {
		t.Run(sc.name+"/events", func(t *testing.T) {
			require.Equal(t, sc.want.Dump.Events, sc.got.Dump.Events)
			require.Equal(t, sc.want.ByType, sc.got.ByType)
			require.True(t, sc.got.Dump.Chain.OK, sc.got.Dump.Chain.Reason)
			require.Equal(t, sc.want.Dump.Chain, sc.got.Dump.Chain)
		})
		t.Run(sc.name+"/state", func(t *testing.T) {
			require.Equal(t, sc.want.Dump.Cells, sc.got.Dump.Cells)
			require.Equal(t, sc.want.Cells, sc.got.Cells)
		})
		t.Run(sc.name+"/traces", func(t *testing.T) {
			require.Equal(t, sc.want.Dump.Spans, sc.got.Dump.Spans)
			require.Equal(t, sc.want.Roots, sc.got.Roots)
			require.Equal(t, sc.want.Trees, sc.got.Trees)
			require.Equal(t, sc.want.Children, sc.got.Children)
			require.Equal(t, sc.want.ByKind, sc.got.ByKind)
			require.Equal(t, sc.want.ByTag, sc.got.ByTag)
			require.Equal(t, sc.want.ByName, sc.got.ByName)
			require.Equal(t, sc.want.Window, sc.got.Window)
		})
		t.Run(sc.name+"/kv", func(t *testing.T) {
			require.Equal(t, sc.want.Dump.KV, sc.got.Dump.KV)
			require.Equal(t, sc.want.Values, sc.got.Values)
		})
	}
	t.Run("run-info", func(t *testing.T) {
		w, g := want.infoA, got.infoA
		require.Equal(t, w.ID, g.ID)
		require.Equal(t, w.Name, g.Name)
		require.Equal(t, w.Namespace, g.Namespace)
		require.Equal(t, w.Status, g.Status)
		require.Equal(t, w.Steps, g.Steps)
	})
}

// primAfterReopen checks that the reopened data still behaves: the machine
// is enforced, the chain and span IDs continue, deleted things stay
// deleted. It writes, so the state changes.
func primAfterReopen(t *testing.T, db *inmem.DB, before primRestartState) {
	t.Helper()
	r, err := db.Run(before.runA)
	require.NoError(t, err)
	st := r.State()
	phase, err := st.Get("phase")
	require.NoError(t, err)
	require.Equal(t, "running", string(phase.Value))
	_, err = st.Set("phase", []byte("idle"))
	require.ErrorIs(t, err, inmem.ErrInvalidTransition, "running -> idle is not declared")
	_, err = st.CAS("phase", phase.Version, []byte("bogus"))
	require.ErrorIs(t, err, inmem.ErrInvalidTransition)
	_, err = st.Transition("phase", func(inmem.Cell) ([]byte, error) { return []byte("idle"), nil })
	require.ErrorIs(t, err, inmem.ErrInvalidTransition)
	require.ErrorIs(t, st.Define("phase", primPhase), inmem.ErrExists)
	c, err := st.Set("phase", []byte("done"))
	require.NoError(t, err)
	require.Equal(t, phase.Version+1, c.Version)
	_, err = st.Set("phase", []byte("running"))
	require.ErrorIs(t, err, inmem.ErrInvalidTransition, "done is final")
	_, err = st.Init("plan", nil)
	require.ErrorIs(t, err, inmem.ErrExists)
	_, err = st.Get("gone")
	require.ErrorIs(t, err, inmem.ErrNotFound)
	_, err = r.KV().Get("b")
	require.ErrorIs(t, err, inmem.ErrNotFound)

	evs := before.a.Dump.Events
	e, err := r.Events().Append("note", []byte("after restart"))
	require.NoError(t, err)
	require.Equal(t, uint64(len(evs)), e.Seq)
	require.Equal(t, evs[len(evs)-1].Hash, e.PrevHash)
	rep, err := r.Events().Verify()
	require.NoError(t, err)
	require.True(t, rep.OK, rep.Reason)
	require.Equal(t, uint64(len(evs)+1), rep.Len)

	spans := before.a.Dump.Spans
	var maxID inmem.SpanID
	for _, s := range spans {
		maxID = max(maxID, s.ID)
	}
	id, err := r.Traces().Record(inmem.Span{Parent: before.a.Roots[0].ID, Kind: inmem.ToolCall, Name: "after", Tags: []string{"hot"}})
	require.NoError(t, err)
	require.Equal(t, maxID+1, id)
	_, err = r.Traces().Record(inmem.Span{Parent: maxID + 2, Kind: inmem.ToolCall, Name: "x"})
	require.ErrorIs(t, err, inmem.ErrNotFound)

	info, err := r.Info()
	require.NoError(t, err)
	require.Equal(t, before.infoA.Steps+3, info.Steps, "steps continue after reopen")
}

func TestPrimitivesSurviveRestart(t *testing.T) {
	cases := []struct {
		name       string
		opts       []inmem.Option
		checkpoint bool // explicit Checkpoint before the last writes and Close
	}{
		{name: "wal", opts: nil},
		{name: "checkpoint-every-1", opts: []inmem.Option{inmem.WithCheckpointEvery(1)}},
		{name: "explicit-checkpoint", checkpoint: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := inmem.Open(dir, tc.opts...)
			require.NoError(t, err)
			ra := freshRun(t, db, inmem.Name("restart"), inmem.InNamespace(primNSA), inmem.Tags("x"))
			rb := freshRun(t, db, inmem.InNamespace(primNSB))
			primFill(t, ra)
			primFill(t, db.Shared(primNSA))
			if tc.checkpoint {
				require.NoError(t, db.Checkpoint())
			}
			// Written after any checkpoint, so it lives only in the WAL tail.
			_, err = rb.Events().Append("user", []byte("tenant b"))
			require.NoError(t, err)
			_, err = rb.State().Set("plan", []byte("b"))
			require.NoError(t, err)
			_, err = rb.Traces().Record(inmem.Span{Kind: inmem.LLMCall, Name: "plan"})
			require.NoError(t, err)
			require.NoError(t, rb.KV().Put("a", []byte("b")))
			want := primCapture(t, db, ra.ID(), rb.ID())
			require.True(t, want.a.Dump.Chain.OK)
			if tc.checkpoint || tc.opts != nil {
				// Otherwise the snapshot path would go untested.
				require.Eventually(t, func() bool { return db.Stats().Checkpoints > 0 }, 5*time.Second, time.Millisecond)
			}
			require.NoError(t, db.Close())

			db, err = inmem.Open(dir, tc.opts...)
			require.NoError(t, err)
			primCompare(t, db, want)
			primAfterReopen(t, db, want)
			if tc.checkpoint {
				require.NoError(t, db.Checkpoint())
			}
			want2 := primCapture(t, db, ra.ID(), rb.ID())
			require.NoError(t, db.Close())

			// A second generation: what was written after the first reopen
			// is kept too, on top of what came before.
			db, err = inmem.Open(dir, tc.opts...)
			require.NoError(t, err)
			defer db.Close()
			primCompare(t, db, want2)
			r, err := db.Run(ra.ID())
			require.NoError(t, err)
			_, err = r.State().Set("phase", []byte("running"))
			require.ErrorIs(t, err, inmem.ErrInvalidTransition)
		})
	}
}
