package main

import (
	"context"

	"github.com/inmem-db/inmem"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Shapes of the history tools; diffOut, replayOut and stepOut are also
// what inmem diff and inmem replay print with --json.
type (
	stepOut struct {
		N       int          `json:"n" jsonschema:"the step's number, from 1"`
		Version uint64       `json:"version" jsonschema:"its commit version"`
		Time    string       `json:"time"`
		Writes  stepWriteOut `json:"writes" jsonschema:"the elements the step wrote, per primitive"`
	}
	stepWriteOut struct {
		KV      []string `json:"kv,omitempty" jsonschema:"KV keys"`
		Events  []string `json:"events,omitempty" jsonschema:"event sequence numbers"`
		State   []string `json:"state,omitempty" jsonschema:"cell names"`
		Traces  []string `json:"traces,omitempty" jsonschema:"span IDs"`
		Vectors []string `json:"vectors,omitempty" jsonschema:"vector keys"`
	}
	changeOut struct {
		Key          string `json:"key"`
		Before       string `json:"before"`
		BeforeBase64 string `json:"before_base64,omitempty"`
		After        string `json:"after"`
		AfterBase64  string `json:"after_base64,omitempty"`
	}
	primitiveDiffOut struct {
		Added   []string    `json:"added" jsonschema:"elements only in b"`
		Removed []string    `json:"removed" jsonschema:"elements only in a"`
		Changed []changeOut `json:"changed" jsonschema:"elements in both with different contents: before is a's, after is b's"`
	}
	diffOut struct {
		Same    bool             `json:"same" jsonschema:"true when nothing differs"`
		KV      primitiveDiffOut `json:"kv"`
		Events  primitiveDiffOut `json:"events"`
		State   primitiveDiffOut `json:"state"`
		Traces  primitiveDiffOut `json:"traces"`
		Vectors primitiveDiffOut `json:"vectors"`
	}
	replayOut struct {
		Match      bool     `json:"match" jsonschema:"true when the state rebuilt from the recorded history equals the live state"`
		Steps      int      `json:"steps" jsonschema:"steps replayed"`
		FirstDiff  int      `json:"first_diff,omitempty" jsonschema:"the first step after which the rebuilt state differs"`
		Mismatched []string `json:"mismatched,omitempty" jsonschema:"the primitives that differ"`
		Reason     string   `json:"reason,omitempty"`
	}

	historyRunIn struct {
		Run string `json:"run" jsonschema:"the run's ID"`
	}
	historyStepsIn struct {
		Run   string `json:"run" jsonschema:"the run's ID"`
		From  int    `json:"from,omitempty" jsonschema:"the first step listed (default 1)"`
		Limit int    `json:"limit,omitempty" jsonschema:"at most this many steps (default 100, at most 1000)"`
	}
	historyStepsOut struct {
		Steps []stepOut `json:"steps"`
		Total int       `json:"total" jsonschema:"the run's number of steps"`
		More  bool      `json:"more,omitempty" jsonschema:"true when steps after these were left out"`
	}
	historyAsOfIn struct {
		Run  string `json:"run" jsonschema:"the run's ID"`
		Step int    `json:"step" jsonschema:"the step after which to read the run (0: before its first step)"`
	}
	historyAsOfOut struct {
		Run    runOut     `json:"run" jsonschema:"the run as it is now"`
		Step   int        `json:"step"`
		Time   string     `json:"time,omitempty" jsonschema:"when that step committed"`
		Events []eventOut `json:"events"`
		State  []cellOut  `json:"state"`
		KV     []entryOut `json:"kv"`
		Spans  []spanOut  `json:"spans"`
	}
	historyForkIn struct {
		Run  string            `json:"run" jsonschema:"the run to fork"`
		Step int               `json:"step" jsonschema:"the fork starts from the run's state right after this step (0: before its first step)"`
		Name string            `json:"name,omitempty" jsonschema:"the fork's name (default: the parent's)"`
		Tags []string          `json:"tags,omitempty" jsonschema:"the fork's tags (default: the parent's)"`
		Meta map[string]string `json:"meta,omitempty" jsonschema:"the fork's metadata (default: the parent's)"`
	}
	historyDiffIn struct {
		A string `json:"a" jsonschema:"the first run's ID (often the parent)"`
		B string `json:"b" jsonschema:"the second run's ID (often the fork)"`
	}
)

// Empty reports whether nothing differs in this primitive.
func (d primitiveDiffOut) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0
}

func stepOf(s inmem.Step) stepOut {
	w := s.Writes
	return stepOut{N: s.N, Version: s.Version, Time: timeString(s.Time),
		Writes: stepWriteOut{KV: w.KV, Events: w.Events, State: w.State, Traces: w.Traces, Vectors: w.Vectors}}
}

func primitiveDiffOf(d inmem.PrimitiveDiff) primitiveDiffOut {
	id := func(s string) string { return s }
	return primitiveDiffOut{Added: mapSlice(d.Added, id), Removed: mapSlice(d.Removed, id),
		Changed: mapSlice(d.Changed, func(c inmem.Change) changeOut {
			b, bB := outBytes(c.Before)
			a, aB := outBytes(c.After)
			return changeOut{Key: c.Key, Before: b, BeforeBase64: bB, After: a, AfterBase64: aB}
		})}
}

func diffOf(d inmem.RunDiff) diffOut {
	return diffOut{Same: d.Empty(), KV: primitiveDiffOf(d.KV), Events: primitiveDiffOf(d.Events), State: primitiveDiffOf(d.State),
		Traces: primitiveDiffOf(d.Traces), Vectors: primitiveDiffOf(d.Vectors)}
}

func replayOf(r inmem.ReplayReport) replayOut {
	return replayOut{Match: r.Match, Steps: r.Steps, FirstDiff: r.FirstDiff, Mismatched: r.Mismatched, Reason: r.Reason}
}

// readAsOf reads everything run id held right after step.
func readAsOf(db *inmem.DB, id inmem.RunID, step int) (runData, *inmem.View, error) {
	var rd runData
	run, err := db.Run(id)
	if err != nil {
		return rd, nil, err
	}
	if rd.Run, err = run.Info(); err != nil {
		return rd, nil, err
	}
	view, err := run.AsOf(step)
	if err != nil {
		return rd, nil, err // names the step and how many the run has
	}
	return rd, view, view.Read(func(tx *inmem.Tx) error { return rd.read(tx) })
}

func (s *mcpServer) addHistoryTools(srv *mcp.Server) {
	addTool(srv, tool{name: "history_steps", title: "List a run's steps", readOnly: true,
		desc: "List a run's steps (each committed transaction that wrote its data), with what each wrote; use a step number with history_asof or history_fork."},
		func(_ context.Context, in historyStepsIn) (historyStepsOut, error) {
			run, err := s.runByID("run", in.Run)
			if err != nil {
				return historyStepsOut{}, err
			}
			limit, err := limitOr(in.Limit, defaultList, maxList)
			if err != nil {
				return historyStepsOut{}, err
			}
			steps, err := run.Steps()
			if err != nil {
				return historyStepsOut{}, err
			}
			from := max(in.From, 1)
			out := historyStepsOut{Total: len(steps)}
			rest := steps[min(from-1, len(steps)):]
			out.More = len(rest) > limit
			out.Steps = mapSlice(rest[:min(len(rest), limit)], stepOf)
			return out, nil
		})

	addTool(srv, tool{name: "history_asof", title: "Read a run as of a step", readOnly: true,
		desc: "Read a run's events, state cells, KV entries and spans as they were right after a step: time travel to any point of its history."},
		func(_ context.Context, in historyAsOfIn) (historyAsOfOut, error) {
			id, err := parseRun("run", in.Run)
			if err != nil {
				return historyAsOfOut{}, err
			}
			rd, view, err := readAsOf(s.db, id, in.Step)
			if err != nil {
				return historyAsOfOut{}, err
			}
			return historyAsOfOut{Run: runOf(rd.Run), Step: view.Step(), Time: timeString(view.Time()),
				Events: mapSlice(rd.Events, eventOf), State: mapSlice(rd.State, cellOf),
				KV: mapSlice(rd.KV, entryOf), Spans: mapSlice(rd.Spans, spanOf)}, nil
		})

	addTool(srv, tool{name: "history_fork", title: "Fork a run", additive: true,
		desc: "Start a new active run from a run's state right after a step, to try another path from there; the parent is never changed. Compare the two with history_diff."},
		func(_ context.Context, in historyForkIn) (runOut, error) {
			id, err := parseRun("run", in.Run)
			if err != nil {
				return runOut{}, err
			}
			var opts []inmem.RunOption
			if in.Name != "" {
				opts = append(opts, inmem.Name(in.Name))
			}
			if len(in.Tags) > 0 {
				opts = append(opts, inmem.Tags(in.Tags...))
			}
			if len(in.Meta) > 0 {
				opts = append(opts, inmem.Meta(in.Meta))
			}
			child, err := s.db.Fork(id, in.Step, opts...)
			if err != nil {
				return runOut{}, err
			}
			info, err := child.Info()
			return runOf(info), err
		})

	addTool(srv, tool{name: "history_diff", title: "Diff two runs", readOnly: true,
		desc: "Compare the current state of two runs (a fork and its parent, or any two) per primitive: elements only in b (added), only in a (removed), and in both with different contents (changed, with a's value before and b's after)."},
		func(_ context.Context, in historyDiffIn) (diffOut, error) {
			a, err := parseRun("a", in.A)
			if err != nil {
				return diffOut{}, err
			}
			b, err := parseRun("b", in.B)
			if err != nil {
				return diffOut{}, err
			}
			d, err := s.db.Diff(a, b)
			if err != nil {
				return diffOut{}, err
			}
			return diffOf(d), nil
		})

	addTool(srv, tool{name: "history_replay", title: "Replay a run", readOnly: true,
		desc: "Rebuild a run from its recorded history and check that it reproduces the live state; names the first step that differs if not."},
		func(_ context.Context, in historyRunIn) (replayOut, error) {
			id, err := parseRun("run", in.Run)
			if err != nil {
				return replayOut{}, err
			}
			rep, err := s.db.Replay(id)
			return replayOf(rep), err
		})
}
