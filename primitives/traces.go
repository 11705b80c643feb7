package primitives

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SpanID identifies a span within its run; IDs count up from 1.
type SpanID uint64

// SpanKind is what a span records. The zero value means "unset".
type SpanKind uint8

// Span kinds.
const (
	LLMCall SpanKind = iota + 1
	ToolCall
	Retrieval
	Decision
	Thought
	Error
	Custom
)

var kindNames = [...]string{"unset", "llm_call", "tool_call", "retrieval", "decision", "thought", "error", "custom"}

// String returns the kind's snake_case name.
func (k SpanKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("SpanKind(%d)", k)
}

// SpanStatus is a span's outcome, as in OpenTelemetry: unset, ok or error.
type SpanStatus string

// Span statuses.
const (
	StatusUnset SpanStatus = ""
	StatusOK    SpanStatus = "ok"
	StatusError SpanStatus = "error"
)

// Span is one step of an agent's reasoning: an LLM call, a tool call, a
// retrieval, a decision. Attribute names follow the OpenTelemetry GenAI
// conventions where one exists (gen_ai.request.model,
// gen_ai.usage.input_tokens, gen_ai.tool.name, ...).
//
// Attrs holds string attributes and Values typed ones: numbers such as
// gen_ai.usage.input_tokens (an integer in those conventions) belong in
// Values, so that they keep their type when exported. A name may be in one
// of the two maps, not both; together they hold at most MaxAttrs.
type Span struct {
	ID     SpanID // assigned by Record
	Parent SpanID // 0 for a root span; otherwise a span of the same run
	Kind   SpanKind
	Name   string
	Start  time.Time // the record time if zero
	End    time.Time
	Status SpanStatus
	Input  []byte
	Output []byte
	Attrs  map[string]string
	Tags   []string
	// Values is omitted from JSON when empty, so that spans without it
	// read as they did before it existed.
	Values map[string]AttrValue `json:",omitempty"`
}

// SpanTree is a span with its descendants.
type SpanTree struct {
	Span     Span
	Children []SpanTree
}

// SpanQuery selects spans; a zero field matches anything.
type SpanQuery struct {
	Kind   SpanKind
	Name   string
	Tag    string
	Parent SpanID
	From   time.Time // Start at or after
	Until  time.Time // Start before
	Limit  int       // 0: no limit
}

const (
	spanNext   = 'n' // -> next id (8)
	spanEntry  = 's' // + id (8) -> span value
	spanKind   = 'k' // + kind (1) + start (8) + id (8)
	spanName   = 'a' // + len-prefixed name + start (8) + id (8)
	spanTag    = 'g' // + len-prefixed tag + start (8) + id (8)
	spanParent = 'p' // + parent (8) + start (8) + id (8)
	spanTime   = 'w' // + start (8) + id (8)
)

// spanNextKey is the counter's key for reads (Get does not keep or change
// it).
var spanNextKey = []byte{spanNext}

// Index keys order by start time: sortable big-endian of the nanoseconds
// with the sign bit flipped.
func startKey(t time.Time) []byte { return be64(uint64(unixNano(t)) ^ 1<<63) }

// attr is one span attribute.
type attr struct{ name, value string }

// sortedAttrs returns the attributes of m in name order, in buf when they
// fit (none when there are more than MaxAttrs). Checking, sizing and encoding a span each walk its attributes, and
// walking a slice three times costs less than walking a map three times.
func sortedAttrs(m map[string]string, buf *[16]attr) []attr {
	if len(m) > MaxAttrs {
		return nil // checkSpan refuses the span; do not copy what it refuses
	}
	as := buf[:0]
	for k, v := range m {
		as = append(as, attr{k, v})
	}
	slices.SortFunc(as, func(a, b attr) int { return strings.Compare(a.name, b.name) })
	return as
}

// checkSpan validates s, whose attributes are attrs and values.
func checkSpan(s *Span, attrs []attr, values []typedAttr) error {
	if s.Kind < LLMCall || s.Kind > Custom {
		return fmt.Errorf("span kind %d: %w", s.Kind, ErrInvalidArgument)
	}
	if err := checkName("span name", s.Name); err != nil {
		return err
	}
	if err := checkPayload("span input", s.Input); err != nil {
		return err
	}
	if err := checkPayload("span output", s.Output); err != nil {
		return err
	}
	if len(s.Attrs)+len(s.Values) > MaxAttrs || len(s.Tags) > MaxAttrs {
		return fmt.Errorf("span with %d attributes and %d tags (max %d each): %w", len(s.Attrs)+len(s.Values), len(s.Tags), MaxAttrs, ErrTooLarge)
	}
	for _, a := range attrs {
		if err := checkName("attribute name", a.name); err != nil {
			return err
		}
		if err := checkPayload("attribute value", []byte(a.value)); err != nil {
			return err
		}
	}
	for _, a := range values {
		if err := checkName("attribute name", a.name); err != nil {
			return err
		}
		if _, dup := s.Attrs[a.name]; dup {
			return fmt.Errorf("attribute %s in both Attrs and Values: %w", a.name, ErrInvalidArgument)
		}
		if err := checkValue(a.name, a.value); err != nil {
			return err
		}
	}
	for _, tag := range s.Tags {
		if err := checkName("tag", tag); err != nil {
			return err
		}
	}
	if !s.End.IsZero() && !s.Start.IsZero() && s.End.Before(s.Start) {
		return fmt.Errorf("span ends before it starts: %w", ErrInvalidArgument)
	}
	switch s.Status {
	case StatusUnset, StatusOK, StatusError:
	default:
		return fmt.Errorf("span status %q: %w", s.Status, ErrInvalidArgument)
	}
	return nil
}

// RecordSpan stores s with the next span ID and its index entries. The
// parent, if any, must exist in the same run.
func RecordSpan(t Txn, s Span) (SpanID, error) {
	if s.Start.IsZero() {
		s.Start = t.Now() // before the checks: End must not precede it
	}
	var abuf [16]attr
	attrs := sortedAttrs(s.Attrs, &abuf)
	var values []typedAttr
	if len(s.Values) > 0 {
		var vbuf [8]typedAttr // zeroed only for spans that have typed values
		values = sortedValues(s.Values, &vbuf)
	}
	if err := checkSpan(&s, attrs, values); err != nil {
		return 0, err
	}
	if s.Parent != 0 {
		var pb [8]byte
		if _, ok := t.Get(wkey(t, spanEntry, put64(&pb, uint64(s.Parent)))); !ok {
			return 0, fmt.Errorf("parent span %d: %w", s.Parent, ErrNotFound)
		}
	}
	id := SpanID(1)
	if v, ok := t.Get(spanNextKey); ok {
		if len(v) != 8 {
			return 0, fmt.Errorf("span counter: %w", ErrCorruption)
		}
		id = SpanID(binary.BigEndian.Uint64(v))
	}
	s.ID = id
	if err := t.Put(wkey(t, spanNext), binary.BigEndian.AppendUint64(scratch(t, 8), uint64(id)+1)); err != nil {
		return 0, err
	}
	var ib, sb, pb [8]byte
	idb, st := put64(&ib, uint64(id)), put64(&sb, uint64(unixNano(s.Start))^1<<63)
	if err := t.Put(wkey(t, spanEntry, idb), appendSpan(scratch(t, spanSize(&s, attrs, values)), &s, attrs, values)); err != nil {
		return 0, err
	}
	if err := t.PutIndex(wkey(t, spanKind, []byte{byte(s.Kind)}, st, idb)); err != nil {
		return 0, err
	}
	if err := t.PutIndex(lenPrefixedKey(t, spanName, s.Name, st, idb)); err != nil {
		return 0, err
	}
	if err := t.PutIndex(wkey(t, spanParent, put64(&pb, uint64(s.Parent)), st, idb)); err != nil {
		return 0, err
	}
	if err := t.PutIndex(wkey(t, spanTime, st, idb)); err != nil {
		return 0, err
	}
	if len(s.Tags) > 0 {
		for _, tag := range slices.Compact(slices.Sorted(slices.Values(s.Tags))) {
			if err := t.PutIndex(lenPrefixedKey(t, spanTag, tag, st, idb)); err != nil {
				return 0, err
			}
		}
	}
	return id, nil
}

// encodeSpan: parent | kind | start | end | status | name | input | output
// | attrs (count, then name, value sorted by name) | tags (count, tags)
// | typed attrs, only if there are any (count, then name, kind, value
// sorted by name; see appendValues).
func encodeSpan(s *Span) []byte {
	var abuf [16]attr
	var vbuf [8]typedAttr
	attrs, values := sortedAttrs(s.Attrs, &abuf), sortedValues(s.Values, &vbuf)
	return appendSpan(make([]byte, 0, spanSize(s, attrs, values)), s, attrs, values)
}

// spanSize bounds the encoded size of s (uvarint lengths of names and
// payloads under MaxPayload take at most 3 bytes, counts at most 10).
func spanSize(s *Span, attrs []attr, values []typedAttr) int {
	size := 64 + len(s.Status) + len(s.Name) + len(s.Input) + len(s.Output)
	for _, a := range attrs {
		size += len(a.name) + len(a.value) + 6
	}
	for _, tag := range s.Tags {
		size += len(tag) + 3
	}
	return size + valuesSize(values)
}

// appendSpan appends s, whose attributes in name order are attrs and
// values, encoded as encodeSpan does.
func appendSpan(b []byte, s *Span, attrs []attr, values []typedAttr) []byte {
	b = binary.AppendUvarint(b, uint64(s.Parent))
	b = append(b, byte(s.Kind))
	b = binary.BigEndian.AppendUint64(b, uint64(unixNano(s.Start)))
	b = binary.BigEndian.AppendUint64(b, uint64(unixNano(s.End)))
	b = appendString(b, string(s.Status))
	b = appendString(b, s.Name)
	b = appendBytes(b, s.Input)
	b = appendBytes(b, s.Output)
	b = binary.AppendUvarint(b, uint64(len(attrs)))
	for _, a := range attrs {
		b = appendString(b, a.name)
		b = appendString(b, a.value)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Tags)))
	for _, tag := range s.Tags {
		b = appendString(b, tag)
	}
	return appendValues(b, values)
}

// DecodeSpan decodes the span stored for id.
func DecodeSpan(id SpanID, v []byte) (Span, error) {
	d := decoder{b: v}
	s := Span{ID: id, Parent: SpanID(d.uvarint())}
	if k := d.fixed(1); k != nil {
		s.Kind = SpanKind(k[0])
	}
	s.Start = fromUnixNano(int64(d.u64()))
	s.End = fromUnixNano(int64(d.u64()))
	s.Status = SpanStatus(d.bytes())
	s.Name = string(d.bytes())
	s.Input = cloneNonEmpty(d.bytes())
	s.Output = cloneNonEmpty(d.bytes())
	if n := d.uvarint(); n > 0 {
		if n > uint64(len(d.b)) {
			d.fail()
		} else {
			s.Attrs = make(map[string]string, n)
			for i := uint64(0); i < n && d.err == nil; i++ {
				k := string(d.bytes())
				s.Attrs[k] = string(d.bytes())
			}
		}
	}
	if n := d.uvarint(); n > 0 {
		if n > uint64(len(d.b)) {
			d.fail()
		} else {
			s.Tags = make([]string, 0, n)
			for i := uint64(0); i < n && d.err == nil; i++ {
				s.Tags = append(s.Tags, string(d.bytes()))
			}
		}
	}
	s.Values = decodeValues(&d, s.Attrs)
	if err := d.done(); err != nil {
		return Span{}, fmt.Errorf("span %d: %w", id, err)
	}
	return s, nil
}

// lenPrefixedKey is wkey(t, kind, lenPrefixed(name), parts...) in one
// piece of scratch memory.
func lenPrefixedKey(t Txn, kind byte, name string, parts ...[]byte) []byte {
	n := 1 + binary.MaxVarintLen64 + len(name)
	for _, p := range parts {
		n += len(p)
	}
	k := appendLenPrefixed(append(scratch(t, n), kind), name)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

func cloneNonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return clone(b)
}

// GetSpan returns a span, or ErrNotFound.
func GetSpan(t Txn, id SpanID) (Span, error) {
	v, ok := t.Get(key(spanEntry, be64(uint64(id))))
	if !ok {
		return Span{}, fmt.Errorf("span %d: %w", id, ErrNotFound)
	}
	return DecodeSpan(id, v)
}

// SpanChildren returns the direct children of id in start order. An
// unknown id is ErrNotFound.
func SpanChildren(t Txn, id SpanID) ([]Span, error) {
	if _, err := GetSpan(t, id); err != nil {
		return nil, err
	}
	return QuerySpans(t, SpanQuery{Parent: id})
}

// SpanTreeOf returns root and all of its descendants.
func SpanTreeOf(t Txn, root SpanID) (SpanTree, error) {
	s, err := GetSpan(t, root)
	if err != nil {
		return SpanTree{}, err
	}
	return spanTree(t, s, 0)
}

// maxTreeDepth guards against a cycle, which Record cannot create (a
// parent always has a smaller ID) but damaged data could.
const maxTreeDepth = 10_000

func spanTree(t Txn, s Span, depth int) (SpanTree, error) {
	if depth > maxTreeDepth {
		return SpanTree{}, fmt.Errorf("span %d: tree deeper than %d: %w", s.ID, maxTreeDepth, ErrCorruption)
	}
	tree := SpanTree{Span: s}
	kids, err := QuerySpans(t, SpanQuery{Parent: s.ID})
	if err != nil {
		return SpanTree{}, err
	}
	for _, k := range kids {
		if k.ID <= s.ID {
			return SpanTree{}, fmt.Errorf("span %d: child %d is older than its parent: %w", s.ID, k.ID, ErrCorruption)
		}
		sub, err := spanTree(t, k, depth+1)
		if err != nil {
			return SpanTree{}, err
		}
		tree.Children = append(tree.Children, sub)
	}
	return tree, nil
}

// QuerySpans returns the spans matching q in start-time order (ties by ID),
// reading one secondary index (parent, name, tag, kind, or start time, in
// that order of preference) and filtering on the other fields.
func QuerySpans(t Txn, q SpanQuery) ([]Span, error) {
	if q.Limit < 0 {
		return nil, fmt.Errorf("span query limit %d: %w", q.Limit, ErrInvalidArgument)
	}
	prefix, start, until := spanIndex(&q)
	var ids []SpanID
	var bad error
	t.Scan(prefix, start, func(k, _ []byte) bool {
		rest := k[len(prefix):]
		if len(rest) != 16 {
			bad = fmt.Errorf("span index key: %w", ErrCorruption)
			return false
		}
		if until != 0 && binary.BigEndian.Uint64(rest) >= until {
			return false
		}
		ids = append(ids, SpanID(binary.BigEndian.Uint64(rest[8:])))
		return true
	})
	if bad != nil {
		return nil, bad
	}
	var out []Span
	for _, id := range ids {
		s, err := GetSpan(t, id)
		if err != nil {
			return nil, err
		}
		if !matches(&s, &q) {
			continue
		}
		out = append(out, s)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

// spanIndex picks the index a query reads: its prefix, the key within it
// to start at, and the sortable start time to stop before (0: none).
func spanIndex(q *SpanQuery) (prefix, start []byte, until uint64) {
	switch {
	case q.Parent != 0:
		prefix = key(spanParent, be64(uint64(q.Parent)))
	case q.Name != "":
		prefix = key(spanName, lenPrefixed(q.Name))
	case q.Tag != "":
		prefix = key(spanTag, lenPrefixed(q.Tag))
	case q.Kind != 0:
		prefix = key(spanKind, []byte{byte(q.Kind)})
	default:
		prefix = []byte{spanTime}
	}
	if !q.From.IsZero() {
		start = startKey(q.From)
	}
	if !q.Until.IsZero() {
		until = binary.BigEndian.Uint64(startKey(q.Until))
	}
	return prefix, start, until
}

// ScanSpans is QuerySpans calling fn with each matching span in turn,
// until fn returns false or q.Limit spans have been passed: each span is
// read when the index scan reaches it, so stopping early reads no more.
// Unlike QuerySpans, it finds a damaged index entry only if the scan gets
// that far, after the spans before it have been passed to fn.
func ScanSpans(t Txn, q SpanQuery, fn func(Span) bool) error {
	if q.Limit < 0 {
		return fmt.Errorf("span query limit %d: %w", q.Limit, ErrInvalidArgument)
	}
	prefix, start, until := spanIndex(&q)
	n := 0
	var err error
	t.Scan(prefix, start, func(k, _ []byte) bool {
		rest := k[len(prefix):]
		if len(rest) != 16 {
			err = fmt.Errorf("span index key: %w", ErrCorruption)
			return false
		}
		if until != 0 && binary.BigEndian.Uint64(rest) >= until {
			return false
		}
		var s Span
		if s, err = GetSpan(t, SpanID(binary.BigEndian.Uint64(rest[8:]))); err != nil {
			return false
		}
		if !matches(&s, &q) {
			return true
		}
		n++
		return fn(s) && (q.Limit == 0 || n < q.Limit)
	})
	return err
}

func matches(s *Span, q *SpanQuery) bool {
	return (q.Kind == 0 || s.Kind == q.Kind) &&
		(q.Name == "" || s.Name == q.Name) &&
		(q.Tag == "" || slices.Contains(s.Tags, q.Tag)) &&
		(q.Parent == 0 || s.Parent == q.Parent)
}
