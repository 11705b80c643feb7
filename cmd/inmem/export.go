package main

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/inmem-db/inmem"
)

// runExport writes one run out: inmem export DIR RUN --format jsonl|otlp-json.
//
// jsonl: one JSON object per line: the run, then its events, state cells,
// KV entries and spans, each tagged with "kind", the data in the shape
// show --json prints (events with their prev_hash too). It is JSON
// already, so --json asks for it.
//
// otlp-json: the run's spans as an OTLP/JSON ExportTraceServiceRequest, the
// body an OpenTelemetry collector's OTLP/HTTP receiver accepts at
// /v1/traces: the trace ID is the run ID, span IDs are the span numbers.
//
// When stderr is a terminal a progress bar counts the records written.
func runExport(args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	format := fs.String("format", "jsonl", "jsonl or otlp-json")
	asJSON := fs.Bool("json", false, "the same as --format jsonl")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if *format != "jsonl" && *format != "otlp-json" {
		return errUsage{fmt.Errorf("format %q: want jsonl or otlp-json", *format)}
	}
	if *asJSON && *format != "jsonl" {
		return errUsage{fmt.Errorf("--json is --format jsonl; give one format")}
	}
	db, id, err := openWithRun(pos[0], pos[1], errOut)
	if err != nil {
		return err
	}
	defer db.Close()
	rd, err := readRun(db, id)
	if err != nil {
		return err
	}
	info, events, cells, spans, kv := rd.Run, rd.Events, rd.State, rd.Spans, rd.KV
	if *format == "otlp-json" {
		enc := json.NewEncoder(out)
		return enc.Encode(otlpRequest(info, spans))
	}
	enc := json.NewEncoder(out)
	bar := newProgress(errOut, "export", int64(1+len(events)+len(cells)+len(kv)+len(spans)))
	defer bar.finish()
	line := func(kind string, v any) error {
		bar.add(1)
		return enc.Encode(exportLine{kind, v})
	}
	if err := line("run", runOf(info)); err != nil {
		return err
	}
	for _, e := range events {
		if err := line("event", exportEvent{eventOf(e), hex.EncodeToString(e.PrevHash[:])}); err != nil {
			return err
		}
	}
	for _, c := range cells {
		if err := line("cell", cellOf(c)); err != nil {
			return err
		}
	}
	for _, e := range kv {
		if err := line("kv", entryOf(e)); err != nil {
			return err
		}
	}
	for _, s := range spans {
		if err := line("span", spanOf(s)); err != nil {
			return err
		}
	}
	return nil
}

// exportLine is one line of a jsonl export.
type exportLine struct {
	Kind string `json:"kind"` // run, event, cell, kv or span
	Data any    `json:"data"`
}

// exportEvent is an event as export writes it: show's shape and the hash
// of the event before it, so that the chain can be checked from the file.
type exportEvent struct {
	eventOut
	PrevHash string `json:"prev_hash"`
}

// OTLP/JSON shapes (opentelemetry-proto, JSON mapping: IDs as hex, 64-bit
// integers as decimal strings, enums as integers).

// otlpValue is an OTLP AnyValue: a string, an int, a double or a bool. It
// is written with only the field its kind names, since a receiver reads
// whichever field is present as the value's type.
type otlpValue struct {
	StringValue string  `json:"stringValue"`
	IntValue    string  `json:"intValue"` // decimal: protobuf's JSON mapping of int64
	DoubleValue float64 `json:"doubleValue"`
	BoolValue   bool    `json:"boolValue"`

	kind inmem.AttrKind // the field set; 0 for StringValue
}

// MarshalJSON writes the one field the value's kind names.
func (v otlpValue) MarshalJSON() ([]byte, error) {
	switch v.kind {
	case inmem.AttrKindInt64:
		return json.Marshal(struct {
			V string `json:"intValue"`
		}{v.IntValue})
	case inmem.AttrKindFloat64:
		return json.Marshal(struct {
			V float64 `json:"doubleValue"`
		}{v.DoubleValue})
	case inmem.AttrKindBool:
		return json.Marshal(struct {
			V bool `json:"boolValue"`
		}{v.BoolValue})
	}
	return json.Marshal(struct {
		V string `json:"stringValue"`
	}{v.StringValue})
}

func otlpString(s string) otlpValue { return otlpValue{StringValue: s} }

// otlpAttrValue maps a typed span attribute to OTLP; Record refuses the
// unset value and non-finite floats, so each maps to a valid AnyValue.
func otlpAttrValue(a inmem.AttrValue) otlpValue {
	switch a.Kind() {
	case inmem.AttrKindInt64:
		return otlpValue{IntValue: strconv.FormatInt(a.Int64(), 10), kind: inmem.AttrKindInt64}
	case inmem.AttrKindFloat64:
		return otlpValue{DoubleValue: a.Float64(), kind: inmem.AttrKindFloat64}
	case inmem.AttrKindBool:
		return otlpValue{BoolValue: a.Bool(), kind: inmem.AttrKindBool}
	}
	return otlpString(a.String())
}

// otlpSpanAttributes lists a span's attributes for OTLP: its kind, then
// its string and typed attributes together in name order, then its tags.
func otlpSpanAttributes(s inmem.Span) []otlpKV {
	attrs := make([]otlpKV, 0, 2+len(s.Attrs)+len(s.Values))
	attrs = append(attrs, otlpKV{"inmem.span.kind", otlpString(s.Kind.String())})
	for k, v := range s.Attrs {
		attrs = append(attrs, otlpKV{k, otlpString(v)})
	}
	for k, v := range s.Values {
		attrs = append(attrs, otlpKV{k, otlpAttrValue(v)})
	}
	sort.Slice(attrs[1:], func(i, j int) bool { return attrs[1+i].Key < attrs[1+j].Key })
	if len(s.Tags) > 0 {
		attrs = append(attrs, otlpKV{"inmem.span.tags", otlpString(strings.Join(s.Tags, ","))})
	}
	return attrs
}

type otlpKV struct {
	Key   string    `json:"key"`
	Value otlpValue `json:"value"`
}

type otlpStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message,omitempty"`
}

type otlpSpan struct {
	TraceID           string     `json:"traceId"`
	SpanID            string     `json:"spanId"`
	ParentSpanID      string     `json:"parentSpanId,omitempty"`
	Name              string     `json:"name"`
	Kind              int        `json:"kind"`
	StartTimeUnixNano string     `json:"startTimeUnixNano"`
	EndTimeUnixNano   string     `json:"endTimeUnixNano"`
	Attributes        []otlpKV   `json:"attributes,omitempty"`
	Status            otlpStatus `json:"status"`
}

type otlpScopeSpans struct {
	Scope struct {
		Name string `json:"name"`
	} `json:"scope"`
	Spans []otlpSpan `json:"spans"`
}

type otlpResourceSpans struct {
	Resource struct {
		Attributes []otlpKV `json:"attributes"`
	} `json:"resource"`
	ScopeSpans []otlpScopeSpans `json:"scopeSpans"`
}

type otlpExport struct {
	ResourceSpans []otlpResourceSpans `json:"resourceSpans"`
}

func spanIDHex(id inmem.SpanID) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(id))
	return hex.EncodeToString(b[:])
}

// otlpRequest maps a run's spans to OTLP. LLM, tool and retrieval calls are
// CLIENT spans (calls out of the agent), the rest INTERNAL; the span kind
// and tags travel as attributes.
func otlpRequest(info inmem.RunInfo, spans []inmem.Span) otlpExport {
	const (
		kindInternal = 1
		kindClient   = 3
		statusOK     = 1
		statusError  = 2
	)
	trace := hex.EncodeToString(info.ID[:])
	var rs otlpResourceSpans
	rs.Resource.Attributes = []otlpKV{
		{"service.name", otlpString(orDefault(info.Namespace.Agent, "inmem-agent"))},
		{"inmem.run.id", otlpString(info.ID.String())},
		{"inmem.run.name", otlpString(info.Name)},
		{"inmem.namespace", otlpString(info.Namespace.String())},
	}
	var ss otlpScopeSpans
	ss.Scope.Name = "github.com/inmem-db/inmem"
	ss.Spans = []otlpSpan{}
	for _, s := range spans {
		o := otlpSpan{
			TraceID:           trace,
			SpanID:            spanIDHex(s.ID),
			Name:              s.Name,
			Kind:              kindInternal,
			StartTimeUnixNano: strconv.FormatInt(s.Start.UnixNano(), 10),
			EndTimeUnixNano:   strconv.FormatInt(s.Start.UnixNano(), 10),
		}
		if !s.End.IsZero() {
			o.EndTimeUnixNano = strconv.FormatInt(s.End.UnixNano(), 10)
		}
		if s.Parent != 0 {
			o.ParentSpanID = spanIDHex(s.Parent)
		}
		switch s.Kind {
		case inmem.LLMCall, inmem.ToolCall, inmem.Retrieval:
			o.Kind = kindClient
		}
		switch s.Status {
		case inmem.StatusOK:
			o.Status.Code = statusOK
		case inmem.StatusError:
			o.Status.Code = statusError
		}
		o.Attributes = otlpSpanAttributes(s)
		ss.Spans = append(ss.Spans, o)
	}
	rs.ScopeSpans = []otlpScopeSpans{ss}
	return otlpExport{ResourceSpans: []otlpResourceSpans{rs}}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
