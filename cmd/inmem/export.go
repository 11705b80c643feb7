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
// KV entries and spans, each tagged with "kind".
//
// otlp-json: the run's spans as an OTLP/JSON ExportTraceServiceRequest, the
// body an OpenTelemetry collector's OTLP/HTTP receiver accepts at
// /v1/traces: the trace ID is the run ID, span IDs are the span numbers.
//
// When stderr is a terminal a progress bar counts the records written.
func runExport(args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(out)
	format := fs.String("format", "jsonl", "jsonl or otlp-json")
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--format" || a == "-format":
			flags = append(flags, a)
			if i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		case strings.HasPrefix(a, "-"):
			flags = append(flags, a)
		default:
			pos = append(pos, a)
		}
	}
	if err := fs.Parse(flags); err != nil {
		return errUsage{err}
	}
	if len(pos) != 2 {
		return errUsage{fmt.Errorf("usage: inmem export DIR RUN [--format jsonl|otlp-json]")}
	}
	if *format != "jsonl" && *format != "otlp-json" {
		return errUsage{fmt.Errorf("format %q: want jsonl or otlp-json", *format)}
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
		return enc.Encode(map[string]any{"kind": kind, "data": v})
	}
	if err := line("run", info); err != nil {
		return err
	}
	for _, e := range events {
		ev := exportEvent{Seq: e.Seq, Type: e.Type, Payload: e.Payload, Time: e.Time.UTC().Format("2006-01-02T15:04:05.999999999Z07:00"),
			PrevHash: hex.EncodeToString(e.PrevHash[:]), Hash: hex.EncodeToString(e.Hash[:])}
		if err := line("event", ev); err != nil {
			return err
		}
	}
	for _, c := range cells {
		if err := line("cell", c); err != nil {
			return err
		}
	}
	for _, e := range kv {
		if err := line("kv", e); err != nil {
			return err
		}
	}
	for _, s := range spans {
		if err := line("span", s); err != nil {
			return err
		}
	}
	return nil
}

// exportEvent is an event as JSON, hashes in hex.
type exportEvent struct {
	Seq      uint64 `json:"seq"`
	Type     string `json:"type"`
	Payload  []byte `json:"payload"`
	Time     string `json:"time"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// OTLP/JSON shapes (opentelemetry-proto, JSON mapping: IDs as hex, 64-bit
// integers as decimal strings, enums as integers).
type otlpValue struct {
	StringValue string `json:"stringValue"`
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
		{"service.name", otlpValue{orDefault(info.Namespace.Agent, "inmem-agent")}},
		{"inmem.run.id", otlpValue{info.ID.String()}},
		{"inmem.run.name", otlpValue{info.Name}},
		{"inmem.namespace", otlpValue{info.Namespace.String()}},
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
		keys := make([]string, 0, len(s.Attrs))
		for k := range s.Attrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		o.Attributes = append(o.Attributes, otlpKV{"inmem.span.kind", otlpValue{s.Kind.String()}})
		for _, k := range keys {
			o.Attributes = append(o.Attributes, otlpKV{k, otlpValue{s.Attrs[k]}})
		}
		if len(s.Tags) > 0 {
			o.Attributes = append(o.Attributes, otlpKV{"inmem.span.tags", otlpValue{strings.Join(s.Tags, ",")}})
		}
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
