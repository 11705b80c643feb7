package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal([]byte(s), &v), s)
	return v
}

// TestParseFilter: each form of the filter language selects what its
// inmem.Filter counterpart does, and every malformed filter is an
// ErrInvalidArgument that says where and why.
func TestParseFilter(t *testing.T) {
	db := memDB(t)
	vs := db.Shared(inmem.Namespace{}).Vectors()
	require.NoError(t, vs.CreateCollection("c", inmem.VectorConfig{Dim: 2, Metric: inmem.Euclidean}))
	docs := map[string]map[string]any{
		"a": {"lang": "en", "year": 2019, "draft": false},
		"b": {"lang": "de", "year": 2021, "draft": true},
		"c": {"lang": "en", "year": 2023, "draft": false},
		"d": {"lang": "fr", "year": 2024},
	}
	i := float32(0)
	for k, m := range docs {
		i++
		require.NoError(t, vs.Upsert("c", k, []float32{i, 1}, m))
	}
	search := func(filter string) []string {
		t.Helper()
		f, err := parseFilter(decodeJSON(t, filter))
		require.NoError(t, err, filter)
		ms, err := vs.Search("c", []float32{0, 1}, 10, inmem.Where(f))
		require.NoError(t, err)
		var keys []string
		for _, m := range ms {
			keys = append(keys, m.Key)
		}
		return sortedCopy(keys)
	}
	require.Equal(t, []string{"a", "c"}, search(`{"field": "lang", "eq": "en"}`))
	require.Equal(t, []string{"a", "b"}, search(`{"field": "year", "lt": 2022}`))
	require.Equal(t, []string{"b", "c"}, search(`{"field": "year", "gte": 2020, "lte": 2023}`))
	require.Equal(t, []string{"c", "d"}, search(`{"field": "year", "gt": 2021}`))
	require.Equal(t, []string{"a", "b", "c"}, search(`{"field": "lang", "in": ["en", "de"]}`))
	require.Equal(t, []string{"b", "d"}, search(`{"not": {"field": "draft", "eq": false}}`))
	require.Equal(t, []string{"b", "c", "d"}, search(`{"or": [{"field": "draft", "eq": true}, {"field": "year", "gt": 2022}]}`))
	require.Equal(t, []string{"c"}, search(`{"and": [{"field": "lang", "eq": "en"}, {"field": "year", "gt": 2020}]}`))

	deep := strings.Repeat(`{"not": `, maxFilterDepth+2) + `{"field": "x", "eq": 1}` + strings.Repeat("}", maxFilterDepth+2)
	for filter, want := range map[string]string{
		`[]`:                            "want an object",
		`{}`:                            "empty filter",
		`{"eq": 1}`:                     `"eq" needs a "field"`,
		`{"field": "x"}`:                "with no comparison",
		`{"field": 3, "eq": 1}`:         "filter.field: want a non-empty string",
		`{"field": "x", "eq": null}`:    "filter.eq: want a string, number or boolean, got null",
		`{"field": "x", "in": []}`:      "filter.in: want a non-empty array",
		`{"field": "x", "in": [1, {}]}`: "filter.in[1]",
		`{"and": []}`:                   "filter.and: want a non-empty array of filters",
		`{"or": [{"field": "x"}]}`:      "filter.or[0]",
		`{"not": 1}`:                    "filter.not: want an object",
		`{"field": "x", "like": "y"}`:   `unknown key "like"`,
		deep:                            "nested deeper than",
	} {
		_, err := parseFilter(decodeJSON(t, filter))
		require.ErrorIs(t, err, inmem.ErrInvalidArgument, filter)
		require.Contains(t, err.Error(), want, filter)
	}
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
