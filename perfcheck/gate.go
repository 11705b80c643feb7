package main

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"
)

// Targets is the targets file: absolute bounds the library must meet on
// the machine class CI runs on.
type Targets struct {
	Targets []Target `json:"targets"`
}

// Target bounds one metric of one case: Max for a latency ("p99", "p50",
// "p999", "ns/op"; a duration such as "2us"), Min for a rate or a score
// ("ops/s" or an extra metric such as "recall@10").
type Target struct {
	Case   string   `json:"case"`
	Metric string   `json:"metric"`
	Max    string   `json:"max,omitempty"`
	Min    *float64 `json:"min,omitempty"`
	Why    string   `json:"why,omitempty"`
	// KnownMiss, when set, says why the library does not meet the target
	// yet. A miss is then reported (MISS) but does not fail the run, so
	// the gate stays green for everything else and keeps catching
	// regressions of this case against the baseline; -enforce-all makes
	// it fail again. Remove it once the target is met.
	KnownMiss string `json:"known_miss,omitempty"`
}

// ParseTargets reads a targets file and checks every entry is usable.
func ParseTargets(b []byte) (*Targets, error) {
	var t Targets
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("targets: %w", err)
	}
	for i, tg := range t.Targets {
		if (tg.Max == "") == (tg.Min == nil) {
			return nil, fmt.Errorf("targets[%d] (%s %s): exactly one of max and min", i, tg.Case, tg.Metric)
		}
		if tg.Max != "" {
			if _, err := time.ParseDuration(tg.Max); err != nil {
				return nil, fmt.Errorf("targets[%d] (%s %s): %w", i, tg.Case, tg.Metric, err)
			}
		}
	}
	return &t, nil
}

// Check is one comparison the gate made.
type Check struct {
	Kind string `json:"kind"` // "target" or "baseline"
	// Known marks a target the library is known to miss (Target.KnownMiss):
	// its failure does not fail the run.
	Known bool `json:"known_miss,omitempty"`
	// Ungated marks a target this run reports without gating on it
	// (GateOptions.TargetMetrics): its failure does not fail the run.
	Ungated bool    `json:"ungated,omitempty"`
	Case    string  `json:"case"`
	Metric  string  `json:"metric"`
	Value   float64 `json:"value"` // ns for latencies; for baseline, the ratio current/baseline
	Limit   float64 `json:"limit"`
	Pass    bool    `json:"pass"`
	Detail  string  `json:"detail"`
}

// GateOptions are the baseline comparison's tolerances.
type GateOptions struct {
	// Threshold is the ratio to the baseline, after normalising both by
	// their reference workload, beyond which a metric has regressed.
	Threshold float64
	// NoiseK widens the threshold by NoiseK times the measured noise (the
	// larger of the run's and the baseline's): limit = Threshold + K*noise.
	NoiseK float64
	// MaxNoise caps the noise counted, so a wildly noisy run cannot widen
	// the gate without bound (it is flagged instead).
	MaxNoise float64
	// Metrics are compared with the baseline.
	Metrics []string
	// EnforceAll fails the run on known misses too.
	EnforceAll bool
	// TargetMetrics, when not empty, are the metrics whose absolute
	// targets gate the run; the others are checked and reported only. A
	// shared CI machine's latency tail moves with its neighbours, while
	// recall and the baseline's ratios (normalised by the reference
	// workload) do not.
	TargetMetrics []string
}

// DefaultGate is what make perfcheck uses.
var DefaultGate = GateOptions{Threshold: 1.5, NoiseK: 3, MaxNoise: 0.5, Metrics: []string{"ns/op", "p99"}}

// Gate checks rep against the targets and, if base is not nil, against
// the baseline, appends every check to rep.Checks and sets rep.Pass.
func Gate(rep *Report, targets *Targets, base *Report, opt GateOptions) {
	rep.Checks = nil
	rep.Pass = true
	add := func(c Check) {
		rep.Checks = append(rep.Checks, c)
		rep.Pass = rep.Pass && (c.Pass || c.Known || c.Ungated)
	}
	byName := map[string]*CaseResult{}
	for i := range rep.Cases {
		byName[rep.Cases[i].Name] = &rep.Cases[i]
	}
	if targets != nil {
		for _, t := range targets.Targets {
			c, ok := byName[t.Case]
			if !ok {
				continue // the case was not selected
			}
			ck := checkTarget(c, t)
			if t.KnownMiss != "" && !opt.EnforceAll {
				ck.Known = true
				if ck.Pass {
					rep.Notes = append(rep.Notes, fmt.Sprintf("%s %s: met, though targets.json calls it a known miss: drop known_miss", t.Case, t.Metric))
				} else {
					ck.Detail += "; known miss: " + t.KnownMiss
				}
			}
			if len(opt.TargetMetrics) > 0 && !slices.Contains(opt.TargetMetrics, t.Metric) {
				ck.Ungated = true
				if !ck.Pass {
					ck.Detail += "; not gated in this run (-target-metrics)"
				}
			}
			add(ck)
		}
	}
	if base == nil {
		return
	}
	baseBy := map[string]*CaseResult{}
	for i := range base.Cases {
		baseBy[base.Cases[i].Name] = &base.Cases[i]
	}
	for i := range rep.Cases {
		c := &rep.Cases[i]
		b, ok := baseBy[c.Name]
		if !ok {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: not in the baseline", c.Name))
			continue
		}
		if b.Params != c.Params || base.Scale != rep.Scale {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: baseline measured with %q at scale %v, this run %q at scale %v: not compared",
				c.Name, b.Params, base.Scale, c.Params, rep.Scale))
			continue
		}
		for _, m := range opt.Metrics {
			add(checkBaseline(c, b, m, opt))
		}
	}
}

func checkTarget(c *CaseResult, t Target) Check {
	ck := Check{Kind: "target", Case: t.Case, Metric: t.Metric}
	if t.Max != "" {
		limit, _ := time.ParseDuration(t.Max) // checked by ParseTargets
		v, ok := c.Round[t.Metric]
		if !ok {
			ck.Detail = fmt.Sprintf("no latency metric %q", t.Metric)
			return ck
		}
		ck.Value, ck.Limit = v, float64(limit)
		ck.Pass = v <= float64(limit)
		ck.Detail = fmt.Sprintf("%s <= %s (median of rounds; all ops: p50 %s p99 %s p99.9 %s)",
			fmtNs(v), limit, fmtNs(c.P50), fmtNs(c.P99), fmtNs(c.P999))
		return ck
	}
	var v float64
	switch {
	case t.Metric == "ops/s":
		v = c.OpsPerSec
	case c.Extra != nil:
		var ok bool
		if v, ok = c.Extra[t.Metric]; !ok {
			v = math.NaN()
		}
	default:
		v = math.NaN()
	}
	ck.Value, ck.Limit = v, *t.Min
	ck.Pass = v >= *t.Min // false for NaN: a missing metric fails
	ck.Detail = fmt.Sprintf("%.4g >= %.4g", v, *t.Min)
	return ck
}

func checkBaseline(c, b *CaseResult, m string, opt GateOptions) Check {
	ck := Check{Kind: "baseline", Case: c.Name, Metric: m}
	cur, base := c.Norm[m], b.Norm[m]
	if !(base > 0) || !(cur > 0) {
		ck.Detail = fmt.Sprintf("cannot compare %v with baseline %v", cur, base)
		return ck
	}
	noise := math.Max(c.Noise[m], b.Noise[m])
	flag := ""
	if noise > opt.MaxNoise {
		noise = opt.MaxNoise
		flag = " (noisy: rerun on an idle machine)"
	}
	ck.Value = cur / base
	ck.Limit = opt.Threshold + opt.NoiseK*noise
	ck.Pass = ck.Value <= ck.Limit
	ck.Detail = fmt.Sprintf("%.2fx ref vs baseline %.2fx ref: %.2fx <= %.2fx (%.1f + %.0f x noise %.3f)%s",
		cur, base, ck.Value, ck.Limit, opt.Threshold, opt.NoiseK, noise, flag)
	return ck
}

// fmtNs formats nanoseconds as a duration with three significant digits.
func fmtNs(ns float64) string {
	d := time.Duration(ns)
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case d >= 10*time.Microsecond:
		return d.Round(100 * time.Nanosecond).String()
	case d >= time.Microsecond:
		return d.Round(10 * time.Nanosecond).String()
	}
	return d.String()
}
