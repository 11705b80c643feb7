package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/inmem-db/inmem"
)

// The vector metadata filter language of the MCP vectors_search tool, as
// JSON:
//
//	{"field": "lang", "eq": "en"}                 inmem.Eq
//	{"field": "lang", "in": ["en", "de"]}         inmem.In
//	{"field": "year", "gte": 2020, "lt": 2024}    inmem.Gte and inmem.Lt
//	{"and": [F, ...]}  {"or": [F, ...]}  {"not": F}
//
// Every condition in one object must hold (they are ANDed), so a range is
// one object. Values are strings, numbers or booleans; numbers compare as
// numbers, strings as strings.

// maxFilterDepth bounds nesting, so that a hostile filter cannot exhaust
// the stack.
const maxFilterDepth = 32

var filterOps = []string{"and", "eq", "field", "gt", "gte", "in", "lt", "lte", "not", "or"}

// parseFilter turns a decoded JSON filter into an inmem.Filter.
func parseFilter(v any) (inmem.Filter, error) {
	return parseFilterAt(v, "filter", 0)
}

func parseFilterAt(v any, path string, depth int) (inmem.Filter, error) {
	var none inmem.Filter
	if depth > maxFilterDepth {
		return none, fmt.Errorf("%s: nested deeper than %d: %w", path, maxFilterDepth, inmem.ErrInvalidArgument)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return none, fmt.Errorf("%s: want an object such as {\"field\": \"lang\", \"eq\": \"en\"}, got %s: %w", path, jsonKind(v), inmem.ErrInvalidArgument)
	}
	if len(obj) == 0 {
		return none, fmt.Errorf("%s: empty filter: %w", path, inmem.ErrInvalidArgument)
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic errors and filter order
	field, hasField := obj["field"]
	var name string
	if hasField {
		s, ok := field.(string)
		if !ok || s == "" {
			return none, fmt.Errorf("%s.field: want a non-empty string: %w", path, inmem.ErrInvalidArgument)
		}
		name = s
	}
	var parts []inmem.Filter
	comparisons := 0
	for _, k := range keys {
		val := obj[k]
		at := path + "." + k
		switch k {
		case "field":
		case "eq", "gt", "gte", "lt", "lte":
			if !hasField {
				return none, fmt.Errorf("%s: %q needs a \"field\": %w", path, k, inmem.ErrInvalidArgument)
			}
			if err := checkScalar(at, val); err != nil {
				return none, err
			}
			comparisons++
			parts = append(parts, map[string]func(string, any) inmem.Filter{
				"eq": inmem.Eq, "gt": inmem.Gt, "gte": inmem.Gte, "lt": inmem.Lt, "lte": inmem.Lte,
			}[k](name, val))
		case "in":
			if !hasField {
				return none, fmt.Errorf("%s: \"in\" needs a \"field\": %w", path, inmem.ErrInvalidArgument)
			}
			list, ok := val.([]any)
			if !ok || len(list) == 0 {
				return none, fmt.Errorf("%s: want a non-empty array of values: %w", at, inmem.ErrInvalidArgument)
			}
			for i, x := range list {
				if err := checkScalar(fmt.Sprintf("%s[%d]", at, i), x); err != nil {
					return none, err
				}
			}
			comparisons++
			parts = append(parts, inmem.In(name, list...))
		case "and", "or":
			list, ok := val.([]any)
			if !ok || len(list) == 0 {
				return none, fmt.Errorf("%s: want a non-empty array of filters: %w", at, inmem.ErrInvalidArgument)
			}
			fs := make([]inmem.Filter, 0, len(list))
			for i, x := range list {
				f, err := parseFilterAt(x, fmt.Sprintf("%s[%d]", at, i), depth+1)
				if err != nil {
					return none, err
				}
				fs = append(fs, f)
			}
			if k == "and" {
				parts = append(parts, inmem.And(fs...))
			} else {
				parts = append(parts, inmem.Or(fs...))
			}
		case "not":
			f, err := parseFilterAt(val, at, depth+1)
			if err != nil {
				return none, err
			}
			parts = append(parts, inmem.Not(f))
		default:
			return none, fmt.Errorf("%s: unknown key %q; a filter has %s: %w", path, k, strings.Join(filterOps, ", "), inmem.ErrInvalidArgument)
		}
	}
	if hasField && comparisons == 0 {
		return none, fmt.Errorf("%s: \"field\" %q with no comparison (eq, in, gt, gte, lt, lte): %w", path, name, inmem.ErrInvalidArgument)
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	return inmem.And(parts...), nil
}

// checkScalar accepts the JSON values a filter can compare.
func checkScalar(path string, v any) error {
	switch v.(type) {
	case string, float64, bool:
		return nil
	}
	return fmt.Errorf("%s: want a string, number or boolean, got %s: %w", path, jsonKind(v), inmem.ErrInvalidArgument)
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

// filterSchema is the JSON schema of the filter language. It is recursive,
// which schema inference from Go types cannot express, so it is written
// out: root is the tool's input schema, which gets the definition.
func filterSchema(root *jsonschema.Schema) *jsonschema.Schema {
	// Fresh nodes each time: a schema is a tree, no node in two places.
	scalar := func() *jsonschema.Schema { return &jsonschema.Schema{Types: []string{"string", "number", "boolean"}} }
	ref := func() *jsonschema.Schema { return &jsonschema.Schema{Ref: "#/$defs/filter"} }
	list := func() *jsonschema.Schema {
		return &jsonschema.Schema{Type: "array", Items: ref(), MinItems: jsonschema.Ptr(1)}
	}
	if root.Defs == nil {
		root.Defs = map[string]*jsonschema.Schema{}
	}
	root.Defs["filter"] = &jsonschema.Schema{
		Type:        "object",
		Description: `a metadata filter: {"field": F, "eq"|"gt"|"gte"|"lt"|"lte": V} or {"field": F, "in": [V, ...]}, {"and": [...]}, {"or": [...]}, {"not": {...}}; the conditions of one object are ANDed`,
		Properties: map[string]*jsonschema.Schema{
			"field": {Type: "string", Description: "the metadata field compared"},
			"eq":    scalar(), "gt": scalar(), "gte": scalar(), "lt": scalar(), "lte": scalar(),
			"in":  {Type: "array", Items: scalar(), MinItems: jsonschema.Ptr(1)},
			"and": list(), "or": list(), "not": ref(),
		},
		AdditionalProperties: &jsonschema.Schema{Not: &jsonschema.Schema{}},
		MinProperties:        jsonschema.Ptr(1),
	}
	return &jsonschema.Schema{Ref: "#/$defs/filter", Description: "only vectors whose metadata match this filter"}
}
