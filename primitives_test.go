package inmem_test

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// ---- helpers for the primitive tests ----

var errPrimAbort = errors.New("abort on purpose")

// primTickClock returns a clock that moves 1µs per call, so spans recorded
// in sequence have distinct, increasing start times.
func primTickClock() func() time.Time {
	base := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	var n atomic.Int64
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * time.Microsecond) }
}

// primDump is everything a scope holds, read through the public API.
type primDump struct {
	Events []inmem.Event
	Chain  inmem.ChainReport
	Cells  []inmem.Cell
	Spans  []inmem.Span
	KV     []inmem.Entry
}

func primRead(t testing.TB, r *inmem.Run) primDump {
	t.Helper()
	var d primDump
	ev := r.Events()
	n, err := ev.Len()
	require.NoError(t, err)
	d.Events, err = ev.Range(0, n)
	require.NoError(t, err)
	require.Len(t, d.Events, int(n))
	d.Chain, err = ev.Verify()
	require.NoError(t, err)
	d.Cells, err = r.State().List()
	require.NoError(t, err)
	d.Spans, err = r.Traces().Query(inmem.SpanQuery{})
	require.NoError(t, err)
	d.KV, err = r.KV().List("")
	require.NoError(t, err)
	return d
}

func primSteps(t testing.TB, r *inmem.Run) int {
	t.Helper()
	info, err := r.Info()
	require.NoError(t, err)
	return info.Steps
}

// ---- 1. atomicity across primitives ----

func TestPrimitivesUpdateCommitsAllFour(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	_, err := r.State().Init("counter", []byte("0"))
	require.NoError(t, err)

	var ev inmem.Event
	var span inmem.SpanID
	require.NoError(t, r.Update(func(tx *inmem.Tx) error {
		var err error
		if ev, err = tx.Events().Append("tool_result", []byte("42")); err != nil {
			return err
		}
		if err := tx.KV().Put("answer", []byte("42")); err != nil {
			return err
		}
		if _, err := tx.State().CAS("counter", 1, []byte("1")); err != nil {
			return err
		}
		span, err = tx.Traces().Record(inmem.Span{Kind: inmem.ToolCall, Name: "calc",
			Attrs: map[string]string{"gen_ai.tool.name": "calc"}})
		if err != nil {
			return err
		}
		// A parent recorded earlier in the same transaction is found.
		if _, err := tx.Traces().Record(inmem.Span{Parent: span, Kind: inmem.Thought, Name: "why"}); err != nil {
			return err
		}
		e2, err := tx.Events().Append("note", nil)
		if err != nil {
			return err
		}
		if e2.Seq != 1 || e2.PrevHash != ev.Hash {
			return fmt.Errorf("second append in the transaction: seq %d", e2.Seq)
		}
		return nil
	}))
	n, err := r.Events().Len()
	require.NoError(t, err)
	require.Equal(t, uint64(2), n)
	kids, err := r.Traces().Children(span)
	require.NoError(t, err)
	require.Len(t, kids, 1)
	require.Equal(t, 2, primSteps(t, r))

	got, err := r.Events().Get(0)
	require.NoError(t, err)
	require.Equal(t, ev, got)
	v, err := r.KV().Get("answer")
	require.NoError(t, err)
	require.Equal(t, "42", string(v))
	c, err := r.State().Get("counter")
	require.NoError(t, err)
	require.Equal(t, "1", string(c.Value))
	require.Equal(t, uint64(2), c.Version)
	s, err := r.Traces().Get(span)
	require.NoError(t, err)
	require.Equal(t, "calc", s.Name)
	require.Equal(t, "calc", s.Attrs["gen_ai.tool.name"])
}

func TestPrimitivesAbortedUpdateLeavesNothing(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	_, err := r.State().Init("counter", []byte("0"))
	require.NoError(t, err)
	first, err := r.Events().Append("start", []byte("a"))
	require.NoError(t, err)
	root, err := r.Traces().Record(inmem.Span{Kind: inmem.LLMCall, Name: "plan"})
	require.NoError(t, err)
	require.NoError(t, r.KV().Put("keep", []byte("1")))
	before := primRead(t, r)
	steps := primSteps(t, r)

	err = r.Update(func(tx *inmem.Tx) error {
		e, err := tx.Events().Append("doomed", []byte("x"))
		if err != nil {
			return err
		}
		if e.Seq != 1 {
			return fmt.Errorf("seq %d inside the transaction, want 1", e.Seq)
		}
		if err := tx.KV().Put("doomed", []byte("x")); err != nil {
			return err
		}
		if err := tx.KV().Delete("keep"); err != nil {
			return err
		}
		if _, err := tx.State().CAS("counter", 1, []byte("1")); err != nil {
			return err
		}
		if _, err := tx.State().Init("doomed", nil); err != nil {
			return err
		}
		if _, err := tx.Traces().Record(inmem.Span{Parent: root, Kind: inmem.ToolCall, Name: "doomed", Tags: []string{"t"}}); err != nil {
			return err
		}
		// The transaction sees its own writes across primitives.
		if n, err := tx.Events().Len(); err != nil || n != 2 {
			return fmt.Errorf("len inside the transaction: %d, %v", n, err)
		}
		if ss, err := tx.Traces().Query(inmem.SpanQuery{Tag: "t"}); err != nil || len(ss) != 1 {
			return fmt.Errorf("own span not visible: %v, %v", ss, err)
		}
		return errPrimAbort
	})
	require.ErrorIs(t, err, errPrimAbort)

	require.Equal(t, before, primRead(t, r))
	require.Equal(t, steps, primSteps(t, r))
	_, err = r.KV().Get("doomed")
	require.ErrorIs(t, err, inmem.ErrNotFound)
	_, err = r.State().Get("doomed")
	require.ErrorIs(t, err, inmem.ErrNotFound)
	typed, err := r.Events().ByType("doomed")
	require.NoError(t, err)
	require.Empty(t, typed)
	kids, err := r.Traces().Children(root)
	require.NoError(t, err)
	require.Empty(t, kids)

	// The aborted append left no gap in the log, and no hole in span IDs.
	next, err := r.Events().Append("next", []byte("b"))
	require.NoError(t, err)
	require.Equal(t, uint64(1), next.Seq)
	require.Equal(t, first.Hash, next.PrevHash)
	rep, err := r.Events().Verify()
	require.NoError(t, err)
	require.True(t, rep.OK, rep.Reason)
	require.Equal(t, uint64(2), rep.Len)
	id, err := r.Traces().Record(inmem.Span{Parent: root, Kind: inmem.ToolCall, Name: "real"})
	require.NoError(t, err)
	require.Equal(t, root+1, id)
}

func TestPrimitivesConflictLoserLeavesNothing(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	_, err := r.State().Init("counter", []byte("0"))
	require.NoError(t, err)
	_, err = r.Events().Append("start", nil)
	require.NoError(t, err)
	before := primRead(t, r)
	steps := primSteps(t, r)

	winner, err := r.Begin(true)
	require.NoError(t, err)
	defer winner.Discard()
	loser, err := r.Begin(true)
	require.NoError(t, err)
	defer loser.Discard()

	for _, tx := range []*inmem.Tx{winner, loser} {
		n, err := tx.Events().Len()
		require.NoError(t, err)
		require.Equal(t, uint64(1), n)
	}
	_, err = winner.Events().Append("winner", []byte("w"))
	require.NoError(t, err)

	_, err = loser.Events().Append("loser", []byte("l"))
	require.NoError(t, err)
	require.NoError(t, loser.KV().Put("loser", []byte("l")))
	_, err = loser.State().Set("counter", []byte("loser"))
	require.NoError(t, err)
	_, err = loser.State().Init("loser", []byte("l"))
	require.NoError(t, err)
	_, err = loser.Traces().Record(inmem.Span{Kind: inmem.Decision, Name: "loser"})
	require.NoError(t, err)

	require.NoError(t, winner.Commit())
	require.ErrorIs(t, loser.Commit(), inmem.ErrConflict)

	after := primRead(t, r)
	require.Len(t, after.Events, 2)
	require.Equal(t, before.Events[0], after.Events[0])
	require.Equal(t, "winner", after.Events[1].Type)
	require.True(t, after.Chain.OK, after.Chain.Reason)
	require.Equal(t, before.Cells, after.Cells)
	require.Empty(t, after.Spans)
	require.Empty(t, after.KV)
	typed, err := r.Events().ByType("loser")
	require.NoError(t, err)
	require.Empty(t, typed)
	require.Equal(t, steps+1, primSteps(t, r))
}

// ---- 2. concurrency ----

func TestPrimitivesConcurrentEventAndCounter(t *testing.T) {
	const workers, perWorker = 8, 200
	db := memDB(t)
	r := freshRun(t, db)
	_, err := r.State().Init("counter", []byte("0"))
	require.NoError(t, err)

	var (
		wg      sync.WaitGroup
		errMu   sync.Mutex
		errs    []error
		done    = make(chan struct{})
		readers sync.WaitGroup
	)
	fail := func(err error) {
		errMu.Lock()
		errs = append(errs, err)
		errMu.Unlock()
	}
	inc := func(b []byte) ([]byte, error) {
		n, err := strconv.Atoi(string(b))
		if err != nil {
			return nil, err
		}
		return []byte(strconv.Itoa(n + 1)), nil
	}
	// A reader checks that every snapshot sees the log and the counter move
	// together.
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			err := r.View(func(tx *inmem.Tx) error {
				n, err := tx.Events().Len()
				if err != nil {
					return err
				}
				c, err := tx.State().Get("counter")
				if err != nil {
					return err
				}
				if string(c.Value) != strconv.FormatUint(n, 10) {
					return fmt.Errorf("snapshot: %d events but counter %q", n, c.Value)
				}
				return nil
			})
			if err != nil {
				fail(err)
				return
			}
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				payload := []byte(fmt.Sprintf("w%d/%d", w, i))
				err := r.Update(func(tx *inmem.Tx) error {
					if _, err := tx.Events().Append("tick", payload); err != nil {
						return err
					}
					st := tx.State()
					if w%2 == 0 {
						_, err := st.Transition("counter", func(cur inmem.Cell) ([]byte, error) { return inc(cur.Value) })
						return err
					}
					cur, err := st.Get("counter")
					if err != nil {
						return err
					}
					next, err := inc(cur.Value)
					if err != nil {
						return err
					}
					_, err = st.CAS("counter", cur.Version, next)
					return err
				})
				if err != nil {
					fail(fmt.Errorf("worker %d update %d: %w", w, i, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	readers.Wait()
	require.Empty(t, errs)

	const n = workers * perWorker
	ln, err := r.Events().Len()
	require.NoError(t, err)
	require.Equal(t, uint64(n), ln)
	es, err := r.Events().Range(0, ln+10)
	require.NoError(t, err)
	require.Len(t, es, n)
	seen := make(map[string]bool, n)
	for i, e := range es {
		require.Equal(t, uint64(i), e.Seq)
		if i > 0 {
			require.Equal(t, es[i-1].Hash, e.PrevHash, "seq %d", i)
		}
		require.False(t, seen[string(e.Payload)], "payload %q twice", e.Payload)
		seen[string(e.Payload)] = true
	}
	c, err := r.State().Get("counter")
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(n), string(c.Value))
	require.Equal(t, uint64(n+1), c.Version)
	rep, err := r.Events().Verify()
	require.NoError(t, err)
	require.True(t, rep.OK, rep.Reason)
	require.Equal(t, uint64(n), rep.Len)
	require.Equal(t, n+1, primSteps(t, r)) // the Init and every Update
}

// ---- 3. tenant isolation across primitives ----

type primModelEvent struct{ typ, payload string }

type primModelCell struct {
	value   string
	version uint64
}

type primModelSpan struct {
	id     inmem.SpanID
	parent inmem.SpanID
	kind   inmem.SpanKind
	name   string
	tags   []string
	attrs  map[string]string
}

type primScope struct {
	name   string
	ns     inmem.Namespace
	run    *inmem.Run // nil for the shared scope
	kv     map[string]string
	events []primModelEvent
	cells  map[string]primModelCell
	spans  []primModelSpan
}

func (s *primScope) handle(t *testing.T, db *inmem.DB) *inmem.Run {
	t.Helper()
	if s.run == nil {
		return db.Shared(s.ns)
	}
	r, err := db.Run(s.run.ID())
	require.NoError(t, err)
	return r
}

func (s *primScope) check(t *testing.T, db *inmem.DB, at int) {
	t.Helper()
	h := s.handle(t, db)
	where := fmt.Sprintf("%s after op %d", s.name, at)

	n, err := h.Events().Len()
	require.NoError(t, err)
	require.Equal(t, uint64(len(s.events)), n, where)
	es, err := h.Events().Range(0, n+3)
	require.NoError(t, err)
	var gotEv []primModelEvent
	for i, e := range es {
		require.Equal(t, uint64(i), e.Seq, where)
		gotEv = append(gotEv, primModelEvent{e.Type, string(e.Payload)})
	}
	require.Equal(t, s.events, gotEv, where)
	rep, err := h.Events().Verify()
	require.NoError(t, err)
	require.True(t, rep.OK, "%s: %s", where, rep.Reason)

	cells, err := h.State().List()
	require.NoError(t, err)
	gotCells := make(map[string]primModelCell, len(cells))
	for _, c := range cells {
		gotCells[c.Name] = primModelCell{string(c.Value), c.Version}
	}
	require.Equal(t, s.cells, gotCells, where)

	spans, err := h.Traces().Query(inmem.SpanQuery{})
	require.NoError(t, err)
	var gotSpans []primModelSpan
	for _, sp := range spans {
		gotSpans = append(gotSpans, primModelSpan{sp.ID, sp.Parent, sp.Kind, sp.Name, sp.Tags, sp.Attrs})
	}
	require.Equal(t, s.spans, gotSpans, where)

	ents, err := h.KV().List("")
	require.NoError(t, err)
	gotKV := make(map[string]string, len(ents))
	for _, e := range ents {
		gotKV[e.Key] = string(e.Value)
	}
	require.Equal(t, s.kv, gotKV, where)
}

func TestPrimitivesTenantIsolationRandomized(t *testing.T) {
	db := memDB(t, inmem.WithClock(primTickClock()))
	// Same App and Agent: only the Tenant tells the namespaces apart.
	nss := []inmem.Namespace{{Tenant: "acme", App: "support", Agent: "triage"}, {Tenant: "globex", App: "support", Agent: "triage"}}
	var scopes []*primScope
	for i, ns := range nss {
		scopes = append(scopes, &primScope{name: fmt.Sprintf("ns%d/shared", i), ns: ns})
		for j := range 3 {
			r := freshRun(t, db, inmem.InNamespace(ns))
			scopes = append(scopes, &primScope{name: fmt.Sprintf("ns%d/run%d", i, j), ns: ns, run: r})
		}
	}
	for _, s := range scopes {
		s.kv, s.cells = map[string]string{}, map[string]primModelCell{}
	}

	// Every scope uses the same keys, cell names, event types and span
	// names; values name the scope and op, so a leak is recognisable.
	keys := []string{"a", "b", "mem/x", "mem/y"}
	cellNames := []string{"plan", "phase", "budget"}
	types := []string{"user", "tool", "assistant"}
	kinds := []inmem.SpanKind{inmem.LLMCall, inmem.ToolCall, inmem.Retrieval, inmem.Decision, inmem.Thought}
	tags := []string{"hot", "cold", "retry"}

	seed := uint64(20250304)
	rng := rand.New(rand.NewPCG(seed, 11))
	t.Logf("seed %d", seed)
	const ops, checkEvery = 2000, 100

	newSpan := func(s *primScope, op int) (inmem.Span, primModelSpan) {
		var parent inmem.SpanID
		if len(s.spans) > 0 && rng.IntN(3) > 0 {
			parent = s.spans[rng.IntN(len(s.spans))].id
		}
		sp := inmem.Span{
			Parent: parent,
			Kind:   kinds[rng.IntN(len(kinds))],
			Name:   []string{"plan", "search", "answer"}[rng.IntN(3)],
			Attrs:  map[string]string{"gen_ai.request.model": fmt.Sprintf("%s#%d", s.name, op)},
		}
		if rng.IntN(2) == 0 {
			sp.Tags = []string{tags[rng.IntN(len(tags))]}
		}
		m := primModelSpan{id: inmem.SpanID(len(s.spans) + 1), parent: sp.Parent, kind: sp.Kind, name: sp.Name,
			tags: slices.Clone(sp.Tags), attrs: maps.Clone(sp.Attrs)}
		return sp, m
	}

	for op := range ops {
		s := scopes[rng.IntN(len(scopes))]
		h := s.handle(t, db)
		val := fmt.Sprintf("%s#%d", s.name, op)
		key := keys[rng.IntN(len(keys))]
		cell := cellNames[rng.IntN(len(cellNames))]
		switch p := rng.IntN(100); {
		case p < 15:
			require.NoError(t, h.KV().Put(key, []byte(val)))
			s.kv[key] = val
		case p < 20:
			require.NoError(t, h.KV().Delete(key))
			delete(s.kv, key)
		case p < 35:
			typ := types[rng.IntN(len(types))]
			e, err := h.Events().Append(typ, []byte(val))
			require.NoError(t, err)
			require.Equal(t, uint64(len(s.events)), e.Seq, s.name)
			s.events = append(s.events, primModelEvent{typ, val})
		case p < 45:
			c, err := h.State().Set(cell, []byte(val))
			require.NoError(t, err)
			s.cells[cell] = primModelCell{val, s.cells[cell].version + 1}
			require.Equal(t, s.cells[cell].version, c.Version, s.name)
		case p < 50:
			_, err := h.State().Init(cell, []byte(val))
			if _, ok := s.cells[cell]; ok {
				require.ErrorIs(t, err, inmem.ErrExists, s.name)
			} else {
				require.NoError(t, err)
				s.cells[cell] = primModelCell{val, 1}
			}
		case p < 60:
			cur, ok := s.cells[cell]
			version := cur.version
			if rng.IntN(4) == 0 {
				version += 1 + uint64(rng.IntN(3)) // stale or future: must not apply
			}
			_, err := h.State().CAS(cell, version, []byte(val))
			switch {
			case !ok:
				require.ErrorIs(t, err, inmem.ErrNotFound, s.name)
			case version != cur.version:
				require.ErrorIs(t, err, inmem.ErrVersionMismatch, s.name)
			default:
				require.NoError(t, err)
				s.cells[cell] = primModelCell{val, cur.version + 1}
			}
		case p < 63:
			require.NoError(t, h.State().Delete(cell))
			delete(s.cells, cell)
		case p < 78:
			sp, m := newSpan(s, op)
			id, err := h.Traces().Record(sp)
			require.NoError(t, err)
			require.Equal(t, m.id, id, s.name)
			s.spans = append(s.spans, m)
		case p < 82:
			// A parent that exists in some other scope but not in this one.
			missing := inmem.SpanID(len(s.spans) + 1 + rng.IntN(5))
			_, err := h.Traces().Record(inmem.Span{Parent: missing, Kind: inmem.Thought, Name: "orphan"})
			require.ErrorIs(t, err, inmem.ErrNotFound, s.name)
		default:
			// All four primitives in one transaction, sometimes aborted.
			typ := types[rng.IntN(len(types))]
			sp, m := newSpan(s, op)
			abort := rng.IntN(4) == 0
			err := h.Update(func(tx *inmem.Tx) error {
				if _, err := tx.Events().Append(typ, []byte(val)); err != nil {
					return err
				}
				if err := tx.KV().Put(key, []byte(val)); err != nil {
					return err
				}
				if _, err := tx.State().Set(cell, []byte(val)); err != nil {
					return err
				}
				if _, err := tx.Traces().Record(sp); err != nil {
					return err
				}
				if abort {
					return errPrimAbort
				}
				return nil
			})
			if abort {
				require.ErrorIs(t, err, errPrimAbort)
				break
			}
			require.NoError(t, err)
			s.events = append(s.events, primModelEvent{typ, val})
			s.kv[key] = val
			s.cells[cell] = primModelCell{val, s.cells[cell].version + 1}
			s.spans = append(s.spans, m)
		}
		if op%checkEvery == checkEvery-1 {
			for _, s := range scopes {
				s.check(t, db, op)
			}
		}
	}

	// Narrower reads must not reach across scopes either.
	for _, s := range scopes {
		h := s.handle(t, db)
		for _, typ := range types {
			es, err := h.Events().ByType(typ)
			require.NoError(t, err)
			var want []string
			for _, e := range s.events {
				if e.typ == typ {
					want = append(want, e.payload)
				}
			}
			var got []string
			for _, e := range es {
				got = append(got, string(e.Payload))
			}
			require.Equal(t, want, got, "%s ByType(%q)", s.name, typ)
		}
		for _, tag := range tags {
			ss, err := h.Traces().Query(inmem.SpanQuery{Tag: tag})
			require.NoError(t, err)
			var want, got []inmem.SpanID
			for _, m := range s.spans {
				if slices.Contains(m.tags, tag) {
					want = append(want, m.id)
				}
			}
			for _, sp := range ss {
				got = append(got, sp.ID)
			}
			require.Equal(t, want, got, "%s Query(Tag %q)", s.name, tag)
		}
		ents, err := h.KV().List("mem/")
		require.NoError(t, err)
		for _, e := range ents {
			require.True(t, strings.HasPrefix(string(e.Value), s.name+"#"), "%s lists %q=%q", s.name, e.Key, e.Value)
		}
	}
}

// ---- 4. bad input changes nothing ----

// primSeed gives a run something in every primitive.
func primSeed(t testing.TB, r *inmem.Run) {
	t.Helper()
	_, err := r.Events().Append("user", []byte("hi"))
	require.NoError(t, err)
	_, err = r.State().Init("counter", []byte("0"))
	require.NoError(t, err)
	require.NoError(t, r.State().Define("phase", inmem.Machine{Initial: "idle", Allow: map[string][]string{"idle": {"busy"}}}))
	_, err = r.Traces().Record(inmem.Span{Kind: inmem.LLMCall, Name: "plan", Tags: []string{"t"}})
	require.NoError(t, err)
	require.NoError(t, r.KV().Put("k", []byte("v")))
}

// primWrites is one write per primitive method, each through r or tx.
func primWrites(ev *inmem.Events, st *inmem.State, tr *inmem.Traces, kv *inmem.KV) map[string]func() error {
	return map[string]func() error{
		"Events.Append": func() error { _, err := ev.Append("user", []byte("x")); return err },
		"State.Init":    func() error { _, err := st.Init("new", []byte("x")); return err },
		"State.Set":     func() error { _, err := st.Set("counter", []byte("x")); return err },
		"State.CAS":     func() error { _, err := st.CAS("counter", 1, []byte("x")); return err },
		"State.Transition": func() error {
			_, err := st.Transition("counter", func(inmem.Cell) ([]byte, error) { return []byte("x"), nil })
			return err
		},
		"State.Define": func() error { return st.Define("m2", inmem.Machine{Initial: "a"}) },
		"State.Delete": func() error { return st.Delete("counter") },
		"Traces.Record": func() error {
			_, err := tr.Record(inmem.Span{Kind: inmem.Thought, Name: "x"})
			return err
		},
		"KV.Put":    func() error { return kv.Put("k", []byte("x")) },
		"KV.PutTTL": func() error { return kv.PutTTL("k", []byte("x"), time.Hour) },
		"KV.Delete": func() error { return kv.Delete("k") },
	}
}

func TestPrimitivesUnknownParentSpan(t *testing.T) {
	db := memDB(t)
	other := freshRun(t, db)
	for range 3 {
		_, err := other.Traces().Record(inmem.Span{Kind: inmem.LLMCall, Name: "other-root"})
		require.NoError(t, err)
	}
	r := freshRun(t, db)
	primSeed(t, r)
	before := primRead(t, r)

	_, err := r.Traces().Record(inmem.Span{Parent: 99, Kind: inmem.ToolCall, Name: "x"})
	require.ErrorIs(t, err, inmem.ErrNotFound)
	// Inside a transaction the failure takes the transaction's other writes
	// with it.
	err = r.Update(func(tx *inmem.Tx) error {
		if _, err := tx.Events().Append("user", []byte("x")); err != nil {
			return err
		}
		// Span 2 exists, but in another run.
		_, err := tx.Traces().Record(inmem.Span{Parent: 2, Kind: inmem.ToolCall, Name: "x"})
		return err
	})
	require.ErrorIs(t, err, inmem.ErrNotFound)
	_, err = r.Traces().Children(99)
	require.ErrorIs(t, err, inmem.ErrNotFound)
	_, err = r.Traces().Tree(99)
	require.ErrorIs(t, err, inmem.ErrNotFound)
	require.Equal(t, before, primRead(t, r))
}

func TestPrimitivesEndedRunRefusesWrites(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	primSeed(t, r)
	early, err := r.Begin(true) // begun before End, committed after
	require.NoError(t, err)
	defer early.Discard()
	_, err = early.Events().Append("late", nil)
	require.NoError(t, err)
	require.NoError(t, early.KV().Put("late", []byte("x")))

	require.NoError(t, r.End(inmem.Completed, ""))
	before := primRead(t, r)
	steps := primSteps(t, r)

	for name, write := range primWrites(r.Events(), r.State(), r.Traces(), r.KV()) {
		require.ErrorIs(t, write(), inmem.ErrRunEnded, name)
	}
	// A fresh handle to the same run refuses too.
	h, err := db.Run(r.ID())
	require.NoError(t, err)
	for name, write := range primWrites(h.Events(), h.State(), h.Traces(), h.KV()) {
		require.ErrorIs(t, write(), inmem.ErrRunEnded, "fresh handle: "+name)
	}
	called := false
	err = r.Update(func(tx *inmem.Tx) error { called = true; return nil })
	require.ErrorIs(t, err, inmem.ErrRunEnded)
	require.False(t, called)
	_, err = r.Begin(true)
	require.ErrorIs(t, err, inmem.ErrRunEnded)
	require.ErrorIs(t, early.Commit(), inmem.ErrRunEnded)

	// Reads still work and see nothing new.
	require.NoError(t, r.View(func(tx *inmem.Tx) error {
		n, err := tx.Events().Len()
		require.NoError(t, err)
		require.Equal(t, uint64(1), n)
		return nil
	}))
	require.Equal(t, before, primRead(t, r))
	require.Equal(t, steps, primSteps(t, r))
	require.ErrorIs(t, r.End(inmem.Failed, "again"), inmem.ErrRunEnded)
}

func TestPrimitivesRefusedTransitionUndoesTransaction(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	primSeed(t, r)
	before := primRead(t, r)
	err := r.Update(func(tx *inmem.Tx) error {
		if _, err := tx.Events().Append("user", []byte("x")); err != nil {
			return err
		}
		if err := tx.KV().Put("k", []byte("x")); err != nil {
			return err
		}
		_, err := tx.State().Set("phase", []byte("done")) // idle -> done is not declared
		return err
	})
	require.ErrorIs(t, err, inmem.ErrInvalidTransition)
	require.Equal(t, before, primRead(t, r))
}

func TestPrimitivesEmptyNamesInvalid(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	primSeed(t, r)
	before := primRead(t, r)
	steps := primSteps(t, r)

	ev, st, tr, kv := r.Events(), r.State(), r.Traces(), r.KV()
	bad := map[string]func() error{
		"Events.Append": func() error { _, err := ev.Append("", []byte("x")); return err },
		"Events.ByType": func() error { _, err := ev.ByType(""); return err },
		"State.Init":    func() error { _, err := st.Init("", nil); return err },
		"State.Get":     func() error { _, err := st.Get(""); return err },
		"State.Set":     func() error { _, err := st.Set("", []byte("x")); return err },
		"State.CAS":     func() error { _, err := st.CAS("", 1, []byte("x")); return err },
		"State.Transition": func() error {
			_, err := st.Transition("", func(c inmem.Cell) ([]byte, error) { return c.Value, nil })
			return err
		},
		"State.Delete":         func() error { return st.Delete("") },
		"State.Define":         func() error { return st.Define("", inmem.Machine{Initial: "a"}) },
		"State.Define initial": func() error { return st.Define("m", inmem.Machine{Initial: ""}) },
		"State.Define state": func() error {
			return st.Define("m", inmem.Machine{Initial: "a", Allow: map[string][]string{"a": {""}}})
		},
		"Traces.Record name": func() error { _, err := tr.Record(inmem.Span{Kind: inmem.Thought}); return err },
		"Traces.Record kind": func() error { _, err := tr.Record(inmem.Span{Name: "x"}); return err },
		"Traces.Record tag": func() error {
			_, err := tr.Record(inmem.Span{Kind: inmem.Thought, Name: "x", Tags: []string{""}})
			return err
		},
		"Traces.Record attr": func() error {
			_, err := tr.Record(inmem.Span{Kind: inmem.Thought, Name: "x", Attrs: map[string]string{"": "v"}})
			return err
		},
		"Events.Range":         func() error { _, err := ev.Range(1, 0); return err },
		"State.Transition nil": func() error { _, err := st.Transition("counter", nil); return err },
		"Traces.Record end": func() error {
			now := time.Now()
			_, err := tr.Record(inmem.Span{Kind: inmem.Thought, Name: "x", Start: now, End: now.Add(-time.Second)})
			return err
		},
		"Traces.Record status": func() error {
			_, err := tr.Record(inmem.Span{Kind: inmem.Thought, Name: "x", Status: "weird"})
			return err
		},
		"Traces.Record kind 99": func() error { _, err := tr.Record(inmem.Span{Kind: 99, Name: "x"}); return err },
		"Traces.Query limit":    func() error { _, err := tr.Query(inmem.SpanQuery{Limit: -1}); return err },
		"KV.PutTTL":             func() error { return kv.PutTTL("k", []byte("x"), 0) },
		"KV.Put":                func() error { return kv.Put("", []byte("x")) },
		"KV.Get":                func() error { _, err := kv.Get(""); return err },
		"KV.Delete":             func() error { return kv.Delete("") },
		"Shared Events.Append":  func() error { _, err := db.Shared(inmem.Namespace{}).Events().Append("", nil); return err },
		"Shared Traces.Record": func() error {
			_, err := db.Shared(inmem.Namespace{}).Traces().Record(inmem.Span{Kind: inmem.Custom})
			return err
		},
		"Shared State.Set": func() error { _, err := db.Shared(inmem.Namespace{}).State().Set("", nil); return err },
		"Tx Events.Append": func() error {
			return r.Update(func(tx *inmem.Tx) error {
				if err := tx.KV().Put("k2", []byte("x")); err != nil {
					return err
				}
				_, err := tx.Events().Append("", nil)
				return err
			})
		},
	}
	for name, call := range bad {
		require.ErrorIs(t, call(), inmem.ErrInvalidArgument, name)
	}
	require.Equal(t, before, primRead(t, r))
	require.Equal(t, steps, primSteps(t, r))
	require.Equal(t, primDump{Chain: inmem.ChainReport{OK: true}}, primRead(t, db.Shared(inmem.Namespace{})))
}

func TestPrimitivesOversizedTooLarge(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	primSeed(t, r)
	before := primRead(t, r)
	steps := primSteps(t, r)

	big := make([]byte, 16<<20+1)
	longName := strings.Repeat("n", 64<<10+1)
	ev, st, tr, kv := r.Events(), r.State(), r.Traces(), r.KV()
	bad := map[string]func() error{
		"Events.Append payload": func() error { _, err := ev.Append("user", big); return err },
		"Events.Append type":    func() error { _, err := ev.Append(longName, nil); return err },
		"State.Init":            func() error { _, err := st.Init("big", big); return err },
		"State.Set":             func() error { _, err := st.Set("counter", big); return err },
		"State.CAS":             func() error { _, err := st.CAS("counter", 1, big); return err },
		"State.Transition": func() error {
			_, err := st.Transition("counter", func(inmem.Cell) ([]byte, error) { return big, nil })
			return err
		},
		"State.Set name":       func() error { _, err := st.Set(longName, nil); return err },
		"Traces.Record input":  func() error { _, err := tr.Record(inmem.Span{Kind: inmem.LLMCall, Name: "x", Input: big}); return err },
		"Traces.Record output": func() error { _, err := tr.Record(inmem.Span{Kind: inmem.LLMCall, Name: "x", Output: big}); return err },
		"Traces.Record attr": func() error {
			_, err := tr.Record(inmem.Span{Kind: inmem.LLMCall, Name: "x", Attrs: map[string]string{"gen_ai.prompt": string(big)}})
			return err
		},
		"Traces.Record attrs": func() error {
			attrs := make(map[string]string, 257)
			for i := range 257 {
				attrs[fmt.Sprintf("a%d", i)] = "v"
			}
			_, err := tr.Record(inmem.Span{Kind: inmem.LLMCall, Name: "x", Attrs: attrs})
			return err
		},
		"KV.Put":     func() error { return kv.Put("k", big) },
		"KV.Put key": func() error { return kv.Put(longName, nil) },
		"Tx Events.Append": func() error {
			return r.Update(func(tx *inmem.Tx) error {
				if _, err := tx.State().Set("counter", []byte("1")); err != nil {
					return err
				}
				_, err := tx.Events().Append("user", big)
				return err
			})
		},
	}
	for name, call := range bad {
		require.ErrorIs(t, call(), inmem.ErrTooLarge, name)
	}
	require.Equal(t, before, primRead(t, r))
	require.Equal(t, steps, primSteps(t, r))

	// The limit itself is allowed.
	atLimit := big[:16<<20]
	atLimit[len(atLimit)-1] = 1
	limit := freshRun(t, db)
	require.NoError(t, limit.KV().Put("k", atLimit))
	got, err := limit.KV().Get("k")
	require.NoError(t, err)
	require.Equal(t, atLimit, got)
}

func TestPrimitivesViewTxReadOnly(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	primSeed(t, r)
	before := primRead(t, r)
	steps := primSteps(t, r)

	require.NoError(t, r.View(func(tx *inmem.Tx) error {
		require.False(t, tx.Writable())
		for name, write := range primWrites(tx.Events(), tx.State(), tx.Traces(), tx.KV()) {
			require.ErrorIs(t, write(), inmem.ErrReadOnly, name)
		}
		// Reads through the same transaction still work.
		n, err := tx.Events().Len()
		require.NoError(t, err)
		require.Equal(t, uint64(1), n)
		return nil
	}))
	tx, err := r.Begin(false)
	require.NoError(t, err)
	for name, write := range primWrites(tx.Events(), tx.State(), tx.Traces(), tx.KV()) {
		require.ErrorIs(t, write(), inmem.ErrReadOnly, "Begin(false): "+name)
	}
	require.NoError(t, tx.Commit())
	require.Equal(t, before, primRead(t, r))
	require.Equal(t, steps, primSteps(t, r))
}

func TestPrimitivesUseAfterClose(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	r := freshRun(t, db)
	primSeed(t, r)
	ns := inmem.Namespace{Tenant: "acme"}
	sh := db.Shared(ns)
	_, err = sh.Events().Append("note", []byte("shared"))
	require.NoError(t, err)
	before, sharedBefore := primRead(t, r), primRead(t, sh)
	open, err := r.Begin(true)
	require.NoError(t, err)
	_, err = open.Events().Append("pending", nil)
	require.NoError(t, err)

	require.NoError(t, db.Close())

	for _, h := range []*inmem.Run{r, sh, db.Shared(ns)} {
		for name, write := range primWrites(h.Events(), h.State(), h.Traces(), h.KV()) {
			require.ErrorIs(t, write(), inmem.ErrClosed, name)
		}
		reads := map[string]func() error{
			"Events.Len":   func() error { _, err := h.Events().Len(); return err },
			"Events.Get":   func() error { _, err := h.Events().Get(0); return err },
			"Events.Range": func() error { _, err := h.Events().Range(0, 1); return err },
			"Events.Verify": func() error {
				_, err := h.Events().Verify()
				return err
			},
			"State.Get":    func() error { _, err := h.State().Get("counter"); return err },
			"State.List":   func() error { _, err := h.State().List(); return err },
			"Traces.Get":   func() error { _, err := h.Traces().Get(1); return err },
			"Traces.Query": func() error { _, err := h.Traces().Query(inmem.SpanQuery{}); return err },
			"KV.Get":       func() error { _, err := h.KV().Get("k"); return err },
			"KV.List":      func() error { _, err := h.KV().List(""); return err },
			"Update":       func() error { return h.Update(func(*inmem.Tx) error { return nil }) },
			"View":         func() error { return h.View(func(*inmem.Tx) error { return nil }) },
			"Begin":        func() error { _, err := h.Begin(false); return err },
		}
		for name, read := range reads {
			require.ErrorIs(t, read(), inmem.ErrClosed, name)
		}
	}
	_, err = open.Events().Append("more", nil)
	require.ErrorIs(t, err, inmem.ErrClosed)
	_, err = open.Events().Len()
	require.ErrorIs(t, err, inmem.ErrClosed)
	require.ErrorIs(t, open.Commit(), inmem.ErrClosed)
	_, err = db.BeginRun()
	require.ErrorIs(t, err, inmem.ErrClosed)
	_, err = db.Run(r.ID())
	require.ErrorIs(t, err, inmem.ErrClosed)
	require.ErrorIs(t, db.Checkpoint(), inmem.ErrClosed)
	require.ErrorIs(t, db.Close(), inmem.ErrClosed)

	// Nothing tried after Close reached the disk.
	db2, err := inmem.Open(dir)
	require.NoError(t, err)
	defer db2.Close()
	r2, err := db2.Run(r.ID())
	require.NoError(t, err)
	require.Equal(t, before, primRead(t, r2))
	require.Equal(t, sharedBefore, primRead(t, db2.Shared(ns)))
}

// ---- 5. RunInfo.Steps ----

func TestPrimitivesStepsCountWritingCommits(t *testing.T) {
	db := memDB(t)
	r := freshRun(t, db)
	other := freshRun(t, db)
	require.Equal(t, 0, primSteps(t, r))
	_, err := r.State().Init("counter", []byte("0"))
	require.NoError(t, err)
	require.Equal(t, 1, primSteps(t, r))

	four := func(tx *inmem.Tx) error {
		if _, err := tx.Events().Append("user", []byte("x")); err != nil {
			return err
		}
		if err := tx.KV().Put("k", []byte("x")); err != nil {
			return err
		}
		if _, err := tx.State().Transition("counter", func(c inmem.Cell) ([]byte, error) { return append(c.Value, '+'), nil }); err != nil {
			return err
		}
		_, err := tx.Traces().Record(inmem.Span{Kind: inmem.ToolCall, Name: "x"})
		return err
	}
	require.NoError(t, r.Update(four))
	require.Equal(t, 2, primSteps(t, r), "an Update touching four primitives is one step")

	require.NoError(t, r.View(func(tx *inmem.Tx) error {
		_, err := tx.Events().Len()
		return err
	}))
	require.Equal(t, 2, primSteps(t, r), "a View is not a step")

	require.NoError(t, r.Update(func(tx *inmem.Tx) error {
		_, err := tx.State().Get("counter")
		return err
	}))
	require.Equal(t, 2, primSteps(t, r), "an Update that wrote nothing is not a step")

	err = r.Update(func(tx *inmem.Tx) error {
		if err := four(tx); err != nil {
			return err
		}
		return errPrimAbort
	})
	require.ErrorIs(t, err, errPrimAbort)
	require.Equal(t, 2, primSteps(t, r), "an aborted Update is not a step")

	_, err = r.Events().Append("", nil)
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	require.Equal(t, 2, primSteps(t, r), "a refused write is not a step")

	// A conflicting attempt inside Update retries; only the commit counts.
	attempts := 0
	require.NoError(t, r.Update(func(tx *inmem.Tx) error {
		attempts++
		if _, err := tx.Events().Len(); err != nil {
			return err
		}
		if attempts == 1 {
			if _, err := r.Events().Append("interloper", nil); err != nil {
				return err
			}
		}
		_, err := tx.Events().Append("user", nil)
		return err
	}))
	require.Equal(t, 2, attempts)
	require.Equal(t, 4, primSteps(t, r), "the interloper and the retried Update")

	tx1, err := r.Begin(true)
	require.NoError(t, err)
	tx2, err := r.Begin(true)
	require.NoError(t, err)
	for _, tx := range []*inmem.Tx{tx1, tx2} {
		_, err := tx.Events().Append("race", nil)
		require.NoError(t, err)
	}
	require.NoError(t, tx1.Commit())
	require.ErrorIs(t, tx2.Commit(), inmem.ErrConflict)
	require.Equal(t, 5, primSteps(t, r), "a conflict loser is not a step")

	require.NoError(t, r.KV().Put("solo", nil))
	require.Equal(t, 6, primSteps(t, r), "a one-operation write is a step")

	_, err = other.State().Init("counter", nil)
	require.NoError(t, err)
	require.NoError(t, other.Update(four))
	require.Equal(t, 6, primSteps(t, r), "another run's commits are not this run's steps")
	require.Equal(t, 2, primSteps(t, other))

	require.NoError(t, r.End(inmem.Completed, ""))
	require.Equal(t, 6, primSteps(t, r), "End is not a step")
}
