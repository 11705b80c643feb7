package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/inmem-db/inmem"
)

// The JSON shapes the MCP tools take and return. They are this command's
// own rather than the library's types so that every field has a JSON
// schema that matches what is sent: IDs and times as strings, enums by
// name, byte values as text.
//
// Byte values (KV values, event payloads, cell values, span input and
// output) travel as UTF-8 strings in "value" (or "payload", "input",
// "output"). Bytes that are not valid UTF-8 come back in the matching
// "..._base64" field instead (standard base64, with padding), and a tool
// that takes a value accepts either field.

// nsArg is a namespace; empty fields mean "default".
type nsArg struct {
	Tenant string `json:"tenant,omitempty"`
	App    string `json:"app,omitempty"`
	Agent  string `json:"agent,omitempty"`
}

func (n nsArg) namespace() inmem.Namespace {
	return inmem.Namespace{Tenant: n.Tenant, App: n.App, Agent: n.Agent}
}

func nsOf(ns inmem.Namespace) nsArg { return nsArg{ns.Tenant, ns.App, ns.Agent} }

// scopeArg says where a primitive tool reads or writes: a run, or a
// namespace's shared scope (long-lived memory that belongs to no run).
type scopeArg struct {
	Run    string `json:"run,omitempty" jsonschema:"the run's ID, from runs_begin or runs_list; give this or shared"`
	Shared *nsArg `json:"shared,omitempty" jsonschema:"a namespace's shared scope, long-lived memory outside any run, instead of a run; {} is the default namespace"`
}

// scope resolves a scopeArg to a handle.
func (s *mcpServer) scope(a scopeArg) (*inmem.Run, error) {
	switch {
	case a.Shared != nil && a.Run != "":
		return nil, fmt.Errorf("give run or shared, not both: %w", inmem.ErrInvalidArgument)
	case a.Shared != nil:
		return s.db.Shared(a.Shared.namespace()), nil
	case a.Run == "":
		return nil, fmt.Errorf("run is required (a run ID from runs_begin or runs_list), or shared for a namespace's shared scope: %w", inmem.ErrInvalidArgument)
	}
	id, err := parseRun("run", a.Run)
	if err != nil {
		return nil, err
	}
	return s.db.Run(id)
}

func parseRun(field, s string) (inmem.RunID, error) {
	id, err := inmem.ParseRunID(s)
	switch {
	case err == nil:
		return id, nil
	case errors.Is(err, inmem.ErrInvalidArgument): // and names s
		return id, fmt.Errorf("%s is not a run ID: %w", field, err)
	}
	return id, fmt.Errorf("%s %q is not a run ID: %v: %w", field, s, err, inmem.ErrInvalidArgument)
}

// inBytes reads a value given as text or as base64, not both.
func inBytes(field, text, b64 string) ([]byte, error) {
	if b64 == "" {
		return []byte(text), nil
	}
	if text != "" {
		return nil, fmt.Errorf("give %s or %s_base64, not both: %w", field, field, inmem.ErrInvalidArgument)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("%s_base64: %v: %w", field, err, inmem.ErrInvalidArgument)
	}
	return b, nil
}

// outBytes returns b as text when it is UTF-8, else as base64.
func outBytes(b []byte) (text, b64 string) {
	if utf8.Valid(b) {
		return string(b), ""
	}
	return "", base64.StdEncoding.EncodeToString(b)
}

func timeString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, fmt.Errorf("%s %q: want an RFC 3339 time such as 2026-01-02T15:04:05Z: %w", field, s, inmem.ErrInvalidArgument)
	}
	return t, nil
}

func idString(id inmem.RunID) string {
	if id.IsZero() {
		return ""
	}
	return id.String()
}

// runOut is a run's description.
type runOut struct {
	ID        string            `json:"id"`
	Name      string            `json:"name,omitempty"`
	Namespace nsArg             `json:"namespace"`
	Parent    string            `json:"parent,omitempty"`
	ForkOf    string            `json:"fork_of,omitempty"`
	ForkStep  int               `json:"fork_step,omitempty"`
	Status    string            `json:"status"`
	Error     string            `json:"error,omitempty"`
	CreatedAt string            `json:"created_at"`
	UpdatedAt string            `json:"updated_at,omitempty"`
	EndedAt   string            `json:"ended_at,omitempty"`
	Tags      []string          `json:"tags,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"`
	Steps     int               `json:"steps"`
	Cold      bool              `json:"cold,omitempty"` // its history lives in the cold tier (DIR/cold/)
}

func runOf(r inmem.RunInfo) runOut {
	return runOut{
		ID: r.ID.String(), Name: r.Name, Namespace: nsOf(r.Namespace), Parent: idString(r.Parent),
		ForkOf: idString(r.ForkOf), ForkStep: r.ForkStep, Status: r.Status.String(), Error: r.Error,
		CreatedAt: timeString(r.CreatedAt), UpdatedAt: timeString(r.UpdatedAt), EndedAt: timeString(r.EndedAt),
		Tags: r.Tags, Meta: r.Meta, Steps: r.Steps, Cold: r.Cold,
	}
}

// parseStatus reads a run status by name ("completed").
func parseStatus(s string) (inmem.RunStatus, error) {
	for st := inmem.Active; st <= inmem.Archived; st++ {
		if st.String() == s {
			return st, nil
		}
	}
	return 0, fmt.Errorf("status %q: want active, paused, completed, failed, cancelled or archived: %w", s, inmem.ErrInvalidArgument)
}

// entryOut is one KV entry.
type entryOut struct {
	Key         string `json:"key"`
	Value       string `json:"value"`
	ValueBase64 string `json:"value_base64,omitempty"`
	Version     uint64 `json:"version,omitempty"`
}

func entryOf(e inmem.Entry) entryOut {
	v, b := outBytes(e.Value)
	return entryOut{Key: e.Key, Value: v, ValueBase64: b, Version: e.Version}
}

// eventOut is one event of a run's log.
type eventOut struct {
	Seq           uint64 `json:"seq"`
	Type          string `json:"type"`
	Payload       string `json:"payload"`
	PayloadBase64 string `json:"payload_base64,omitempty"`
	Time          string `json:"time"`
	Hash          string `json:"hash"`
}

func eventOf(e inmem.Event) eventOut {
	p, b := outBytes(e.Payload)
	return eventOut{Seq: e.Seq, Type: e.Type, Payload: p, PayloadBase64: b, Time: timeString(e.Time), Hash: fmt.Sprintf("%x", e.Hash)}
}

// cellOut is one state cell.
type cellOut struct {
	Name        string `json:"name"`
	Value       string `json:"value"`
	ValueBase64 string `json:"value_base64,omitempty"`
	Version     uint64 `json:"version"`
	UpdatedAt   string `json:"updated_at,omitempty"`
}

func cellOf(c inmem.Cell) cellOut {
	v, b := outBytes(c.Value)
	return cellOut{Name: c.Name, Value: v, ValueBase64: b, Version: c.Version, UpdatedAt: timeString(c.UpdatedAt)}
}

// spanOut is one span of a run's trace.
type spanOut struct {
	ID           uint64            `json:"id"`
	Parent       uint64            `json:"parent,omitempty"`
	Kind         string            `json:"kind"`
	Name         string            `json:"name"`
	Start        string            `json:"start"`
	End          string            `json:"end,omitempty"`
	Status       string            `json:"status,omitempty"`
	Input        string            `json:"input,omitempty"`
	InputBase64  string            `json:"input_base64,omitempty"`
	Output       string            `json:"output,omitempty"`
	OutputBase64 string            `json:"output_base64,omitempty"`
	Attrs        map[string]string `json:"attrs,omitempty" jsonschema:"string attributes"`
	Tags         []string          `json:"tags,omitempty"`
	// Values are the typed attributes by their plain JSON values; any,
	// not inmem.AttrValue, whose inferred schema would be an object.
	Values map[string]any `json:"values,omitempty" jsonschema:"typed attributes: numbers and booleans"`
}

func spanOf(s inmem.Span) spanOut {
	in, inB := outBytes(s.Input)
	o, oB := outBytes(s.Output)
	out := spanOut{
		ID: uint64(s.ID), Parent: uint64(s.Parent), Kind: s.Kind.String(), Name: s.Name,
		Start: timeString(s.Start), End: timeString(s.End), Status: string(s.Status),
		Input: in, InputBase64: inB, Output: o, OutputBase64: oB, Attrs: s.Attrs, Tags: s.Tags,
	}
	if len(s.Values) > 0 {
		out.Values = make(map[string]any, len(s.Values))
		for k, v := range s.Values {
			out.Values[k] = v // marshals as its plain value
		}
	}
	return out
}

// setAttr sets a span attribute given as JSON: a string in Attrs, a
// number or boolean in Values, typed, so that token counts stay numbers.
func setAttr(sp *inmem.Span, name string, v any) error {
	var tv inmem.AttrValue
	switch v := v.(type) {
	case string:
		if sp.Attrs == nil {
			sp.Attrs = map[string]string{}
		}
		sp.Attrs[name] = v
		return nil
	case bool:
		tv = inmem.BoolValue(v)
	case float64:
		// JSON has one number type; a whole number is an integer, as
		// OpenTelemetry's token counts are.
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			tv = inmem.Int64Value(int64(v))
		} else {
			tv = inmem.Float64Value(v)
		}
	default:
		return fmt.Errorf("attrs[%q]: want a string, number or boolean, got %s: %w", name, jsonKind(v), inmem.ErrInvalidArgument)
	}
	if sp.Values == nil {
		sp.Values = map[string]inmem.AttrValue{}
	}
	sp.Values[name] = tv
	return nil
}

// attrsProperty types traces_record's attrs: the Go type (any) says
// nothing of what is accepted.
func attrsProperty(s *jsonschema.Schema) {
	s.Properties["attrs"] = &jsonschema.Schema{
		Type:                 "object",
		Description:          "attributes: strings, numbers and booleans, with OpenTelemetry GenAI names where one exists (gen_ai.request.model, gen_ai.usage.input_tokens, gen_ai.tool.name)",
		AdditionalProperties: &jsonschema.Schema{Types: []string{"string", "number", "boolean"}},
	}
}

// deref returns *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// parseKind reads a span kind by name ("tool_call"); "" is unset.
func parseKind(s string) (inmem.SpanKind, error) {
	if s == "" {
		return 0, nil
	}
	for k := inmem.LLMCall; k <= inmem.Custom; k++ {
		if k.String() == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("kind %q: want llm_call, tool_call, retrieval, decision, thought, error or custom: %w", s, inmem.ErrInvalidArgument)
}

// parseMetric reads a vector metric by name; "" is cosine.
func parseMetric(s string) (inmem.Metric, error) {
	if s == "" {
		return inmem.Cosine, nil
	}
	for _, m := range []inmem.Metric{inmem.Cosine, inmem.Euclidean, inmem.Dot} {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("metric %q: want cosine, euclidean or dot: %w", s, inmem.ErrInvalidArgument)
}

// mapSlice converts every element of a slice; never nil, so that a list
// is [] in JSON rather than null.
func mapSlice[T, U any](xs []T, f func(T) U) []U {
	out := make([]U, 0, len(xs))
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}
