package primitives

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestScanSpansMatchesQuery(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	m := newMemTxn()
	names := []string{"llm", "tool", "t"}
	tags := []string{"x", "y", "xy"}
	for i := range 120 {
		s := Span{Kind: SpanKind(1 + rng.IntN(int(Custom))), Name: names[rng.IntN(len(names))]}
		if i > 0 && rng.IntN(2) == 0 {
			s.Parent = SpanID(1 + rng.IntN(i))
		}
		for range rng.IntN(3) {
			s.Tags = append(s.Tags, tags[rng.IntN(len(tags))])
		}
		s.Start = testEpoch.Add(time.Duration(rng.IntN(30)) * time.Second) // ties
		record(t, m, s)
	}
	at := func() time.Time { return testEpoch.Add(time.Duration(rng.IntN(32)) * time.Second) }
	nonEmpty := 0
	for range 500 {
		var q SpanQuery
		if rng.IntN(2) == 0 {
			q.Kind = SpanKind(1 + rng.IntN(int(Custom)))
		}
		if rng.IntN(3) == 0 {
			q.Name = names[rng.IntN(len(names))]
		}
		if rng.IntN(3) == 0 {
			q.Tag = tags[rng.IntN(len(tags))]
		}
		if rng.IntN(4) == 0 {
			q.Parent = SpanID(1 + rng.IntN(20))
		}
		if rng.IntN(2) == 0 {
			q.From = at()
		}
		if rng.IntN(2) == 0 {
			q.Until = at()
		}
		if rng.IntN(3) == 0 {
			q.Limit = 1 + rng.IntN(5)
		}
		want, err := QuerySpans(m, q)
		require.NoError(t, err)
		got, err := collectScan(0, func(fn func(Span) bool) error { return ScanSpans(m, q, fn) })
		require.NoError(t, err)
		require.Equal(t, want, got, "%+v", q)
		if len(want) > 0 {
			nonEmpty++
		}
	}
	require.Greater(t, nonEmpty, 100)
}

// A scan reads the index only as far as it has to: to the limit, or to
// where fn stopped it.
func TestScanSpansStops(t *testing.T) {
	m := newMemTxn()
	for i := range 10 {
		m.advance(time.Second)
		record(t, m, Span{Kind: Thought, Name: "s", Tags: []string{"t"}, Parent: SpanID(i / 2)})
	}
	scan := func(q SpanQuery, stop int) ([]Span, int, error) {
		before := m.scanned
		got, err := collectScan(stop, func(fn func(Span) bool) error { return ScanSpans(m, q, fn) })
		return got, m.scanned - before, err
	}
	got, n, err := scan(SpanQuery{Limit: 3}, 0)
	require.NoError(t, err)
	require.Equal(t, []SpanID{1, 2, 3}, ids(got))
	require.Equal(t, 3, n)
	got, n, err = scan(SpanQuery{Tag: "t"}, 2)
	require.NoError(t, err)
	require.Equal(t, []SpanID{1, 2}, ids(got))
	require.Equal(t, 2, n)

	_, _, err = scan(SpanQuery{Limit: -1}, 0)
	require.ErrorIs(t, err, ErrInvalidArgument)

	// A damaged index entry past where the scan stops goes unread; one
	// before it ends the scan with ErrCorruption after the spans before.
	bad := string(key(spanTime, []byte{0xff, 0xff})) // sorts after every start
	m.data[bad] = []byte{}
	i, _ := slices.BinarySearch(m.keys, bad)
	m.keys = slices.Insert(m.keys, i, bad)
	got, _, err = scan(SpanQuery{Limit: 2}, 0)
	require.NoError(t, err)
	require.Len(t, got, 2)
	_, err = QuerySpans(m, SpanQuery{Limit: 2})
	require.ErrorIs(t, err, ErrCorruption, "Query reads the whole index first")
	got, _, err = scan(SpanQuery{}, 0)
	require.ErrorIs(t, err, ErrCorruption)
	require.Len(t, got, 10)
}
