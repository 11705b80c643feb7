package primitives

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Times in seeds go through fromUnixNano because that is the form a
// decoder returns; any other form would differ only in representation.
var seedTimes = []time.Time{
	{},
	fromUnixNano(testEpoch.UnixNano()),
	fromUnixNano(-1),                      // just before 1970
	fromUnixNano(math.MinInt64 + 1),       // 1677
	fromUnixNano(math.MaxInt64),           // 2262
	fromUnixNano(int64(time.Second) + 17), // sub-second part
}

func seedEvents() []Event {
	var out []Event
	for i, tm := range seedTimes {
		e := Event{Seq: uint64(i), Type: "t", Time: tm}
		e.PrevHash[0], e.Hash[31] = byte(i), 0xff
		out = append(out, e)
	}
	return append(out,
		Event{Seq: 7, Type: "llm.response", Payload: []byte(`{"ok":true}`), Time: seedTimes[1]},
		Event{Seq: 8, Type: strings.Repeat("x", 300), Payload: []byte{0}, Time: seedTimes[2]},
		Event{Seq: 9, Type: "", Payload: bytes.Repeat([]byte{0xff}, 200)},
	)
}

type seedCell struct {
	version uint64
	updated time.Time
	value   []byte
}

func seedCells() []seedCell {
	var out []seedCell
	for i, tm := range seedTimes {
		out = append(out, seedCell{uint64(i + 1), tm, []byte("v")})
	}
	return append(out,
		seedCell{math.MaxUint64, seedTimes[1], bytes.Repeat([]byte("ab"), 100)},
		seedCell{1, seedTimes[1], []byte{}},
	)
}

func seedMachines() []Machine {
	return []Machine{
		jobMachine(),
		{Initial: "only", Allow: map[string][]string{}},
		{Initial: "a", Allow: map[string][]string{"a": {}, "b": {"a", "a", "c"}}},
		{Initial: strings.Repeat("s", 200), Allow: map[string][]string{strings.Repeat("f", 130): {strings.Repeat("t", 129)}}},
	}
}

func seedSpans() []Span {
	out := []Span{
		{ID: 1, Kind: LLMCall, Name: "n"},
		{
			ID: 2, Parent: 1, Kind: ToolCall, Name: "search",
			Start: seedTimes[1], End: fromUnixNano(testEpoch.UnixNano() + 5),
			Status: StatusOK, Input: []byte("in"), Output: []byte("out"),
			Attrs: map[string]string{"gen_ai.tool.name": "search", "gen_ai.usage.input_tokens": "7", "e": ""},
			Tags:  []string{"b", "a", "b"},
		},
		{ID: 3, Parent: math.MaxUint64, Kind: Custom, Name: strings.Repeat("n", 300), Status: StatusError, Tags: []string{"t"}},
		// Decoders do not judge kind or status; Record does.
		{ID: 4, Kind: 0, Name: "", Status: "weird"},
		{ID: 5, Kind: 255, Name: "k", Input: bytes.Repeat([]byte{1}, 200)},
		{
			ID: 6, Kind: LLMCall, Name: "typed",
			Attrs: map[string]string{"gen_ai.request.model": "m"},
			Values: map[string]AttrValue{
				"gen_ai.usage.input_tokens": IntValue(812), "min": Int64Value(math.MinInt64),
				"t": Float64Value(0.7), "neg0": Float64Value(math.Copysign(0, -1)),
				"ok": BoolValue(true), "no": BoolValue(false), "s": StringValue(""),
			},
		},
		{ID: 7, Kind: Thought, Name: "one", Values: map[string]AttrValue{"x": StringValue(strings.Repeat("v", 200))}},
	}
	for i, tm := range seedTimes {
		out = append(out, Span{ID: SpanID(10 + i), Kind: Thought, Name: "t", Start: tm, End: tm})
	}
	return out
}

// Every seed is a valid value: encoding it and decoding the result gives
// it back, and the encoding is a fixed point.
func TestCodecRoundTrip(t *testing.T) {
	for _, e := range seedEvents() {
		enc := encodeEvent(&e)
		got, err := DecodeEvent(e.Seq, enc)
		require.NoError(t, err)
		require.Equal(t, e, got)
		require.Equal(t, enc, encodeEvent(&got))
	}
	for _, c := range seedCells() {
		enc := encodeCell(c.version, c.updated, c.value)
		got, err := DecodeCell("name", enc)
		require.NoError(t, err)
		// An empty value reads back as nil, as everywhere in the API.
		require.Equal(t, Cell{Name: "name", Value: cloneNonEmpty(c.value), Version: c.version, UpdatedAt: c.updated}, got)
	}
	for _, m := range seedMachines() {
		enc := encodeMachine(m)
		got, err := DecodeMachine(enc)
		require.NoError(t, err)
		require.Equal(t, m, got)
		require.Equal(t, enc, encodeMachine(got))
	}
	for _, s := range seedSpans() {
		enc := encodeSpan(&s)
		got, err := DecodeSpan(s.ID, enc)
		require.NoError(t, err)
		require.Equal(t, s, got)
		require.Equal(t, enc, encodeSpan(&got))
	}
	// Encoding does not depend on map order, so equal machines and spans
	// are stored identically.
	for range 20 {
		require.Equal(t, encodeMachine(seedMachines()[0]), encodeMachine(jobMachine()))
		require.Equal(t, encodeSpan(&seedSpans()[1]), encodeSpan(&seedSpans()[1]))
	}
}

// addBroken adds seeds derived from a valid encoding: truncated at a few
// places and with a byte flipped, so the fuzzer starts near both edges.
func addBroken(f *testing.F, enc []byte, add func([]byte)) {
	add(enc)
	for _, n := range []int{0, 1, len(enc) / 2, len(enc) - 1} {
		if n >= 0 && n < len(enc) {
			add(enc[:n])
		}
	}
	if len(enc) > 0 {
		flipped := bytes.Clone(enc)
		flipped[len(flipped)/3] ^= 0x80
		add(flipped)
	}
	add(append(bytes.Clone(enc), 0))
}

// scribble overwrites b, to show that a decoded value shares no memory
// with its input.
func scribble(b []byte) {
	for i := range b {
		b[i] = 0xAA
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, e := range seedEvents() {
		addBroken(f, encodeEvent(&e), func(b []byte) { f.Add(e.Seq, b) })
	}
	f.Fuzz(func(t *testing.T, seq uint64, data []byte) {
		in := bytes.Clone(data)
		e, err := DecodeEvent(seq, in)
		if err != nil {
			require.ErrorIs(t, err, ErrCorruption)
			return
		}
		require.Equal(t, seq, e.Seq)
		enc := encodeEvent(&e)
		scribble(in)
		again, err := DecodeEvent(seq, enc)
		require.NoError(t, err)
		require.Equal(t, e, again)
		require.Equal(t, enc, encodeEvent(&again))
	})
}

func FuzzDecodeCell(f *testing.F) {
	for _, c := range seedCells() {
		addBroken(f, encodeCell(c.version, c.updated, c.value), func(b []byte) { f.Add("cell", b) })
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		in := bytes.Clone(data)
		c, err := DecodeCell(name, in)
		if err != nil {
			require.ErrorIs(t, err, ErrCorruption)
			return
		}
		require.Equal(t, name, c.Name)
		require.NotZero(t, c.Version, "version 0 is never written")
		// The cell layout has no variable-length header, so any valid
		// input is already the canonical encoding.
		require.Equal(t, data, encodeCell(c.Version, c.UpdatedAt, c.Value))
		scribble(in)
		require.Equal(t, data, encodeCell(c.Version, c.UpdatedAt, c.Value))
	})
}

func FuzzDecodeMachine(f *testing.F) {
	for _, m := range seedMachines() {
		addBroken(f, encodeMachine(m), func(b []byte) { f.Add(b) })
	}
	// Counts far larger than the input must fail, not allocate.
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{0, 1, 1, 'a', 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeMachine(data)
		if err != nil {
			require.ErrorIs(t, err, ErrCorruption)
			return
		}
		enc := encodeMachine(m)
		again, err := DecodeMachine(enc)
		require.NoError(t, err)
		require.Equal(t, m, again)
		require.Equal(t, enc, encodeMachine(again))
	})
}

func FuzzDecodeSpan(f *testing.F) {
	for _, s := range seedSpans() {
		addBroken(f, encodeSpan(&s), func(b []byte) { f.Add(uint64(s.ID), b) })
	}
	f.Fuzz(func(t *testing.T, id uint64, data []byte) {
		in := bytes.Clone(data)
		s, err := DecodeSpan(SpanID(id), in)
		if err != nil {
			require.ErrorIs(t, err, ErrCorruption)
			return
		}
		require.Equal(t, SpanID(id), s.ID)
		enc := encodeSpan(&s)
		scribble(in)
		again, err := DecodeSpan(SpanID(id), enc)
		require.NoError(t, err)
		require.Equal(t, s, again)
		require.Equal(t, enc, encodeSpan(&again))
	})
}

// A span with more attributes than fit on sortedAttrs' stack buffer encodes
// the same way whatever the map's order, and reads back whole.
func TestSpanManyAttrsEncodeStably(t *testing.T) {
	attrs := map[string]string{}
	for i := range 40 {
		attrs[fmt.Sprintf("attr.%02d", 39-i)] = fmt.Sprint(i)
	}
	s := Span{ID: 7, Kind: ToolCall, Name: "search", Status: StatusOK, Attrs: attrs}
	enc := encodeSpan(&s)
	for range 20 {
		require.Equal(t, enc, encodeSpan(&s))
	}
	got, err := DecodeSpan(7, enc)
	require.NoError(t, err)
	require.Equal(t, attrs, got.Attrs)
}

// TestDecodeRefusesTrailingBytes: a span or machine record with a byte
// after its last field is damaged, not a longer value.
func TestDecodeRefusesTrailingBytes(t *testing.T) {
	for _, s := range seedSpans() {
		enc := encodeSpan(&s)
		_, err := DecodeSpan(s.ID, enc)
		require.NoError(t, err)
		_, err = DecodeSpan(s.ID, append(enc, 0))
		require.ErrorIs(t, err, ErrCorruption)
	}
	for _, m := range seedMachines() {
		enc := encodeMachine(m)
		_, err := DecodeMachine(enc)
		require.NoError(t, err)
		_, err = DecodeMachine(append(enc, 0))
		require.ErrorIs(t, err, ErrCorruption)
	}
}
