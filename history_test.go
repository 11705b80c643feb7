package inmem_test

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// hmodel is what a run should hold after some steps, element by element.
type hmodel struct {
	kv     map[string]string
	events [][2]string // type, payload
	cells  map[string]string
	spans  [][3]string // name, input, output; ID = index + 1
	vecs   map[string]hvec
}

type hvec struct {
	v [4]float32
	n float64
}

func newHModel() *hmodel {
	return &hmodel{kv: map[string]string{}, cells: map[string]string{}, vecs: map[string]hvec{}}
}

func (m *hmodel) clone() *hmodel {
	return &hmodel{
		kv:     maps.Clone(m.kv),
		events: slices.Clone(m.events),
		cells:  maps.Clone(m.cells),
		spans:  slices.Clone(m.spans),
		vecs:   maps.Clone(m.vecs),
	}
}

const histColl = "mem"

// testClock is a deterministic clock: every call is one millisecond later.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

// randomStep runs one random transaction of 1-4 operations on run and
// applies the same operations to m. The first operation always writes.
func randomStep(t *testing.T, rng *rand.Rand, run *inmem.Run, m *hmodel, tag string) {
	t.Helper()
	type op struct {
		kind int
		a, b string
		vec  [4]float32
	}
	ops := []op{}
	n := 1 + rng.IntN(4)
	for i := range n {
		kind := rng.IntN(8)
		if i == 0 {
			kind = []int{0, 2, 3, 5, 6}[rng.IntN(5)]
		}
		o := op{kind: kind, b: fmt.Sprintf("%s-%d", tag, rng.IntN(1000))}
		switch kind {
		case 0, 1:
			o.a = "k" + strconv.Itoa(rng.IntN(8))
		case 2:
			o.a = "t" + strconv.Itoa(rng.IntN(3))
		case 3, 4:
			o.a = "c" + strconv.Itoa(rng.IntN(4))
		case 5:
			o.a = "s" + strconv.Itoa(rng.IntN(3))
		case 6, 7:
			o.a = "v" + strconv.Itoa(rng.IntN(6))
			for j := range o.vec {
				o.vec[j] = rng.Float32()*2 - 1
			}
			o.vec[0] += 3 // never the zero vector
		}
		ops = append(ops, o)
	}
	require.NoError(t, run.Update(func(tx *inmem.Tx) error {
		for _, o := range ops {
			var err error
			switch o.kind {
			case 0:
				err = tx.KV().Put(o.a, []byte(o.b))
			case 1:
				err = tx.KV().Delete(o.a)
			case 2:
				_, err = tx.Events().Append(o.a, []byte(o.b))
			case 3:
				_, err = tx.State().Set(o.a, []byte(o.b))
			case 4:
				err = tx.State().Delete(o.a)
			case 5:
				_, err = tx.Traces().Record(inmem.Span{Kind: inmem.ToolCall, Name: o.a, Input: []byte(o.b), Output: []byte(o.b + "!")})
			case 6:
				err = tx.Vectors().Upsert(histColl, o.a, o.vec[:], map[string]any{"n": float64(len(o.b))})
			case 7:
				err = tx.Vectors().Delete(histColl, o.a)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}))
	for _, o := range ops {
		switch o.kind {
		case 0:
			m.kv[o.a] = o.b
		case 1:
			delete(m.kv, o.a)
		case 2:
			m.events = append(m.events, [2]string{o.a, o.b})
		case 3:
			m.cells[o.a] = o.b
		case 4:
			delete(m.cells, o.a)
		case 5:
			m.spans = append(m.spans, [3]string{o.a, o.b, o.b + "!"})
		case 6:
			m.vecs[o.a] = hvec{v: o.vec, n: float64(len(o.b))}
		case 7:
			delete(m.vecs, o.a)
		}
	}
}

// handles is what requireState reads through: a run or a view of it.
type handles interface {
	KV() *inmem.KV
	Events() *inmem.Events
	State() *inmem.State
	Traces() *inmem.Traces
	Vectors() *inmem.Vectors
}

// requireState checks that h answers exactly as m says, through every
// primitive, a vector search included.
func requireState(t *testing.T, h handles, m *hmodel, msg string) {
	t.Helper()
	kvs, err := h.KV().List("")
	require.NoError(t, err, msg)
	gotKV := map[string]string{}
	for _, e := range kvs {
		gotKV[e.Key] = string(e.Value)
	}
	require.Equal(t, m.kv, gotKV, msg)
	for k, v := range m.kv {
		got, err := h.KV().Get(k)
		require.NoError(t, err, msg)
		require.Equal(t, v, string(got), msg)
	}
	_, err = h.KV().Get("k-never")
	require.ErrorIs(t, err, inmem.ErrNotFound, msg)

	n, err := h.Events().Len()
	require.NoError(t, err, msg)
	require.Equal(t, uint64(len(m.events)), n, msg)
	evs, err := h.Events().Range(0, n)
	require.NoError(t, err, msg)
	for i, e := range evs {
		require.Equal(t, m.events[i], [2]string{e.Type, string(e.Payload)}, msg)
	}
	rep, err := h.Events().Verify()
	require.NoError(t, err, msg)
	require.True(t, rep.OK, "%s: %+v", msg, rep)

	cells, err := h.State().List()
	require.NoError(t, err, msg)
	gotCells := map[string]string{}
	for _, c := range cells {
		gotCells[c.Name] = string(c.Value)
	}
	require.Equal(t, m.cells, gotCells, msg)

	spans, err := h.Traces().Query(inmem.SpanQuery{})
	require.NoError(t, err, msg)
	slices.SortFunc(spans, func(a, b inmem.Span) int { return int(a.ID) - int(b.ID) })
	require.Len(t, spans, len(m.spans), msg)
	for i, s := range spans {
		require.Equal(t, inmem.SpanID(i+1), s.ID, msg)
		require.Equal(t, m.spans[i], [3]string{s.Name, string(s.Input), string(s.Output)}, msg)
	}

	for k, want := range m.vecs {
		rec, err := h.Vectors().Get(histColl, k)
		require.NoError(t, err, msg)
		require.Equal(t, want.v[:], rec.Vector, msg)
		require.Equal(t, want.n, rec.Meta["n"], msg)
	}
	matches, err := h.Vectors().Search(histColl, []float32{3, 0, 0, 0}, 100)
	if len(m.vecs) == 0 && errors.Is(err, inmem.ErrNotFound) {
		return // the collection did not exist yet
	}
	require.NoError(t, err, msg)
	var keys []string
	for _, mt := range matches {
		keys = append(keys, mt.Key)
	}
	slices.Sort(keys)
	require.Equal(t, slices.Sorted(maps.Keys(m.vecs)), keys, "%s: vector search", msg)
	// Filtered: a fork searches its parent's vectors too, and the filter
	// holds for them as for its own.
	for _, f := range []struct {
		name string
		f    inmem.Filter
		ok   func(n float64) bool
	}{
		{"n = 5", inmem.Eq("n", 5), func(n float64) bool { return n == 5 }},
		{"n < 5", inmem.Lt("n", 5), func(n float64) bool { return n < 5 }},
	} {
		matches, err := h.Vectors().Search(histColl, []float32{3, 0, 0, 0}, 100, inmem.Where(f.f))
		require.NoError(t, err, msg)
		keys = []string{}
		for _, mt := range matches {
			keys = append(keys, mt.Key)
		}
		slices.Sort(keys)
		want := []string{}
		for _, k := range slices.Sorted(maps.Keys(m.vecs)) {
			if f.ok(m.vecs[k].n) {
				want = append(want, k)
			}
		}
		require.Equal(t, want, keys, "%s: vector search where %s", msg, f.name)
	}
}

// historyFixture is a run with random steps, a fork of it, and the models
// of every step of both.
type historyFixture struct {
	parent, child inmem.RunID
	parentModels  []*hmodel // [step] -> state after it (0: empty)
	childModels   []*hmodel // [own step] -> state after it (0: the fork point)
	forkStep      int
}

func buildHistory(t *testing.T, db *inmem.DB, seed uint64, steps int) *historyFixture {
	rng := rand.New(rand.NewPCG(seed, 7))
	run, err := db.BeginRun(inmem.Name("history"))
	require.NoError(t, err)
	require.NoError(t, run.Vectors().CreateCollection(histColl, inmem.VectorConfig{Dim: 4, Metric: inmem.Euclidean}))
	// Creating the collection is the first step.
	m := newHModel()
	f := &historyFixture{parent: run.ID(), parentModels: []*hmodel{newHModel(), m.clone()}}
	for range steps {
		randomStep(t, rng, run, m, "p")
		f.parentModels = append(f.parentModels, m.clone())
	}
	f.forkStep = 1 + rng.IntN(steps)
	child, err := db.Fork(run.ID(), f.forkStep)
	require.NoError(t, err)
	f.child = child.ID()
	cm := f.parentModels[f.forkStep].clone()
	f.childModels = []*hmodel{cm.clone()}
	for range steps / 2 {
		randomStep(t, rng, child, cm, "c")
		f.childModels = append(f.childModels, cm.clone())
		// The parent goes on too: none of it may reach the child.
		randomStep(t, rng, run, m, "p")
		f.parentModels = append(f.parentModels, m.clone())
	}
	return f
}

// expectedDiff computes, from two models, what Diff(a, b) must report.
func expectedDiff(a, b *hmodel) inmem.RunDiff {
	var d inmem.RunDiff
	diffMaps(&d.KV, a.kv, b.kv, func(s string) []byte { return []byte(s) })
	diffMaps(&d.State, a.cells, b.cells, func(s string) []byte { return []byte(s) })
	ev := func(m *hmodel) map[string][2]string {
		out := map[string][2]string{}
		for i, e := range m.events {
			out[strconv.Itoa(i)] = e
		}
		return out
	}
	diffMaps(&d.Events, ev(a), ev(b), func(e [2]string) []byte { return []byte(e[1]) })
	sp := func(m *hmodel) map[string][3]string {
		out := map[string][3]string{}
		for i, s := range m.spans {
			out[strconv.Itoa(i+1)] = s
		}
		return out
	}
	diffMaps(&d.Traces, sp(a), sp(b), nil)
	diffMaps(&d.Vectors, a.vecs, b.vecs, nil)
	return d
}

func diffMaps[V comparable](d *inmem.PrimitiveDiff, a, b map[string]V, show func(V) []byte) {
	for k, va := range a {
		vb, ok := b[k]
		switch {
		case !ok:
			d.Removed = append(d.Removed, k)
		case va != vb:
			c := inmem.Change{Key: k}
			if show != nil {
				c.Before, c.After = show(va), show(vb)
			}
			d.Changed = append(d.Changed, c)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			d.Added = append(d.Added, k)
		}
	}
}

// normalize sorts a diff's lists and, where the model cannot predict the
// shown bytes (spans, vectors as JSON), drops them.
func normalize(d *inmem.RunDiff, keepShown bool) {
	for _, p := range []*inmem.PrimitiveDiff{&d.KV, &d.Events, &d.State, &d.Traces, &d.Vectors} {
		slices.Sort(p.Added)
		slices.Sort(p.Removed)
		slices.SortFunc(p.Changed, func(x, y inmem.Change) int {
			switch {
			case x.Key < y.Key:
				return -1
			case x.Key > y.Key:
				return 1
			}
			return 0
		})
		if p == &d.Traces || p == &d.Vectors || !keepShown {
			for i := range p.Changed {
				p.Changed[i].Before, p.Changed[i].After = nil, nil
			}
		}
	}
}

func checkHistory(t *testing.T, db *inmem.DB, f *historyFixture, phase string) {
	t.Helper()
	parent, err := db.Run(f.parent)
	require.NoError(t, err)
	steps, err := parent.Steps()
	require.NoError(t, err)
	require.Len(t, steps, len(f.parentModels)-1, phase)
	for i, st := range steps {
		require.Equal(t, i+1, st.N, phase)
		if i > 0 {
			require.Greater(t, st.Version, steps[i-1].Version, phase)
			require.True(t, st.Time.After(steps[i-1].Time), phase)
		}
		w := st.Writes
		require.NotZero(t, len(w.KV)+len(w.Events)+len(w.State)+len(w.Traces)+len(w.Vectors)+boolInt(i == 0), "%s: step %d lists no writes", phase, i+1)
	}
	info, err := parent.Info()
	require.NoError(t, err)
	require.Equal(t, len(steps), info.Steps, phase)

	for step, m := range f.parentModels {
		view, err := parent.AsOf(step)
		require.NoError(t, err, phase)
		requireState(t, view, m, fmt.Sprintf("%s: parent as of step %d", phase, step))
	}
	_, err = parent.AsOf(len(f.parentModels))
	require.ErrorIs(t, err, inmem.ErrHistory)
	_, err = parent.AsOf(-1)
	require.ErrorIs(t, err, inmem.ErrHistory)

	child, err := db.Run(f.child)
	require.NoError(t, err)
	ci, err := child.Info()
	require.NoError(t, err)
	require.Equal(t, f.parent, ci.ForkOf, phase)
	require.Equal(t, f.forkStep, ci.ForkStep, phase)
	lineage, err := db.Runs().Lineage(f.child)
	require.NoError(t, err)
	require.NotEmpty(t, lineage)
	require.Equal(t, f.parent, lineage[0].ID, phase)
	requireState(t, child, f.childModels[len(f.childModels)-1], phase+": child live")
	for step, m := range f.childModels {
		view, err := child.AsOf(step)
		require.NoError(t, err, phase)
		requireState(t, view, m, fmt.Sprintf("%s: child as of step %d", phase, step))
	}
	requireState(t, parent, f.parentModels[len(f.parentModels)-1], phase+": parent live")

	for _, id := range []inmem.RunID{f.parent, f.child} {
		rep, err := db.Replay(id)
		require.NoError(t, err)
		require.True(t, rep.Match, "%s: replay of %s: %+v", phase, id, rep)
		require.Zero(t, rep.FirstDiff)
	}

	got, err := db.Diff(f.parent, f.child)
	require.NoError(t, err)
	want := expectedDiff(f.parentModels[len(f.parentModels)-1], f.childModels[len(f.childModels)-1])
	normalize(&got, true)
	normalize(&want, true)
	require.Equal(t, want, got, phase+": diff parent -> child")
	// A run against its own fork point: only the child's writes differ.
	got, err = db.Diff(f.child, f.child)
	require.NoError(t, err)
	require.True(t, got.Empty(), phase)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestHistoryModelInMemory(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			clock := newTestClock()
			db, err := inmem.OpenInMemory(inmem.WithClock(clock.now))
			require.NoError(t, err)
			defer db.Close()
			f := buildHistory(t, db, seed, 30)
			checkHistory(t, db, f, "in memory")
		})
	}
}

func TestHistoryModelSurvivesReopen(t *testing.T) {
	for _, ckpt := range []bool{false, true} {
		t.Run(fmt.Sprintf("checkpoint=%v", ckpt), func(t *testing.T) {
			dir := t.TempDir()
			clock := newTestClock()
			db, err := inmem.Open(dir, inmem.WithClock(clock.now), inmem.WithDurability(inmem.Strict()))
			require.NoError(t, err)
			f := buildHistory(t, db, 11, 24)
			checkHistory(t, db, f, "before close")
			parent, err := db.Run(f.parent)
			require.NoError(t, err)
			before, err := parent.Steps()
			require.NoError(t, err)
			if ckpt {
				require.NoError(t, db.Checkpoint())
				// Steps after the checkpoint come from the WAL.
				rng := rand.New(rand.NewPCG(99, 1))
				m := f.parentModels[len(f.parentModels)-1].clone()
				randomStep(t, rng, parent, m, "after")
				f.parentModels = append(f.parentModels, m)
				before, err = parent.Steps()
				require.NoError(t, err)
			}
			require.NoError(t, db.Close())

			db, err = inmem.Open(dir, inmem.WithClock(clock.now))
			require.NoError(t, err)
			defer db.Close()
			parent, err = db.Run(f.parent)
			require.NoError(t, err)
			after, err := parent.Steps()
			require.NoError(t, err)
			require.Equal(t, len(before), len(after))
			for i := range before {
				require.Equal(t, before[i].Version, after[i].Version)
				require.True(t, before[i].Time.Equal(after[i].Time), "step %d time", i+1)
				require.Equal(t, before[i].Writes, after[i].Writes)
			}
			checkHistory(t, db, f, "after reopen")
		})
	}
}

func TestForkIsolationAndCost(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	parent, err := db.BeginRun(inmem.Name("big"), inmem.Tags("x"))
	require.NoError(t, err)
	require.NoError(t, parent.Update(func(tx *inmem.Tx) error {
		for i := range 2000 {
			if err := tx.KV().Put(fmt.Sprintf("key%05d", i), []byte("v1")); err != nil {
				return err
			}
		}
		return nil
	}))
	require.NoError(t, parent.KV().Put("key00001", []byte("v2")))
	before := db.Stats()
	child, err := db.Fork(parent.ID(), 1)
	require.NoError(t, err)
	// Copy-on-write: the fork writes its own run record and reads through
	// to the parent's 2,000 keys (150 KB of arena) instead of copying
	// them. It measures 1 entry and 536 bytes; a copy would add an entry
	// and some 75 bytes per key.
	after := db.Stats()
	require.LessOrEqual(t, after.Entries-before.Entries, int64(4), "Fork added entries: it copied the parent's")
	require.LessOrEqual(t, after.MemUsed-before.MemUsed, int64(4<<10), "Fork used arena memory: it copied the parent's")
	info, err := child.Info()
	require.NoError(t, err)
	require.Equal(t, "big", info.Name)
	require.Equal(t, []string{"x"}, info.Tags)
	require.Equal(t, 0, info.Steps)

	// The fork sees step 1: key00001 is v1 there.
	v, err := child.KV().Get("key00001")
	require.NoError(t, err)
	require.Equal(t, "v1", string(v))
	// Writes to either side stay on that side.
	require.NoError(t, child.KV().Put("key00002", []byte("child")))
	require.NoError(t, child.KV().Delete("key00003"))
	require.NoError(t, parent.KV().Put("key00004", []byte("parent")))
	v, err = parent.KV().Get("key00002")
	require.NoError(t, err)
	require.Equal(t, "v1", string(v))
	_, err = parent.KV().Get("key00003")
	require.NoError(t, err)
	_, err = child.KV().Get("key00003")
	require.ErrorIs(t, err, inmem.ErrNotFound)
	v, err = child.KV().Get("key00004")
	require.NoError(t, err)
	require.Equal(t, "v1", string(v))
	list, err := child.KV().List("key0000")
	require.NoError(t, err)
	var got []string
	for _, e := range list {
		got = append(got, e.Key+"="+string(e.Value))
	}
	require.Equal(t, []string{"key00000=v1", "key00001=v1", "key00002=child", "key00004=v1", "key00005=v1", "key00006=v1", "key00007=v1", "key00008=v1", "key00009=v1"}, got)

	// A fork of a fork reads through both layers.
	grand, err := db.Fork(child.ID(), 2)
	require.NoError(t, err)
	require.NoError(t, child.KV().Put("key00005", []byte("late")))
	v, err = grand.KV().Get("key00002")
	require.NoError(t, err)
	require.Equal(t, "child", string(v))
	v, err = grand.KV().Get("key00005")
	require.NoError(t, err)
	require.Equal(t, "v1", string(v))
	_, err = grand.KV().Get("key00003")
	require.ErrorIs(t, err, inmem.ErrNotFound)
	lineage, err := db.Runs().Lineage(grand.ID())
	require.NoError(t, err)
	require.Len(t, lineage, 2)
	require.Equal(t, child.ID(), lineage[0].ID)
	require.Equal(t, parent.ID(), lineage[1].ID)

	// Deleting the parent does not reach its forks.
	require.NoError(t, db.Runs().Delete(parent.ID()))
	v, err = grand.KV().Get("key01999")
	require.NoError(t, err)
	require.Equal(t, "v1", string(v))

	// Bad input.
	_, err = db.Fork(inmem.RunID{1}, 0)
	require.ErrorIs(t, err, inmem.ErrRunNotFound)
	_, err = db.Fork(child.ID(), 99)
	require.ErrorIs(t, err, inmem.ErrHistory)
	_, err = db.Fork(child.ID(), 1, inmem.InNamespace(inmem.Namespace{Tenant: "other"}))
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
}

func TestViewIsReadOnly(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	require.NoError(t, run.KV().Put("a", []byte("1")))
	require.NoError(t, run.Vectors().CreateCollection(histColl, inmem.VectorConfig{Dim: 4, Metric: inmem.Cosine}))
	view, err := run.AsOf(1)
	require.NoError(t, err)
	require.Equal(t, 1, view.Step())
	require.ErrorIs(t, view.KV().Put("b", nil), inmem.ErrReadOnly)
	require.ErrorIs(t, view.KV().Delete("a"), inmem.ErrReadOnly)
	_, err = view.Events().Append("x", nil)
	require.ErrorIs(t, err, inmem.ErrReadOnly)
	_, err = view.State().Set("c", nil)
	require.ErrorIs(t, err, inmem.ErrReadOnly)
	_, err = view.Traces().Record(inmem.Span{Kind: inmem.Thought, Name: "n"})
	require.ErrorIs(t, err, inmem.ErrReadOnly)
	require.ErrorIs(t, view.Vectors().Upsert(histColl, "k", []float32{1, 0, 0, 0}, nil), inmem.ErrReadOnly)
	require.ErrorIs(t, view.Read(func(tx *inmem.Tx) error { return tx.KV().Put("z", nil) }), inmem.ErrReadOnly)
	// The collection did not exist at step 1.
	_, err = view.Vectors().Search(histColl, []float32{1, 0, 0, 0}, 1)
	require.ErrorIs(t, err, inmem.ErrNotFound)

	shared := db.Shared(inmem.Namespace{Tenant: "t"})
	_, err = shared.AsOf(0)
	require.ErrorIs(t, err, inmem.ErrHistory)
	_, err = shared.Steps()
	require.ErrorIs(t, err, inmem.ErrHistory)
}

func TestAsOfJudgesTTLAtTheStep(t *testing.T) {
	clock := newTestClock()
	db, err := inmem.OpenInMemory(inmem.WithClock(clock.now))
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	require.NoError(t, run.KV().PutTTL("lease", []byte("x"), 5*time.Millisecond))
	for range 10 {
		clock.now()
	}
	_, err = run.KV().Get("lease")
	require.ErrorIs(t, err, inmem.ErrNotFound, "expired now")
	view, err := run.AsOf(1)
	require.NoError(t, err)
	v, err := view.KV().Get("lease")
	require.NoError(t, err, "live right after its step")
	require.Equal(t, "x", string(v))
}

// agent is a toy agent whose nondeterministic calls go through do.
func agent(do func(name string, input []byte, call func() ([]byte, error)) ([]byte, error), variant int) error {
	plan, err := do("llm", []byte("plan the task"), func() ([]byte, error) { return []byte("search, then answer"), nil })
	if err != nil {
		return err
	}
	q := "weather in Paris"
	if variant == 1 {
		q = "weather in Lyon"
	}
	res, err := do("tool.search", []byte(q), func() ([]byte, error) { return []byte("sunny"), nil })
	if err != nil {
		return err
	}
	if _, err := do("tool.flaky", res, func() ([]byte, error) { return []byte("partial"), errors.New("timeout") }); err == nil || err.Error() != "timeout" {
		return fmt.Errorf("flaky call: %v", err)
	}
	_, err = do("llm", append(plan, res...), func() ([]byte, error) { return []byte("It is sunny."), nil })
	return err
}

func TestRecorderReplayer(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	run, err := db.BeginRun()
	require.NoError(t, err)
	calls := 0
	rec := run.Recorder()
	require.NoError(t, agent(func(name string, in []byte, call func() ([]byte, error)) ([]byte, error) {
		calls++
		return rec.Do(name, in, call)
	}, 0))
	require.Equal(t, 4, calls)
	spans, err := run.Traces().Query(inmem.SpanQuery{Tag: inmem.RecordedTag})
	require.NoError(t, err)
	require.Len(t, spans, 4)
	require.Equal(t, "timeout", spans[2].Attrs[inmem.AttrError])
	require.NoError(t, db.Close())

	db, err = inmem.Open(dir)
	require.NoError(t, err)
	defer db.Close()
	// The unchanged agent replays without calling anything.
	rp, err := db.Replayer(run.ID())
	require.NoError(t, err)
	require.NoError(t, agent(func(name string, in []byte, _ func() ([]byte, error)) ([]byte, error) {
		return rp.Do(name, in, func() ([]byte, error) { panic("replay called the real function") })
	}, 0))
	require.Zero(t, rp.Remaining())
	_, err = rp.Do("extra", nil, nil)
	var div *inmem.DivergenceError
	require.ErrorAs(t, err, &div)
	require.Equal(t, 5, div.Step)

	// A changed agent diverges at its second call.
	rp, err = db.Replayer(run.ID())
	require.NoError(t, err)
	err = agent(func(name string, in []byte, _ func() ([]byte, error)) ([]byte, error) {
		return rp.Do(name, in, nil)
	}, 1)
	require.ErrorAs(t, err, &div)
	require.Equal(t, 2, div.Step)
	require.Contains(t, div.Want, "tool.search")
	require.Contains(t, div.Got, "tool.search")
	require.NotEqual(t, div.Want, div.Got)

	_, err = run.Recorder().Do("x", nil, nil)
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	_, err = db.Replayer(inmem.RunID{9})
	require.ErrorIs(t, err, inmem.ErrRunNotFound)
}

// TestHistoryConcurrent reads history (Steps, AsOf, Fork) while writers
// commit steps: every view shows exactly the events of its steps.
func TestHistoryConcurrent(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	const writers, perWriter = 4, 150
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				err := run.Update(func(tx *inmem.Tx) error {
					if _, err := tx.Events().Append("step", nil); err != nil {
						return err
					}
					return tx.KV().Put(fmt.Sprintf("w%d", w), []byte(strconv.Itoa(i)))
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	var readers sync.WaitGroup
	for r := range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 3))
			for {
				select {
				case <-done:
					return
				default:
				}
				steps, err := run.Steps()
				if err != nil {
					t.Error(err)
					return
				}
				if len(steps) == 0 {
					continue
				}
				k := 1 + rng.IntN(len(steps))
				view, err := run.AsOf(k)
				if err != nil {
					t.Error(err)
					return
				}
				if n, err := view.Events().Len(); err != nil || n != uint64(k) {
					t.Errorf("as of step %d: %d events (%v)", k, n, err)
					return
				}
				if k%7 == 0 {
					child, err := db.Fork(run.ID(), k)
					if err != nil {
						t.Error(err)
						return
					}
					if n, err := child.Events().Len(); err != nil || n != uint64(k) {
						t.Errorf("fork at step %d: %d events (%v)", k, n, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	readers.Wait()
	steps, err := run.Steps()
	require.NoError(t, err)
	require.Len(t, steps, writers*perWriter)
	rep, err := db.Replay(run.ID())
	require.NoError(t, err)
	require.True(t, rep.Match, "%+v", rep)
}

func TestCompact(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	run, err := db.BeginRun()
	require.NoError(t, err)
	for i := range 5 {
		require.NoError(t, run.KV().Put("k", []byte(strconv.Itoa(i))))
	}
	require.NoError(t, db.Runs().Compact(run.ID()))
	require.NoError(t, run.KV().Put("k", []byte("after")))
	check := func(db *inmem.DB) {
		r, err := db.Run(run.ID())
		require.NoError(t, err)
		_, err = r.AsOf(4)
		require.ErrorIs(t, err, inmem.ErrHistory)
		_, err = db.Fork(run.ID(), 2)
		require.ErrorIs(t, err, inmem.ErrHistory)
		view, err := r.AsOf(5)
		require.NoError(t, err, "the compaction point is the latest state kept")
		v, err := view.KV().Get("k")
		require.NoError(t, err)
		require.Equal(t, "4", string(v))
		steps, err := r.Steps()
		require.NoError(t, err)
		require.Len(t, steps, 1)
		require.Equal(t, 6, steps[0].N)
		v, err = r.KV().Get("k")
		require.NoError(t, err)
		require.Equal(t, "after", string(v))
		info, err := r.Info()
		require.NoError(t, err)
		require.Equal(t, 6, info.Steps)
	}
	check(db)
	require.NoError(t, db.Close())
	db, err = inmem.Open(dir)
	require.NoError(t, err)
	defer db.Close()
	check(db)
	require.ErrorIs(t, db.Runs().Compact(inmem.RunID{3}), inmem.ErrRunNotFound)
}

// TestViewAfterCompaction: a view made before its step was compacted away
// refuses to read rather than read what reclaim left.
func TestViewAfterCompaction(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	require.NoError(t, run.KV().Put("k", []byte("1")))
	require.NoError(t, run.KV().Put("k", []byte("2")))
	view, err := run.AsOf(1)
	require.NoError(t, err)
	v, err := view.KV().Get("k")
	require.NoError(t, err)
	require.Equal(t, "1", string(v))
	require.NoError(t, db.Runs().Compact(run.ID()))
	_, err = db.Reclaim()
	require.NoError(t, err)
	_, err = view.KV().Get("k")
	require.ErrorIs(t, err, inmem.ErrHistory)
	_, err = view.Events().Len()
	require.ErrorIs(t, err, inmem.ErrHistory)
	last, err := run.AsOf(2)
	require.NoError(t, err)
	v, err = last.KV().Get("k")
	require.NoError(t, err)
	require.Equal(t, "2", string(v))
}

// TestArchiveKeepsHistory: archiving a run keeps its every step: AsOf and
// Fork at the first step still answer, and a reclaim frees none of it.
func TestArchiveKeepsHistory(t *testing.T) {
	db := memDB(t)
	run, err := db.BeginRun()
	require.NoError(t, err)
	for i := range 3 {
		require.NoError(t, run.KV().Put("k", []byte{'0' + byte(i)}))
	}
	before, err := run.AsOf(1)
	require.NoError(t, err)
	_, err = before.KV().Get("k")
	require.NoError(t, err, "an ended run keeps its history")
	require.NoError(t, run.End(inmem.Completed, ""))
	require.NoError(t, db.Runs().SetStatus(run.ID(), inmem.Archived))
	_, err = db.Reclaim()
	require.NoError(t, err)
	v, err := before.KV().Get("k")
	require.NoError(t, err)
	require.Equal(t, "0", string(v))
	fork, err := db.Fork(run.ID(), 1)
	require.NoError(t, err)
	v, err = fork.KV().Get("k")
	require.NoError(t, err)
	require.Equal(t, "0", string(v))
	steps, err := run.Steps()
	require.NoError(t, err)
	require.Len(t, steps, 3)
	last, err := run.AsOf(3)
	require.NoError(t, err)
	v, err = last.KV().Get("k")
	require.NoError(t, err)
	require.Equal(t, "2", string(v))
}
