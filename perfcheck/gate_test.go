package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// synthetic is a report with one case whose every normalised metric is
// norm with the given noise, and whose round-median latencies are lat ns.
func synthetic(norm, noise, lat float64) *Report {
	c := CaseResult{Name: "get", Params: "keys=10", Round: map[string]float64{}, Norm: map[string]float64{},
		Noise: map[string]float64{}, Extra: map[string]float64{"recall@10": 0.95}, OpsPerSec: 1e6}
	for _, m := range roundMetrics {
		c.Round[m] = lat
		c.Norm[m] = norm
		c.Noise[m] = noise
	}
	return &Report{Scale: 1, Cases: []CaseResult{c}}
}

func minTarget(v float64) *float64 { return &v }

func checksOf(r *Report, kind string) []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}

func TestGateTargets(t *testing.T) {
	targets := &Targets{Targets: []Target{
		{Case: "get", Metric: "p99", Max: "2us"},
		{Case: "get", Metric: "recall@10", Min: minTarget(0.9)},
		{Case: "get", Metric: "ops/s", Min: minTarget(5e5)},
		{Case: "not-run", Metric: "p99", Max: "1ns"}, // a case not selected is not checked
	}}
	r := synthetic(1, 0, 1900)
	Gate(r, targets, nil, DefaultGate)
	require.True(t, r.Pass, "%+v", r.Checks)
	require.Len(t, r.Checks, 3)

	r = synthetic(1, 0, 2100) // 2.1 µs > 2 µs
	Gate(r, targets, nil, DefaultGate)
	require.False(t, r.Pass)
	require.False(t, r.Checks[0].Pass)
	require.True(t, r.Checks[1].Pass)

	// A missing extra metric fails rather than passing silently.
	r = synthetic(1, 0, 1000)
	r.Cases[0].Extra = nil
	Gate(r, targets, nil, DefaultGate)
	require.False(t, r.Pass)
	require.False(t, r.Checks[1].Pass)
}

func TestGateBaseline(t *testing.T) {
	base := synthetic(10, 0.01, 1000)
	for _, tc := range []struct {
		name  string
		norm  float64
		noise float64
		pass  bool
	}{
		{"same", 10, 0.01, true},
		{"faster", 5, 0.01, true},
		{"within threshold", 15, 0.01, true}, // 1.5x <= 1.5 + 3*0.01
		{"regressed", 16, 0.01, false},       // 1.6x > 1.53
		{"noise widens the limit", 19, 0.15, true},
		{"noise is capped", 31, 2, false}, // limit 1.5 + 3*0.5 = 3.0
		{"deliberate slowdown", 1000, 0.01, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := synthetic(tc.norm, tc.noise, 1000)
			Gate(r, nil, base, DefaultGate)
			bc := checksOf(r, "baseline")
			require.Len(t, bc, len(DefaultGate.Metrics))
			require.Equal(t, tc.pass, r.Pass, "%+v", bc)
			require.InDelta(t, tc.norm/10, bc[0].Value, 1e-9)
		})
	}
}

func TestGateBaselineShapeMismatch(t *testing.T) {
	base := synthetic(10, 0, 1000)
	r := synthetic(1000, 0, 1000)
	r.Cases[0].Params = "keys=20"
	Gate(r, nil, base, DefaultGate)
	require.True(t, r.Pass)
	require.Empty(t, r.Checks)
	require.Len(t, r.Notes, 1)

	r = synthetic(1000, 0, 1000)
	r.Scale = 0.5
	Gate(r, nil, base, DefaultGate)
	require.True(t, r.Pass)
	require.Len(t, r.Notes, 1)

	// A zero in the baseline cannot be compared: that is a failure.
	base.Cases[0].Norm["p99"] = 0
	r = synthetic(10, 0, 1000)
	Gate(r, nil, base, DefaultGate)
	require.False(t, r.Pass)
}

func TestParseTargets(t *testing.T) {
	tg, err := ParseTargets(defaultTargets)
	require.NoError(t, err)
	want := map[string]string{"get": "2us", "put": "5us", "batched-put": "20us", "agent-step": "50us", "vector-search": "1ms"}
	got := map[string]string{}
	for _, x := range tg.Targets {
		if x.Metric == "p99" {
			got[x.Case] = x.Max
		}
		_, ok := caseByName(x.Case)
		require.True(t, ok, "target for unknown case %q", x.Case)
	}
	require.Equal(t, want, got)

	for _, bad := range []string{
		`{"targets": [{"case": "get", "metric": "p99"}]}`,
		`{"targets": [{"case": "get", "metric": "p99", "max": "2us", "min": 1}]}`,
		`{"targets": [{"case": "get", "metric": "p99", "max": "fast"}]}`,
		`{"targets": `,
	} {
		_, err := ParseTargets([]byte(bad))
		require.Error(t, err, bad)
	}
}

func TestRelSpread(t *testing.T) {
	require.Equal(t, 0.0, relSpread([]float64{1, 2}))
	require.Equal(t, 0.0, relSpread([]float64{3, 3, 3, 3, 3}))
	// One wild round barely moves it.
	require.InDelta(t, 1.4826*0.01, relSpread([]float64{1, 1.01, 0.99, 1, 50}), 1e-9)
	require.Equal(t, 2.0, median([]float64{3, 1, 2}))
	require.Equal(t, 2.5, median([]float64{4, 1, 2, 3}))
}

func TestGateKnownMiss(t *testing.T) {
	targets := &Targets{Targets: []Target{
		{Case: "get", Metric: "p99", Max: "2us", KnownMiss: "the commit path"},
		{Case: "get", Metric: "p50", Max: "2us"},
	}}
	r := synthetic(1, 0, 3000) // misses both
	targets.Targets[1].Max = "4us"
	Gate(r, targets, nil, DefaultGate)
	require.True(t, r.Pass, "a known miss alone does not fail the run")
	require.False(t, r.Checks[0].Pass)
	require.True(t, r.Checks[0].Known)
	require.Contains(t, r.Checks[0].Detail, "known miss: the commit path")

	opt := DefaultGate
	opt.EnforceAll = true
	Gate(r, targets, nil, opt)
	require.False(t, r.Pass, "-enforce-all")

	targets.Targets[1].Max = "2us" // an ordinary target still fails
	Gate(r, targets, nil, DefaultGate)
	require.False(t, r.Pass)

	r = synthetic(1, 0, 1000) // met: a note says to drop the mark
	Gate(r, targets, nil, DefaultGate)
	require.True(t, r.Pass)
	require.Len(t, r.Notes, 1)
}

// TestGateTargetMetrics: with TargetMetrics set, only those metrics'
// targets gate the run; a missed latency target is reported, not failed.
func TestGateTargetMetrics(t *testing.T) {
	targets := &Targets{Targets: []Target{
		{Case: "get", Metric: "p99", Max: "2us"},
		{Case: "get", Metric: "recall@10", Min: minTarget(0.9)},
	}}
	r := synthetic(1, 0, 3000) // p99 3us: missed; recall 0.95: met
	opt := DefaultGate
	opt.TargetMetrics = []string{"recall@10"}
	Gate(r, targets, nil, opt)
	require.True(t, r.Pass, "the latency target is not gated")
	require.False(t, r.Checks[0].Pass)
	require.True(t, r.Checks[0].Ungated)
	require.Contains(t, r.Checks[0].Detail, "not gated")
	require.False(t, r.Checks[1].Ungated)

	targets.Targets[1].Min = minTarget(0.99) // recall missed: still gated
	Gate(r, targets, nil, opt)
	require.False(t, r.Pass)

	Gate(r, targets, nil, DefaultGate)
	require.False(t, r.Checks[0].Ungated, "by default every target gates")
}
