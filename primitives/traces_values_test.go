package primitives

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// goldenSpan is the span whose encoding, written before spans had typed
// attributes, is goldenSpanBytes.
func goldenSpan() Span {
	return Span{ID: 2, Parent: 1, Kind: LLMCall, Name: "plan",
		Start: time.Unix(1700000000, 5).UTC(), End: time.Unix(1700000001, 0).UTC(), Status: StatusOK,
		Input: []byte("in"), Output: []byte("out"),
		Attrs: map[string]string{"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": "812"},
		Tags:  []string{"a"}}
}

const goldenSpanBytes = "\x01\x01\x17\x97\x9c\xfe6*\x00\x05\x17\x97\x9c\xfeq\xc4\xca\x00\x02ok\x04plan\x02in\x03out" +
	"\x02\x14gen_ai.request.model\x01m\x19gen_ai.usage.input_tokens\x03812\x01\x01a"

// Spans stored before typed attributes existed still decode, and a span
// without typed attributes is still stored byte for byte as it was, so
// stored data, replay hashes and diffs do not change.
func TestDecodeSpanWrittenBeforeValues(t *testing.T) {
	got, err := DecodeSpan(2, []byte(goldenSpanBytes))
	require.NoError(t, err)
	requireSpan(t, goldenSpan(), got)
	require.Nil(t, got.Values)
	s := goldenSpan()
	require.Equal(t, goldenSpanBytes, string(encodeSpan(&s)))
}

// The typed section's layout is pinned: a change to it would make spans
// already stored with typed attributes unreadable.
func TestEncodeSpanValuesGolden(t *testing.T) {
	s := goldenSpan()
	delete(s.Attrs, "gen_ai.usage.input_tokens")
	s.Values = map[string]AttrValue{
		"gen_ai.usage.input_tokens": IntValue(812),
		"b":                         BoolValue(true),
		"f":                         Float64Value(0.5),
		"n":                         Int64Value(-3),
		"s":                         StringValue("x"),
	}
	want := "\x01\x01\x17\x97\x9c\xfe6*\x00\x05\x17\x97\x9c\xfeq\xc4\xca\x00\x02ok\x04plan\x02in\x03out" +
		"\x01\x14gen_ai.request.model\x01m\x01\x01a" +
		"\x05" + // five typed attributes, by name:
		"\x01b\x03\x01" + // bool true
		"\x01f\x02\x3f\xe0\x00\x00\x00\x00\x00\x00" + // float64 0.5, big-endian bits
		"\x19gen_ai.usage.input_tokens\x01\xd8\x0c" + // int64 812, zigzag varint
		"\x01n\x01\x05" + // int64 -3
		"\x01s\x04\x01x" // string "x"
	require.Equal(t, want, string(encodeSpan(&s)))
	got, err := DecodeSpan(2, []byte(want))
	require.NoError(t, err)
	requireSpan(t, s, got)
}

func TestRecordSpanValues(t *testing.T) {
	m := newMemTxn()
	values := map[string]AttrValue{
		"gen_ai.usage.input_tokens":  IntValue(812),
		"gen_ai.usage.output_tokens": Int64Value(math.MaxInt64),
		"gen_ai.request.temperature": Float64Value(0.7),
		"min":                        Int64Value(math.MinInt64),
		"zero":                       Float64Value(0),
		"cached":                     BoolValue(false),
		"note":                       StringValue(""),
	}
	id := record(t, m, Span{Kind: LLMCall, Name: "chat", Attrs: map[string]string{"gen_ai.request.model": "m"}, Values: values})
	got, err := GetSpan(m, id)
	require.NoError(t, err)
	require.Equal(t, values, got.Values)
	require.Equal(t, map[string]string{"gen_ai.request.model": "m"}, got.Attrs)
	require.Equal(t, int64(812), got.Values["gen_ai.usage.input_tokens"].Int64())

	// More than fit on sortedValues' stack buffer.
	many := map[string]AttrValue{}
	for i := range 40 {
		many[fmt.Sprintf("v.%02d", 39-i)] = IntValue(i)
	}
	id = record(t, m, Span{Kind: Thought, Name: "many", Values: many})
	got, err = GetSpan(m, id)
	require.NoError(t, err)
	require.Equal(t, many, got.Values)
}

func TestRecordSpanValuesRefused(t *testing.T) {
	m := newMemTxn()
	snap, w := m.snapshot(), m.writes
	full := map[string]string{}
	for i := range MaxAttrs {
		full[fmt.Sprint("a", i)] = "v"
	}
	for name, tc := range map[string]struct {
		s    Span
		want error
	}{
		"name in both maps":             {Span{Attrs: map[string]string{"k": "1"}, Values: map[string]AttrValue{"k": IntValue(1)}}, ErrInvalidArgument},
		"unset value":                   {Span{Values: map[string]AttrValue{"k": {}}}, ErrInvalidArgument},
		"NaN":                           {Span{Values: map[string]AttrValue{"k": Float64Value(math.NaN())}}, ErrInvalidArgument},
		"infinity":                      {Span{Values: map[string]AttrValue{"k": Float64Value(math.Inf(-1))}}, ErrInvalidArgument},
		"empty name":                    {Span{Values: map[string]AttrValue{"": IntValue(1)}}, ErrInvalidArgument},
		"long name":                     {Span{Values: map[string]AttrValue{strings.Repeat("n", MaxName+1): IntValue(1)}}, ErrTooLarge},
		"long string":                   {Span{Values: map[string]AttrValue{"k": StringValue(strings.Repeat("x", MaxPayload+1))}}, ErrTooLarge},
		"one over the limit with Attrs": {Span{Attrs: full, Values: map[string]AttrValue{"v": IntValue(1)}}, ErrTooLarge},
	} {
		tc.s.Kind, tc.s.Name = Thought, "s"
		_, err := RecordSpan(m, tc.s)
		require.ErrorIs(t, err, tc.want, name)
		m.requireUnchanged(t, snap, w)
	}
	delete(full, "a0")
	record(t, m, Span{Kind: Thought, Name: "s", Attrs: full, Values: map[string]AttrValue{"v": IntValue(1)}})
}

// What the encoder never writes is corruption, not a value.
func TestDecodeSpanValuesCorrupt(t *testing.T) {
	base := goldenSpanBytes
	for name, tail := range map[string]string{
		"zero count":       "\x00",
		"unknown kind":     "\x01\x01k\x05\x00",
		"unset kind":       "\x01\x01k\x00\x00",
		"bool 2":           "\x01\x01k\x03\x02",
		"NaN":              "\x01\x01k\x02\x7f\xf8\x00\x00\x00\x00\x00\x01",
		"infinity":         "\x01\x01k\x02\x7f\xf0\x00\x00\x00\x00\x00\x00",
		"string attr too":  "\x01\x14gen_ai.request.model\x01\x02",
		"truncated int":    "\x01\x01k\x01\x80",
		"truncated float":  "\x01\x01k\x02\x00",
		"truncated string": "\x01\x01k\x04\x05ab",
		"count too large":  "\x02\x01k\x01\x02",
		"trailing byte":    "\x01\x01k\x01\x02\x00",
	} {
		_, err := DecodeSpan(2, []byte(base+tail))
		require.ErrorIs(t, err, ErrCorruption, name)
	}
	s, err := DecodeSpan(2, []byte(base+"\x01\x01k\x01\x02"))
	require.NoError(t, err)
	require.Equal(t, map[string]AttrValue{"k": Int64Value(1)}, s.Values)
}

func TestAttrValueAccessors(t *testing.T) {
	for _, tc := range []struct {
		v    AttrValue
		kind AttrKind
		any  any
		str  string
	}{
		{IntValue(-7), AttrKindInt64, int64(-7), "-7"},
		{Float64Value(2.5), AttrKindFloat64, 2.5, "2.5"},
		{BoolValue(true), AttrKindBool, true, "true"},
		{StringValue("hi"), AttrKindString, "hi", "hi"},
		{AttrValue{}, 0, nil, ""},
	} {
		require.Equal(t, tc.kind, tc.v.Kind())
		require.Equal(t, tc.any, tc.v.Any())
		require.Equal(t, tc.str, tc.v.String())
	}
	require.Equal(t, int64(-7), IntValue(-7).Int64())
	require.Equal(t, 2.5, Float64Value(2.5).Float64())
	require.True(t, BoolValue(true).Bool())
	require.False(t, BoolValue(false).Bool())
	require.Panics(t, func() { StringValue("1").Int64() })
	require.Panics(t, func() { IntValue(1).Float64() })
	require.Panics(t, func() { IntValue(1).Bool() })
	require.Equal(t, []string{"unset", "int64", "float64", "bool", "string", "AttrKind(5)"},
		[]string{AttrKind(0).String(), AttrKindInt64.String(), AttrKindFloat64.String(), AttrKindBool.String(), AttrKindString.String(), AttrKind(5).String()})
}

// JSON keeps the kind: an integral float64 is written with a fraction,
// so it does not come back as an int64.
func TestAttrValueJSON(t *testing.T) {
	for _, tc := range []struct {
		v    AttrValue
		json string
	}{
		{IntValue(812), `812`},
		{Int64Value(math.MinInt64), `-9223372036854775808`},
		{Float64Value(3), `3.0`},
		{Float64Value(-0.25), `-0.25`},
		{Float64Value(1e21), `1e+21`},
		{Float64Value(1e-7), `1e-07`},
		{BoolValue(false), `false`},
		{StringValue(`a "b"`), `"a \"b\""`},
		{AttrValue{}, `null`},
	} {
		b, err := json.Marshal(tc.v)
		require.NoError(t, err)
		require.Equal(t, tc.json, string(b))
		var back AttrValue
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, tc.v, back, tc.json)
	}
	var v AttrValue
	require.NoError(t, json.Unmarshal([]byte(`2E3`), &v))
	require.Equal(t, Float64Value(2000), v)
	require.ErrorIs(t, json.Unmarshal([]byte(`9223372036854775808`), &v), ErrInvalidArgument)
	require.ErrorIs(t, v.UnmarshalJSON(nil), ErrInvalidArgument)
	_, err := json.Marshal(Float64Value(math.Inf(1)))
	require.ErrorIs(t, err, ErrInvalidArgument)

	// A span's JSON leaves Values out when there are none and keeps each
	// value's kind when there are.
	b, err := json.Marshal(Span{Kind: Thought, Name: "s"})
	require.NoError(t, err)
	require.NotContains(t, string(b), "Values")
	s := Span{Kind: Thought, Name: "s", Values: map[string]AttrValue{"i": IntValue(1), "f": Float64Value(1)}}
	b, err = json.Marshal(s)
	require.NoError(t, err)
	require.Contains(t, string(b), `"Values":{"f":1.0,"i":1}`)
	var back Span
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, s.Values, back.Values)
}

// Whatever JSON decodes into an AttrValue encodes back to JSON that
// decodes to the same value.
func FuzzAttrValueJSON(f *testing.F) {
	for _, s := range []string{`812`, `-9223372036854775808`, `9223372036854775808`, `3.0`, `-0.0`, `1e+21`, `2E3`,
		`1e999`, `true`, `false`, `null`, `"x"`, `"\u00e9"`, `[]`, `{}`, ` 7 `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v AttrValue
		if json.Unmarshal(data, &v) != nil {
			return
		}
		b, err := json.Marshal(v)
		require.NoError(t, err)
		var again AttrValue
		require.NoError(t, json.Unmarshal(b, &again), "%s", b)
		require.Equal(t, v, again, "%s -> %s", data, b)
	})
}
