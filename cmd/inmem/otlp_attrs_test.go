package main

import (
	"encoding/json"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// A token count recorded as an integer is exported as an OTLP intValue
// (a decimal string, as protobuf's JSON mapping writes int64), and every
// attribute value carries exactly one typed field.
func TestExportOTLPTypedAttributes(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	r, err := db.BeginRun(inmem.Name("typed"))
	require.NoError(t, err)
	_, err = r.Traces().Record(inmem.Span{
		Kind: inmem.LLMCall, Name: "chat", Status: inmem.StatusOK,
		Attrs: map[string]string{"gen_ai.request.model": "m", "note": ""},
		Values: map[string]inmem.AttrValue{
			"gen_ai.usage.input_tokens":  inmem.IntValue(812),
			"gen_ai.usage.output_tokens": inmem.Int64Value(-9007199254740993), // not exact as a JSON double
			"gen_ai.request.temperature": inmem.Float64Value(0.5),
			"gen_ai.request.top_k":       inmem.Float64Value(3),
			"stream":                     inmem.BoolValue(false),
			"gen_ai.system":              inmem.StringValue("openai"),
		},
		Tags: []string{"a", "b"},
	})
	require.NoError(t, err)
	require.NoError(t, db.Close())

	out, code := run(t, "export", dir, r.ID().String(), "--format", "otlp-json")
	require.Equal(t, 0, code, out)
	var req struct {
		ResourceSpans []struct {
			ScopeSpans []struct {
				Spans []struct {
					Attributes []struct {
						Key   string          `json:"key"`
						Value json.RawMessage `json:"value"`
					} `json:"attributes"`
				} `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &req))
	var keys []string
	got := map[string]string{}
	for _, a := range req.ResourceSpans[0].ScopeSpans[0].Spans[0].Attributes {
		keys = append(keys, a.Key)
		got[a.Key] = string(a.Value)
	}
	require.Equal(t, []string{
		"inmem.span.kind",
		"gen_ai.request.model", "gen_ai.request.temperature", "gen_ai.request.top_k", "gen_ai.system",
		"gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "note", "stream",
		"inmem.span.tags",
	}, keys, "kind first, then string and typed attributes in name order, then tags")
	require.Equal(t, map[string]string{
		"inmem.span.kind":            `{"stringValue":"llm_call"}`,
		"gen_ai.request.model":       `{"stringValue":"m"}`,
		"gen_ai.request.temperature": `{"doubleValue":0.5}`,
		"gen_ai.request.top_k":       `{"doubleValue":3}`,
		"gen_ai.system":              `{"stringValue":"openai"}`,
		"gen_ai.usage.input_tokens":  `{"intValue":"812"}`,
		"gen_ai.usage.output_tokens": `{"intValue":"-9007199254740993"}`,
		"note":                       `{"stringValue":""}`,
		"stream":                     `{"boolValue":false}`,
		"inmem.span.tags":            `{"stringValue":"a,b"}`,
	}, got)
}

// The OTLP shapes decode back into the same fields, which is how tests
// and tools read an export.
func TestOTLPValueDecodes(t *testing.T) {
	for _, v := range []otlpValue{
		otlpAttrValue(inmem.IntValue(7)),
		otlpAttrValue(inmem.Float64Value(1.25)),
		otlpAttrValue(inmem.BoolValue(true)),
		otlpAttrValue(inmem.StringValue("s")),
		otlpString(""),
	} {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		var back otlpValue
		require.NoError(t, json.Unmarshal(b, &back))
		back.kind = v.kind
		require.Equal(t, v, back, string(b))
	}
}
