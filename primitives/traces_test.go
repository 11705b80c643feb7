package primitives

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func spanKey(id SpanID) string { return string(key(spanEntry, be64(uint64(id)))) }

func record(t *testing.T, m *memTxn, s Span) SpanID {
	t.Helper()
	id, err := RecordSpan(m, s)
	require.NoError(t, err)
	return id
}

// requireSpan compares every field; times by instant, since a decoded
// time need not carry the writer's location.
func requireSpan(t *testing.T, want, got Span) {
	t.Helper()
	require.True(t, want.Start.Equal(got.Start), "Start %v, want %v", got.Start, want.Start)
	require.True(t, want.End.Equal(got.End), "End %v, want %v", got.End, want.End)
	want.Start, want.End, got.Start, got.End = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	require.Equal(t, want, got)
}

func ids(spans []Span) []SpanID {
	out := []SpanID{}
	for _, s := range spans {
		out = append(out, s.ID)
	}
	return out
}

func TestSpanKindString(t *testing.T) {
	want := []string{"unset", "llm_call", "tool_call", "retrieval", "decision", "thought", "error", "custom"}
	for k, name := range want {
		require.Equal(t, name, SpanKind(k).String())
	}
	require.Equal(t, "SpanKind(8)", SpanKind(8).String())
	require.Equal(t, "SpanKind(99)", SpanKind(99).String())
}

// IDs come from a counter in the store, and only successful records
// advance it.
func TestRecordSpanIDs(t *testing.T) {
	m := newMemTxn()
	for want := SpanID(1); want <= 3; want++ {
		require.Equal(t, want, record(t, m, Span{Kind: Thought, Name: "s"}))
	}
	_, err := RecordSpan(m, Span{Kind: Thought})
	require.ErrorIs(t, err, ErrInvalidArgument)
	_, err = RecordSpan(m, Span{Kind: Thought, Name: "s", Parent: 42})
	require.ErrorIs(t, err, ErrNotFound)
	require.Equal(t, SpanID(4), record(t, m, Span{Kind: Thought, Name: "s"}))

	m.data[string([]byte{spanNext})] = []byte{1, 2, 3}
	snap, w := m.snapshot(), m.writes
	_, err = RecordSpan(m, Span{Kind: Thought, Name: "s"})
	require.ErrorIs(t, err, ErrCorruption)
	m.requireUnchanged(t, snap, w)
}

func TestRecordSpanParent(t *testing.T) {
	m := newMemTxn()
	snap, w := m.snapshot(), m.writes
	_, err := RecordSpan(m, Span{Kind: LLMCall, Name: "x", Parent: 1})
	require.ErrorIs(t, err, ErrNotFound, "a span cannot be its own parent")
	m.requireUnchanged(t, snap, w)

	root := record(t, m, Span{Kind: LLMCall, Name: "root"})
	child := record(t, m, Span{Kind: ToolCall, Name: "child", Parent: root})
	require.Equal(t, SpanID(2), child)
	record(t, m, Span{Kind: ToolCall, Name: "grandchild", Parent: child})

	snap, w = m.snapshot(), m.writes
	_, err = RecordSpan(m, Span{Kind: LLMCall, Name: "x", Parent: 4})
	require.ErrorIs(t, err, ErrNotFound)
	_, err = RecordSpan(m, Span{Kind: LLMCall, Name: "x", Parent: 1000})
	require.ErrorIs(t, err, ErrNotFound)
	m.requireUnchanged(t, snap, w)
}

func TestRecordSpanBadInput(t *testing.T) {
	m := newMemTxn()
	record(t, m, Span{Kind: Custom, Name: "ok"})
	long := strings.Repeat("n", MaxName+1)
	big := make([]byte, MaxPayload+1)
	// Shares big's memory: copying 16 MiB is slow under the race detector.
	bigString := unsafe.String(&big[0], len(big))
	manyAttrs := map[string]string{}
	var manyTags []string
	for i := range MaxAttrs + 1 {
		manyAttrs[fmt.Sprint("a", i)] = "v"
		manyTags = append(manyTags, fmt.Sprint("t", i))
	}
	maxAttrs := maps.Clone(manyAttrs)
	delete(maxAttrs, "a0")
	start := testEpoch.Add(-time.Hour)

	for _, tc := range []struct {
		name string
		span Span
		want error
	}{
		{"kind 0", Span{Name: "x"}, ErrInvalidArgument},
		{"kind 99", Span{Kind: 99, Name: "x"}, ErrInvalidArgument},
		{"kind past Custom", Span{Kind: Custom + 1, Name: "x"}, ErrInvalidArgument},
		{"empty name", Span{Kind: LLMCall}, ErrInvalidArgument},
		{"long name", Span{Kind: LLMCall, Name: long}, ErrTooLarge},
		{"end before start", Span{Kind: LLMCall, Name: "x", Start: start, End: start.Add(-time.Nanosecond)}, ErrInvalidArgument},
		{"unknown status", Span{Kind: LLMCall, Name: "x", Status: "bogus"}, ErrInvalidArgument},
		{"status in the wrong case", Span{Kind: LLMCall, Name: "x", Status: "OK"}, ErrInvalidArgument},
		{"big input", Span{Kind: LLMCall, Name: "x", Input: big}, ErrTooLarge},
		{"big output", Span{Kind: LLMCall, Name: "x", Output: big}, ErrTooLarge},
		{"too many attrs", Span{Kind: LLMCall, Name: "x", Attrs: manyAttrs}, ErrTooLarge},
		{"too many tags", Span{Kind: LLMCall, Name: "x", Tags: manyTags}, ErrTooLarge},
		{"empty attr name", Span{Kind: LLMCall, Name: "x", Attrs: map[string]string{"": "v"}}, ErrInvalidArgument},
		{"long attr name", Span{Kind: LLMCall, Name: "x", Attrs: map[string]string{long: "v"}}, ErrTooLarge},
		{"big attr value", Span{Kind: LLMCall, Name: "x", Attrs: map[string]string{"k": bigString}}, ErrTooLarge},
		{"empty tag", Span{Kind: LLMCall, Name: "x", Tags: []string{"a", ""}}, ErrInvalidArgument},
		{"long tag", Span{Kind: LLMCall, Name: "x", Tags: []string{long}}, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap, w := m.snapshot(), m.writes
			_, err := RecordSpan(m, tc.span)
			require.ErrorIs(t, err, tc.want)
			m.requireUnchanged(t, snap, w)
		})
	}

	// Boundaries that are allowed.
	for _, s := range []Span{
		{Kind: LLMCall, Name: strings.Repeat("n", MaxName)},
		{Kind: LLMCall, Name: "x", Start: start, End: start},
		{Kind: LLMCall, Name: "x", End: testEpoch.Add(time.Hour)},
		{Kind: LLMCall, Name: "x", Status: StatusError, Attrs: map[string]string{"k": ""}},
		{Kind: LLMCall, Name: "x", Attrs: maxAttrs, Tags: manyTags[:MaxAttrs]},
	} {
		_, err := RecordSpan(m, s)
		require.NoError(t, err)
	}

	m.readOnly = true
	snap, w := m.snapshot(), m.writes
	_, err := RecordSpan(m, Span{Kind: LLMCall, Name: "x"})
	require.ErrorIs(t, err, ErrReadOnly)
	m.requireUnchanged(t, snap, w)
}

// A span without a Start starts at the record time, so an End before the
// record time must be rejected just like an End before an explicit Start.
func TestRecordSpanEndBeforeDefaultStart(t *testing.T) {
	m := newMemTxn()
	snap, w := m.snapshot(), m.writes
	_, err := RecordSpan(m, Span{Kind: LLMCall, Name: "x", End: m.now.Add(-time.Nanosecond)})
	require.ErrorIs(t, err, ErrInvalidArgument)
	m.requireUnchanged(t, snap, w)

	id := record(t, m, Span{Kind: LLMCall, Name: "x", End: m.now})
	s, err := GetSpan(m, id)
	require.NoError(t, err)
	require.True(t, s.Start.Equal(m.now) && s.End.Equal(m.now))
}

func TestGetSpanRoundTrip(t *testing.T) {
	m := newMemTxn()
	root := record(t, m, Span{Kind: Decision, Name: "plan"})
	full := Span{
		Parent: root,
		Kind:   LLMCall,
		Name:   "chat gpt-4o",
		Start:  time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 7200)),
		End:    time.Date(2025, 1, 2, 3, 4, 9, 999999999, time.UTC),
		Status: StatusOK,
		Input:  []byte(`{"messages":[{"role":"user","content":"hi"}]}`),
		Output: []byte{0, 1, 2, 0xff},
		Attrs: map[string]string{
			"gen_ai.request.model":       "gpt-4o",
			"gen_ai.usage.input_tokens":  "12",
			"gen_ai.usage.output_tokens": "34",
			"gen_ai.operation.name":      "chat",
			"empty":                      "",
		},
		Tags: []string{"prod", "eval", "a"},
	}
	id := record(t, m, full)
	full.ID = id
	got, err := GetSpan(m, id)
	require.NoError(t, err)
	requireSpan(t, full, got)

	// Zero and empty fields read back as zero, and Start defaults to the
	// record time.
	m.advance(time.Minute)
	id = record(t, m, Span{Kind: ToolCall, Name: "t", Input: []byte{}, Attrs: map[string]string{}, Tags: []string{}})
	got, err = GetSpan(m, id)
	require.NoError(t, err)
	requireSpan(t, Span{ID: id, Kind: ToolCall, Name: "t", Start: m.now}, got)

	// Before 1970 the start is negative nanoseconds.
	old := Span{Kind: Error, Name: "old", Status: StatusError, Start: time.Date(1969, 12, 31, 23, 59, 59, 1, time.UTC)}
	old.ID = record(t, m, old)
	got, err = GetSpan(m, old.ID)
	require.NoError(t, err)
	requireSpan(t, old, got)

	_, err = GetSpan(m, 999)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = GetSpan(m, 0)
	require.ErrorIs(t, err, ErrNotFound)
}

// Mutating what was handed in or handed out must not reach the store.
func TestSpanSlicesAreCopies(t *testing.T) {
	m := newMemTxn()
	in := []byte("input")
	tags := []string{"t"}
	attrs := map[string]string{"k": "v"}
	id := record(t, m, Span{Kind: Retrieval, Name: "r", Input: in, Output: []byte("out"), Tags: tags, Attrs: attrs})
	copy(in, "XXXXX")
	tags[0] = "changed"
	attrs["k"] = "changed"

	got, err := GetSpan(m, id)
	require.NoError(t, err)
	require.Equal(t, "input", string(got.Input))
	require.Equal(t, []string{"t"}, got.Tags)
	require.Equal(t, map[string]string{"k": "v"}, got.Attrs)
	got.Input[0] = 'Z'
	got.Output[0] = 'Z'

	q, err := QuerySpans(m, SpanQuery{Tag: "t"})
	require.NoError(t, err)
	require.Len(t, q, 1)
	require.Equal(t, "input", string(q[0].Input))
	require.Equal(t, "out", string(q[0].Output))
}

func TestSpanChildren(t *testing.T) {
	m := newMemTxn()
	root := record(t, m, Span{Kind: Decision, Name: "root", Start: testEpoch})
	other := record(t, m, Span{Kind: Decision, Name: "other", Start: testEpoch})
	// Recorded in an order unlike their starts; 3 and 5 start together, so
	// the ID breaks the tie.
	a := record(t, m, Span{Kind: LLMCall, Name: "a", Parent: root, Start: testEpoch.Add(3 * time.Second)})
	b := record(t, m, Span{Kind: LLMCall, Name: "b", Parent: root, Start: testEpoch.Add(time.Second)})
	c := record(t, m, Span{Kind: LLMCall, Name: "c", Parent: root, Start: testEpoch.Add(2 * time.Second)})
	d := record(t, m, Span{Kind: LLMCall, Name: "d", Parent: root, Start: testEpoch.Add(time.Second)})
	e := record(t, m, Span{Kind: LLMCall, Name: "e", Parent: root, Start: testEpoch.Add(-time.Second)})
	record(t, m, Span{Kind: ToolCall, Name: "grandchild", Parent: a})
	record(t, m, Span{Kind: ToolCall, Name: "other's", Parent: other})

	kids, err := SpanChildren(m, root)
	require.NoError(t, err)
	require.Equal(t, []SpanID{e, b, d, c, a}, ids(kids))
	require.Equal(t, "e", kids[0].Name)

	kids, err = SpanChildren(m, b)
	require.NoError(t, err)
	require.Empty(t, kids)

	_, err = SpanChildren(m, 999)
	require.ErrorIs(t, err, ErrNotFound)
}

// shape renders a tree as "id(child,child)" so structure and order are
// compared in one go.
func shape(tr SpanTree) string {
	var b strings.Builder
	fmt.Fprint(&b, tr.Span.ID)
	if len(tr.Children) > 0 {
		b.WriteByte('(')
		for i, c := range tr.Children {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(shape(c))
		}
		b.WriteByte(')')
	}
	return b.String()
}

func TestSpanTree(t *testing.T) {
	m := newMemTxn()
	at := func(s int) time.Time { return testEpoch.Add(time.Duration(s) * time.Second) }
	r := record(t, m, Span{Kind: Decision, Name: "run", Start: at(0)})                  // 1
	c1 := record(t, m, Span{Kind: LLMCall, Name: "c1", Parent: r, Start: at(5)})        // 2
	c2 := record(t, m, Span{Kind: ToolCall, Name: "c2", Parent: r, Start: at(1)})       // 3
	g1 := record(t, m, Span{Kind: Retrieval, Name: "g1", Parent: c2, Start: at(3)})     // 4
	record(t, m, Span{Kind: Thought, Name: "g2", Parent: c2, Start: at(2)})             // 5
	record(t, m, Span{Kind: Custom, Name: "gg", Parent: g1, Start: at(4)})              // 6
	record(t, m, Span{Kind: Decision, Name: "unrelated", Start: at(0)})                 // 7
	record(t, m, Span{Kind: Error, Name: "g3", Parent: c1, Start: at(6)})               // 8
	record(t, m, Span{Kind: Thought, Name: "unrelated child", Parent: 7, Start: at(1)}) // 9

	tr, err := SpanTreeOf(m, r)
	require.NoError(t, err)
	require.Equal(t, "1(3(5,4(6)),2(8))", shape(tr))
	require.Equal(t, "run", tr.Span.Name)
	require.Equal(t, "gg", tr.Children[0].Children[1].Children[0].Span.Name)

	tr, err = SpanTreeOf(m, c2)
	require.NoError(t, err)
	require.Equal(t, "3(5,4(6))", shape(tr))
	tr, err = SpanTreeOf(m, 6)
	require.NoError(t, err)
	require.Equal(t, "6", shape(tr))

	_, err = SpanTreeOf(m, 100)
	require.ErrorIs(t, err, ErrNotFound)
}

// Record cannot make a cycle, but damaged data can; the tree must report
// it instead of recursing forever.
func TestSpanTreeCycle(t *testing.T) {
	m := newMemTxn()
	a := record(t, m, Span{Kind: Decision, Name: "a", Start: testEpoch})
	b := record(t, m, Span{Kind: Decision, Name: "b", Parent: a, Start: testEpoch})
	// Make a a child of b as well, in its value and in the parent index.
	sa, err := GetSpan(m, a)
	require.NoError(t, err)
	sa.Parent = b
	m.data[spanKey(a)] = encodeSpan(&sa)
	require.NoError(t, m.Put(key(spanParent, be64(uint64(b)), startKey(testEpoch), be64(uint64(a))), []byte{}))

	_, err = SpanTreeOf(m, a)
	require.ErrorIs(t, err, ErrCorruption)
	_, err = SpanTreeOf(m, b)
	require.ErrorIs(t, err, ErrCorruption)

	// A span listed as its own child is caught at once, not 10,000
	// levels down.
	c := record(t, m, Span{Kind: Decision, Name: "c", Start: testEpoch})
	sc, err := GetSpan(m, c)
	require.NoError(t, err)
	sc.Parent = c
	m.data[spanKey(c)] = encodeSpan(&sc)
	require.NoError(t, m.Put(key(spanParent, be64(uint64(c)), startKey(testEpoch), be64(uint64(c))), []byte{}))
	_, err = SpanTreeOf(m, c)
	require.ErrorIs(t, err, ErrCorruption)
	require.ErrorContains(t, err, fmt.Sprintf("child %d is older than its parent", c))
}

// TestSpanTreeDepthLimit: a chain of spans as deep as maxTreeDepth is a
// tree; one level more is refused as damage (Record cannot make one that
// deep by accident: it takes maxTreeDepth nested calls).
func TestSpanTreeDepthLimit(t *testing.T) {
	m := newMemTxn()
	root := record(t, m, Span{Kind: Decision, Name: "root", Start: testEpoch})
	parent := root
	for range maxTreeDepth {
		parent = record(t, m, Span{Kind: Thought, Name: "n", Parent: parent, Start: testEpoch})
	}
	tree, err := SpanTreeOf(m, root)
	require.NoError(t, err)
	depth := 0
	for n := &tree; len(n.Children) > 0; n = &n.Children[0] {
		depth++
	}
	require.Equal(t, maxTreeDepth, depth)
	record(t, m, Span{Kind: Thought, Name: "n", Parent: parent, Start: testEpoch})
	_, err = SpanTreeOf(m, root)
	require.ErrorIs(t, err, ErrCorruption)
}

// TestSpanWithMaxAttrs: a span with exactly MaxAttrs attributes keeps
// them all; one more is refused.
func TestSpanWithMaxAttrs(t *testing.T) {
	m := newMemTxn()
	attrs := map[string]string{}
	for i := range MaxAttrs {
		attrs[fmt.Sprintf("a%03d", i)] = fmt.Sprint(i)
	}
	id := record(t, m, Span{Kind: ToolCall, Name: "x", Attrs: attrs})
	got, err := GetSpan(m, id)
	require.NoError(t, err)
	require.Equal(t, attrs, got.Attrs)
	attrs["one more"] = "x"
	_, err = RecordSpan(m, Span{Kind: ToolCall, Name: "x", Attrs: attrs})
	require.ErrorIs(t, err, ErrTooLarge)
}

func TestQuerySpansBasics(t *testing.T) {
	m := newMemTxn()
	_, err := QuerySpans(m, SpanQuery{Limit: -1})
	require.ErrorIs(t, err, ErrInvalidArgument)
	got, err := QuerySpans(m, SpanQuery{})
	require.NoError(t, err)
	require.Empty(t, got)

	// A tag given twice is still one match.
	dup := record(t, m, Span{Kind: Thought, Name: "dup", Tags: []string{"x", "x", "y", "x"}})
	got, err = QuerySpans(m, SpanQuery{Tag: "x"})
	require.NoError(t, err)
	require.Equal(t, []SpanID{dup}, ids(got))
	require.Equal(t, []string{"x", "x", "y", "x"}, got[0].Tags, "tags are stored as given")

	// Names and tags that prefix each other stay apart.
	n1 := record(t, m, Span{Kind: Thought, Name: "ab", Tags: []string{"xy"}})
	got, err = QuerySpans(m, SpanQuery{Name: "a"})
	require.NoError(t, err)
	require.Empty(t, got)
	got, err = QuerySpans(m, SpanQuery{Name: "ab"})
	require.NoError(t, err)
	require.Equal(t, []SpanID{n1}, ids(got))
	got, err = QuerySpans(m, SpanQuery{Tag: "x"})
	require.NoError(t, err)
	require.Equal(t, []SpanID{dup}, ids(got))

	// A damaged span surfaces as an error, not as a silent skip.
	m.data[spanKey(n1)] = []byte{1}
	_, err = QuerySpans(m, SpanQuery{})
	require.ErrorIs(t, err, ErrCorruption)
	_, err = GetSpan(m, n1)
	require.ErrorIs(t, err, ErrCorruption)
}

// Reads must not write: an engine serves them from read-only transactions.
func TestSpanReadsOnReadOnlyTxn(t *testing.T) {
	m := newMemTxn()
	r := record(t, m, Span{Kind: Decision, Name: "r"})
	record(t, m, Span{Kind: LLMCall, Name: "c", Parent: r})
	m.readOnly = true
	_, err := GetSpan(m, r)
	require.NoError(t, err)
	kids, err := SpanChildren(m, r)
	require.NoError(t, err)
	require.Len(t, kids, 1)
	tr, err := SpanTreeOf(m, r)
	require.NoError(t, err)
	require.Equal(t, "1(2)", shape(tr))
	all, err := QuerySpans(m, SpanQuery{Kind: LLMCall, Name: "c", Parent: r})
	require.NoError(t, err)
	require.Len(t, all, 1)
}

// spanOracle answers a query by filtering every recorded span directly, to
// check the index-driven QuerySpans against.
func spanOracle(all []Span, q SpanQuery) []SpanID {
	var out []Span
	for _, s := range all {
		if (q.Kind == 0 || s.Kind == q.Kind) &&
			(q.Name == "" || s.Name == q.Name) &&
			(q.Tag == "" || slices.Contains(s.Tags, q.Tag)) &&
			(q.Parent == 0 || s.Parent == q.Parent) &&
			(q.From.IsZero() || !s.Start.Before(q.From)) &&
			(q.Until.IsZero() || s.Start.Before(q.Until)) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b Span) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.ID, b.ID))
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return ids(out)
}

func TestQuerySpansMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(20250314, 1))
	m := newMemTxn()
	names := []string{"l", "llm", "llm.chat", "tool", strings.Repeat("n", 130)}
	tags := []string{"x", "xy", "prod", "p", strings.Repeat("t", 200)}
	pre1970 := time.Date(1965, 5, 5, 0, 0, 0, 0, time.UTC)

	var all []Span
	var starts []time.Time
	for i := range 200 {
		s := Span{
			Kind: SpanKind(1 + rng.IntN(int(Custom))),
			Name: names[rng.IntN(len(names))],
		}
		if i > 0 && rng.IntN(10) < 7 {
			s.Parent = SpanID(1 + rng.IntN(i))
		}
		for range rng.IntN(4) {
			s.Tags = append(s.Tags, tags[rng.IntN(len(tags))])
		}
		m.advance(time.Duration(rng.IntN(3000)) * time.Millisecond)
		switch r := rng.IntN(10); {
		case r < 4: // few distinct values, so many ties
			s.Start = testEpoch.Add(time.Duration(rng.IntN(40)) * time.Second)
		case r < 6:
			s.Start = pre1970.Add(time.Duration(rng.IntN(10)) * time.Second)
		case r < 8: // left to default to the clock
		default:
			s.Start = testEpoch.Add(time.Duration(rng.Int64N(int64(time.Minute))))
		}
		if !s.Start.IsZero() && rng.IntN(2) == 0 {
			s.End = s.Start.Add(time.Duration(rng.IntN(5000)) * time.Millisecond)
		}
		id := record(t, m, s)
		s.ID = id
		if s.Start.IsZero() {
			s.Start = m.now
		}
		all = append(all, s)
		starts = append(starts, s.Start)
	}

	// Boundaries: the exact starts of spans, to test both ends of
	// [From, Until), and instants next to them.
	randTime := func() time.Time {
		st := starts[rng.IntN(len(starts))]
		switch rng.IntN(3) {
		case 0:
			return st
		case 1:
			return st.Add(time.Nanosecond)
		default:
			return st.Add(-time.Duration(rng.IntN(5000)) * time.Millisecond)
		}
	}
	check := func(q SpanQuery) {
		t.Helper()
		got, err := QuerySpans(m, q)
		require.NoError(t, err)
		want := spanOracle(all, q)
		require.Equal(t, want, ids(got), "%+v", q)
		for _, s := range got {
			requireSpan(t, all[s.ID-1], s)
		}
	}

	// One field at a time, each value, so every index is read alone. With
	// no time range the right index holds exactly the matches; a query
	// that read a broader index and filtered would visit more keys.
	checkIndexed := func(q SpanQuery) {
		t.Helper()
		before := m.scanned
		check(q)
		visited := m.scanned - before
		require.Equal(t, len(spanOracle(all, q)), visited, "%+v: index keys read", q)
	}
	checkIndexed(SpanQuery{})
	for k := SpanKind(1); k <= Custom; k++ {
		checkIndexed(SpanQuery{Kind: k})
	}
	for _, n := range append(names, "ll", "absent") {
		checkIndexed(SpanQuery{Name: n})
	}
	for _, tg := range append(tags, "pr", "absent") {
		checkIndexed(SpanQuery{Tag: tg})
	}
	for p := SpanID(1); p <= 201; p++ {
		checkIndexed(SpanQuery{Parent: p})
	}
	for range 50 {
		check(SpanQuery{From: randTime()})
		check(SpanQuery{Until: randTime()})
		check(SpanQuery{Limit: 1 + rng.IntN(10)})
	}

	// Random combinations: the index used is the preferred field present,
	// and the others must still be filtered.
	nonEmpty := 0
	for range 1500 {
		var q SpanQuery
		if rng.IntN(2) == 0 {
			q.Kind = SpanKind(1 + rng.IntN(int(Custom)))
		}
		if rng.IntN(3) == 0 {
			q.Name = names[rng.IntN(len(names))]
		}
		if rng.IntN(3) == 0 {
			q.Tag = tags[rng.IntN(len(tags))]
		}
		if rng.IntN(3) == 0 {
			q.Parent = SpanID(1 + rng.IntN(len(all)/4)) // low IDs have most children
		}
		if rng.IntN(2) == 0 {
			q.From = randTime()
		}
		if rng.IntN(2) == 0 {
			q.Until = randTime()
		}
		if rng.IntN(3) == 0 {
			q.Limit = 1 + rng.IntN(5)
		}
		if len(spanOracle(all, q)) > 0 {
			nonEmpty++
		}
		check(q)
	}
	// Guard against a generator whose queries all come back empty, which
	// would pass against any implementation.
	require.Greater(t, nonEmpty, 300)

	// All spans in one list: the sign of pre-1970 starts must not upset
	// the order.
	got, err := QuerySpans(m, SpanQuery{})
	require.NoError(t, err)
	require.Len(t, got, len(all))
	require.True(t, got[0].Start.Before(testEpoch))
	require.True(t, slices.IsSortedFunc(got, func(a, b Span) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.ID, b.ID))
	}))
}
