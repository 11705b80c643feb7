package inmem

import (
	"iter"

	"github.com/inmem-db/inmem/internal/keys"
	"github.com/inmem-db/inmem/primitives"
)

// Span is one recorded step of agent reasoning. Attrs use OpenTelemetry
// GenAI attribute names where one exists (gen_ai.request.model,
// gen_ai.usage.input_tokens, gen_ai.tool.name, ...). Attrs holds string
// values; Values holds typed ones (IntValue, Float64Value, BoolValue,
// StringValue), which keep their type in exports: token counts belong
// there. A name may be in one map or the other, not both, and the two
// together hold at most 256 attributes.
type Span = primitives.Span

// AttrValue is a typed span attribute value: an int64, a float64, a bool
// or a string. The zero AttrValue is unset, and Record refuses it. In JSON
// it is the plain value, an integer without and a float64 always with a
// fraction or exponent, so that the kind survives a round trip.
type AttrValue = primitives.AttrValue

// AttrKind is the type of an AttrValue.
type AttrKind = primitives.AttrKind

// Attribute value kinds.
const (
	AttrKindInt64   = primitives.AttrKindInt64
	AttrKindFloat64 = primitives.AttrKindFloat64
	AttrKindBool    = primitives.AttrKindBool
	AttrKindString  = primitives.AttrKindString
)

// Int64Value returns an AttrValue holding v.
func Int64Value(v int64) AttrValue { return primitives.Int64Value(v) }

// IntValue returns an AttrValue holding v as an int64.
func IntValue(v int) AttrValue { return primitives.IntValue(v) }

// Float64Value returns an AttrValue holding v; Record refuses NaN and
// infinities, which JSON cannot carry.
func Float64Value(v float64) AttrValue { return primitives.Float64Value(v) }

// BoolValue returns an AttrValue holding v.
func BoolValue(v bool) AttrValue { return primitives.BoolValue(v) }

// StringValue returns an AttrValue holding v.
func StringValue(v string) AttrValue { return primitives.StringValue(v) }

// SpanID identifies a span within its run, counting from 1.
type SpanID = primitives.SpanID

// SpanKind says what a span records. The zero value means "unset".
type SpanKind = primitives.SpanKind

// Span kinds.
const (
	LLMCall   = primitives.LLMCall
	ToolCall  = primitives.ToolCall
	Retrieval = primitives.Retrieval
	Decision  = primitives.Decision
	Thought   = primitives.Thought
	Error     = primitives.Error
	Custom    = primitives.Custom
)

// SpanStatus is a span's outcome as in OpenTelemetry: StatusUnset,
// StatusOK or StatusError.
type SpanStatus = primitives.SpanStatus

// Span statuses.
const (
	StatusUnset = primitives.StatusUnset
	StatusOK    = primitives.StatusOK
	StatusError = primitives.StatusError
)

// SpanTree is a span with its descendants.
type SpanTree = primitives.SpanTree

// SpanQuery selects spans by Kind, Name, Tag, Parent and start time
// [From, Until), at most Limit of them; a zero field matches anything.
type SpanQuery = primitives.SpanQuery

// Traces holds the spans of a run, shared scope or transaction.
type Traces struct{ h prim }

// Traces returns the run's traces.
func (r *Run) Traces() *Traces { return &Traces{prim{run: r, tag: keys.TagTrace}} }

// Traces returns the traces of the transaction's run.
func (tx *Tx) Traces() *Traces {
	tx.traces.h = prim{tx: tx, tag: keys.TagTrace}
	return &tx.traces
}

// Record stores a span and returns its ID. Kind and Name are required; a
// zero Start is the record time; a Parent must be a span of the same run
// (else ErrNotFound). A name in both Attrs and Values, or an unset or
// non-finite value, is ErrInvalidArgument.
func (tr *Traces) Record(s Span) (SpanID, error) {
	var id SpanID
	err := tr.h.do(true, func(t primitives.Txn) (err error) {
		id, err = primitives.RecordSpan(t, s)
		return err
	})
	return id, err
}

// Get returns a span, or ErrNotFound.
func (tr *Traces) Get(id SpanID) (Span, error) {
	var s Span
	err := tr.h.do(false, func(t primitives.Txn) (err error) {
		s, err = primitives.GetSpan(t, id)
		return err
	})
	return s, err
}

// Children returns the direct children of a span, in start order.
func (tr *Traces) Children(id SpanID) ([]Span, error) {
	var ss []Span
	err := tr.h.do(false, func(t primitives.Txn) (err error) {
		ss, err = primitives.SpanChildren(t, id)
		return err
	})
	return ss, err
}

// Tree returns a span with all of its descendants.
func (tr *Traces) Tree(root SpanID) (SpanTree, error) {
	var tree SpanTree
	err := tr.h.do(false, func(t primitives.Txn) (err error) {
		tree, err = primitives.SpanTreeOf(t, root)
		return err
	})
	return tree, err
}

// Query returns the spans matching q in start order, found through a
// secondary index rather than a scan of every span.
func (tr *Traces) Query(q SpanQuery) ([]Span, error) {
	var ss []Span
	err := tr.h.do(false, func(t primitives.Txn) (err error) {
		ss, err = primitives.QuerySpans(t, q)
		return err
	})
	return ss, err
}

// All returns the spans matching q in start order, at most q.Limit of them
// (0: no limit), as a sequence for range:
//
//	for s, err := range run.Traces().All(inmem.SpanQuery{Kind: inmem.ToolCall}) {
//		if err != nil {
//			return err
//		}
//		use(s)
//	}
//
// It reads the index Query reads, fetching each span when the loop reaches
// it from the snapshot taken when the loop starts, so the loop may stop
// early without reading the rest. An error (ErrClosed, a negative
// q.Limit, a damaged span, ...) is yielded once, with a zero Span, and
// ends the sequence: a damaged index entry that Query would refuse
// outright is found only when the loop gets that far. Through Tx.Traces
// the reads join the transaction and see its own spans, as Query does;
// spans the loop body records are not seen by the rest of the loop.
func (tr *Traces) All(q SpanQuery) iter.Seq2[Span, error] {
	return scanSeq(tr.h, func(t primitives.Txn, fn func(Span) bool) error {
		return primitives.ScanSpans(t, q, fn)
	})
}
