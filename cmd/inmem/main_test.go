package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// TestDemoDefaultDir: with no -dir the demo runs the whole durable
// walk-through, reopen included, in a temporary directory it names and
// then removes. Before it is removed the test reads the database there
// back (checkDemoDB), so that what the demo printed is checked against
// what it wrote rather than taken on its word.
func TestDemoDefaultDir(t *testing.T) {
	var out bytes.Buffer
	var checked string
	require.NoError(t, demo(nil, &out, func(dir string) error {
		t.Cleanup(func() { os.RemoveAll(dir) }) // if a check below stops the test before the demo removes it
		checked = dir
		checkDemoDB(t, dir, out.String())
		return nil
	}))
	s := out.String()
	first, _, _ := strings.Cut(s, "\n")
	dir, ok := strings.CutPrefix(first, "database in ")
	require.True(t, ok, first)
	dir, ok = strings.CutSuffix(dir, ", a temporary directory (inmem demo DIR keeps one)")
	require.True(t, ok, first)
	require.Equal(t, dir, checked, "the database checked is the one the demo named")
	require.Contains(t, s, "12. reopened "+dir+": run ")
	require.Contains(t, s, "is completed with 1013 steps, tool_calls = 1000, 3 events (chain ok: true)")
	require.True(t, strings.HasSuffix(s, "removed "+dir+"\n"), s)
	_, err := os.Stat(dir)
	require.ErrorIs(t, err, os.ErrNotExist, "the temporary directory is gone")
	require.Contains(t, s, "tool_calls = 1000")
	require.Contains(t, s, `priority is still "high"`)
	require.Contains(t, s, "tenant globex sees: inmem: not found")
	require.Contains(t, s, "nearest how-to: password-reset")
	require.Contains(t, s, "status completed")
	require.Contains(t, s, "run ended")
	require.Contains(t, s, "3 events, hash chain ok: true; phase = done (version 4)")
	require.Contains(t, s, `refuses done -> plan: cell "phase": "done" -> "plan": inmem: invalid transition`)
	require.Contains(t, s, `└─ tool_call "unlock_account" {"ok": true}`)
	require.Contains(t, s, `has 1 child ("look up account", status completed)`)
	// History: time travel, replay, fork, diff and the call replayer.
	require.Contains(t, s, "phase = observe, 2 events")
	require.Contains(t, s, "matches the live state: true")
	require.Contains(t, s, `kv     changed ticket/priority  "high" -> "urgent"`)
	require.Contains(t, s, `state  changed phase            "done" -> "act"`)
	require.Contains(t, s, "returned the 3 recorded answers without calling")
	require.Contains(t, s, "replay diverged at call 4")
}

// TestDemoOnDisk: given DIR the demo keeps its database there, and what
// it printed holds when the test opens that database itself; -dir DIR
// still works.
func TestDemoOnDisk(t *testing.T) {
	for _, args := range [][]string{{"DIR"}, {"-dir", "DIR"}} {
		var out, errOut bytes.Buffer
		dir := filepath.Join(t.TempDir(), "new") // Open makes it
		for i := range args {
			args[i] = strings.ReplaceAll(args[i], "DIR", dir)
		}
		require.Equal(t, 0, dispatch(append([]string{"demo"}, args...), &out, &errOut), errOut.String())
		require.True(t, strings.HasPrefix(out.String(), "database in "+dir+"\n"))
		require.Contains(t, out.String(), "12. reopened")
		require.NotContains(t, out.String(), "removed "+dir)
		require.DirExists(t, filepath.Join(dir, "wal"), "the database is kept")
		require.Contains(t, out.String(), "is completed with 1013 steps, tool_calls = 1000, 3 events (chain ok: true)")
		checkDemoDB(t, dir, out.String())
	}
}

// TestDemoRefusesUsedDir: the demo writes a fresh database, so it refuses
// a directory that holds one, or anything else, and writes nothing there.
func TestDemoRefusesUsedDir(t *testing.T) {
	db := t.TempDir()
	var out, errOut bytes.Buffer
	require.Equal(t, 0, dispatch([]string{"demo", db}, &out, &errOut), errOut.String())
	other := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(other, "notes.txt"), []byte("mine"), 0o644))
	for dir, want := range map[string]string{
		db:    db + " already holds a database",
		other: other + " is not empty",
	} {
		before, err := os.ReadDir(dir)
		require.NoError(t, err)
		out.Reset()
		errOut.Reset()
		require.Equal(t, 2, dispatch([]string{"demo", dir}, &out, &errOut))
		require.Contains(t, errOut.String(), want)
		require.Contains(t, errOut.String(), "give a new or empty directory")
		require.Empty(t, out.String())
		after, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Equal(t, len(before), len(after), "nothing written in %s", dir)
	}
}

// checkDemoDB opens the database the demo left in dir, closed, and
// derives from it every claim the demo tests find in its output, so that
// a demo printing verdicts it never checked fails. out is what the demo
// printed, for the IDs and step numbers it names.
func checkDemoDB(t *testing.T, dir, out string) {
	t.Helper()
	db, err := inmem.Open(dir)
	require.NoError(t, err, "the demo closed its database")
	defer func() { require.NoError(t, db.Close()) }()

	ns := inmem.Namespace{Tenant: "acme", App: "support", Agent: "triage"}
	var triage inmem.RunInfo
	runs, err := db.Runs().List(inmem.RunQuery{})
	require.NoError(t, err)
	for _, r := range runs {
		if r.Name == "triage ticket 4821" {
			require.True(t, triage.ID.IsZero(), "one run has the demo's name")
			triage = r
		}
	}
	require.False(t, triage.ID.IsZero(), "the demo's run is in the database")
	require.Equal(t, ns, triage.Namespace)
	m := regexp.MustCompile(`12\. reopened .*: run (\S+) is `).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	require.Equal(t, triage.ID.String(), m[1], "the run the demo reported on")

	// "is completed with 1013 steps", "run ended", "status completed".
	require.Equal(t, inmem.Completed, triage.Status)
	require.Equal(t, 1013, triage.Steps)
	run, err := db.Run(triage.ID)
	require.NoError(t, err)
	require.ErrorIs(t, run.KV().Put("late", []byte("x")), inmem.ErrRunEnded)
	_, err = run.KV().Get("late")
	require.ErrorIs(t, err, inmem.ErrNotFound)

	// "tool_calls = 1000", `priority is still "high"`.
	v, err := run.KV().Get("tool_calls")
	require.NoError(t, err)
	require.Equal(t, "1000", string(v))
	v, err = run.KV().Get("ticket/priority")
	require.NoError(t, err)
	require.Equal(t, "high", string(v))

	// "3 events (chain ok: true)", "phase = done (version 4)".
	n, err := run.Events().Len()
	require.NoError(t, err)
	require.EqualValues(t, 3, n)
	rep, err := run.Events().Verify()
	require.NoError(t, err)
	require.True(t, rep.OK, rep.Reason)
	require.EqualValues(t, 3, rep.Len)
	phase, err := run.State().Get("phase")
	require.NoError(t, err)
	require.Equal(t, "done", string(phase.Value))
	require.EqualValues(t, 4, phase.Version)

	// "tenant globex sees: inmem: not found", while the run's own tenant
	// holds the note.
	v, err = db.Shared(ns).KV().Get("kb/password-reset")
	require.NoError(t, err)
	require.Equal(t, "send the reset link again", string(v))
	_, err = db.Shared(inmem.Namespace{Tenant: "globex"}).KV().Get("kb/password-reset")
	require.ErrorIs(t, err, inmem.ErrNotFound)

	// "nearest how-to: password-reset".
	howto, err := db.Shared(ns).Vectors().Search("notes", noteQuery, 1, inmem.Where(inmem.Eq("kind", "howto")))
	require.NoError(t, err)
	require.Len(t, howto, 1)
	require.Equal(t, "password-reset", howto[0].Key)

	// `└─ tool_call "unlock_account" {"ok": true}` under the decision span.
	roots, err := run.Traces().Query(inmem.SpanQuery{Kind: inmem.Decision, Name: "resolve ticket"})
	require.NoError(t, err)
	require.Len(t, roots, 1)
	tree, err := run.Traces().Tree(roots[0].ID)
	require.NoError(t, err)
	var unlocked bool
	for _, c := range tree.Children {
		if c.Span.Kind == inmem.ToolCall && c.Span.Name == "unlock_account" {
			require.Equal(t, `{"ok": true}`, string(c.Span.Output))
			unlocked = true
		}
	}
	require.True(t, unlocked, "the tree holds the unlock_account call")

	// `has 1 child ("look up account", status completed)`; the other
	// child is the fork checked below.
	kids, err := db.Runs().Children(triage.ID)
	require.NoError(t, err)
	var started, forks []inmem.RunInfo
	for _, k := range kids {
		if k.ForkOf == triage.ID {
			forks = append(forks, k)
		} else {
			started = append(started, k)
		}
	}
	require.Len(t, started, 1)
	require.Equal(t, "look up account", started[0].Name)
	require.Equal(t, inmem.Completed, started[0].Status)
	require.Equal(t, triage.ID, started[0].Parent)

	// "as of step N: phase = observe, 2 events".
	m = regexp.MustCompile(`as of step (\d+): phase = observe, 2 events`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	step, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	view, err := run.AsOf(step)
	require.NoError(t, err)
	phase, err = view.State().Get("phase")
	require.NoError(t, err)
	require.Equal(t, "observe", string(phase.Value))
	n, err = view.Events().Len()
	require.NoError(t, err)
	require.EqualValues(t, 2, n)

	// "matches the live state: true".
	replay, err := db.Replay(triage.ID)
	require.NoError(t, err)
	require.True(t, replay.Match, replay.Reason)

	// The fork's diff: kv ticket/priority "high" -> "urgent", state
	// phase "done" -> "act".
	require.Len(t, forks, 1)
	d, err := db.Diff(triage.ID, forks[0].ID)
	require.NoError(t, err)
	require.Contains(t, d.KV.Changed, inmem.Change{Key: "ticket/priority", Before: []byte("high"), After: []byte("urgent")})
	require.Contains(t, d.State.Changed, inmem.Change{Key: "phase", Before: []byte("done"), After: []byte("act")})

	// "returned the 3 recorded answers without calling", "replay
	// diverged at call 4".
	rp, err := db.Replayer(triage.ID)
	require.NoError(t, err)
	for _, c := range llmCalls {
		got, err := rp.Do(c.name, []byte(c.input), func() ([]byte, error) {
			t.Errorf("the replayer called %s instead of returning the recording", c.name)
			return nil, errors.New("called")
		})
		require.NoError(t, err)
		require.Equal(t, c.output, string(got))
	}
	_, err = rp.Do("llm.chat", []byte("a prompt the agent never sent"), nil)
	var div *inmem.DivergenceError
	require.ErrorAs(t, err, &div)
	require.Equal(t, 4, div.Step)

	// "refuses done -> plan": the ended run refuses every write, so ask a
	// fork of its last step, which carries the cell's machine. Last, as
	// it adds a run.
	probe, err := db.Fork(triage.ID, triage.Steps)
	require.NoError(t, err)
	_, err = probe.State().Set("phase", []byte("plan"))
	require.ErrorIs(t, err, inmem.ErrInvalidTransition)
}

func TestUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 2, dispatch(nil, &out, &errOut))
	require.Contains(t, out.String(), "demo")
	require.Equal(t, 2, dispatch([]string{"nope"}, &out, &errOut))
	require.True(t, strings.Contains(errOut.String(), "unknown command"))
	require.Equal(t, 2, dispatch([]string{"demo", "-bogus"}, &out, &errOut))
	require.Equal(t, 0, dispatch([]string{"help"}, &out, &errOut))
}

// TestCommandHelp: -h and --help, anywhere among a command's arguments,
// print its usage line (positional arguments and flags) on stdout and
// exit 0.
func TestCommandHelp(t *testing.T) {
	for _, c := range commands {
		for _, args := range [][]string{{"-h"}, {"--help"}, {"DIR", "-h"}} {
			var out, errOut bytes.Buffer
			require.Equal(t, 0, dispatch(append([]string{c.name}, args...), &out, &errOut), "%s %v: %s", c.name, args, errOut.String())
			require.Empty(t, errOut.String())
			require.True(t, strings.HasPrefix(out.String(), "usage: inmem "+c.name+" "+usages[c.name]+"\n"), out.String())
			require.Contains(t, out.String(), c.summary)
		}
	}
	var out, errOut bytes.Buffer
	require.Equal(t, 0, dispatch([]string{"show", "-h"}, &out, &errOut))
	require.Equal(t, "usage: inmem show DIR RUN [--json]\n", strings.SplitAfter(out.String(), "\n")[0])
	require.Contains(t, out.String(), "its name (when unique) or an unambiguous ID prefix")
	out.Reset()
	require.Equal(t, 0, dispatch([]string{"diff", "--help"}, &out, &errOut))
	require.Contains(t, out.String(), "exit 0 same, 1 different, 2 trouble")
}

// TestArgumentCount: every command refuses a positional argument it does
// not use and names a missing one, with its usage line, exit status 2,
// before touching DIR.
func TestArgumentCount(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "none")
	extra := map[string][]string{
		"demo":       {dir, "x"},
		"runs":       {dir, "x"},
		"show":       {dir, "r", "x"},
		"verify":     {dir, "x", "--json"},
		"export":     {dir, "r", "x", "--format", "otlp-json"},
		"import":     {dir, "f", "x"},
		"asof":       {dir, "r", "1", "x"},
		"replay":     {dir, "r", "x"},
		"diff":       {dir, "a", "b", "x"},
		"checkpoint": {dir, "x"},
		"serve":      {dir, "x", "--mcp"},
		"ui":         {dir, "x"},
		"cluster":    {"status", dir, "x"},
	}
	for _, c := range commands {
		args, ok := extra[c.name]
		require.True(t, ok, "no case for command %s", c.name)
		var out, errOut bytes.Buffer
		require.Equal(t, 2, dispatch(append([]string{c.name}, args...), &out, &errOut), "%s %v", c.name, args)
		require.Contains(t, errOut.String(), "usage: inmem "+c.name)
		if c.name != "serve" { // serve has its own message
			require.Contains(t, errOut.String(), `unexpected argument "x"`)
		}
		if c.name == "demo" {
			continue // DIR is optional
		}
		out.Reset()
		errOut.Reset()
		require.Equal(t, 2, dispatch([]string{c.name}, &out, &errOut), c.name)
		switch c.name {
		case "serve":
		case "cluster":
			require.Contains(t, errOut.String(), "one subcommand: status")
		default:
			require.Contains(t, errOut.String(), "missing DIR")
		}
	}
	require.NoDirExists(t, dir)
	var out, errOut bytes.Buffer
	require.Equal(t, 2, dispatch([]string{"asof", dir, "r"}, &out, &errOut))
	require.Contains(t, errOut.String(), "inmem asof: missing STEP\nusage: inmem asof DIR RUN STEP [--json]\n")
}

// repeatedPhrase returns a phrase a message says twice: a run of three
// words, or a "x: x:" prefix; "" when there is none. Words are compared
// without case and surrounding punctuation.
func repeatedPhrase(msg string) string {
	var words []string
	for _, w := range strings.Fields(msg) {
		if w = strings.ToLower(strings.Trim(w, `:;,."'()`)); w != "" {
			words = append(words, w)
		}
	}
	seen := map[string]bool{}
	for i := 0; i+3 <= len(words); i++ {
		k := strings.Join(words[i:i+3], " ")
		if seen[k] {
			return k
		}
		seen[k] = true
	}
	segs := strings.Split(msg, ": ")
	for i := 1; i < len(segs); i++ {
		if segs[i] == segs[i-1] {
			return segs[i]
		}
	}
	return ""
}

// TestErrorsSayThingsOnce: the messages of the command's error paths (a
// bad or unknown run, a step out of range, bad flags, missing arguments)
// never repeat a phrase, as they did when each layer wrapped the one
// below with what it had already said.
func TestErrorsSayThingsOnce(t *testing.T) {
	for msg, want := range map[string]string{
		"inmem asof: run 01a2 has 41 steps; step 99: as of step 99: run 01a2 has 41 steps: inmem: no such step": "run 01a2 has",
		"inmem show: run id: run id: bad":                              "run id",
		"inmem show: no run named or prefixed \"x\": inmem: not found": "",
	} {
		require.Equal(t, want, repeatedPhrase(msg), msg)
	}

	dir, parent, _ := historyDir(t)
	p := parent.String()
	used := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(used, "f"), nil, 0o644))
	for _, args := range [][]string{
		{"show", dir, "nope"},
		{"show", dir, inmem.RunID{1}.String()},
		{"show", dir, p[:2]}, // ambiguous
		{"show", dir, p, "--bogus"},
		{"show", dir},
		{"runs"},
		{"asof", dir, p, "99"},
		{"asof", dir, p, "-1"},
		{"asof", dir, p, "two"},
		{"asof", dir, "nope", "1"},
		{"replay", dir, "nope"},
		{"export", dir, p, "--format", "csv"},
		{"export", dir, p, "--json", "--format", "otlp-json"},
		{"export", dir, "nope"},
		{"diff", dir, p, "nope"},
		{"diff", dir, p},
		{"import", dir, filepath.Join(dir, "missing.jsonl")},
		{"demo", used},
		{"demo", "--json"},
		{"checkpoint", dir, "x"},
	} {
		var out, errOut bytes.Buffer
		code := dispatch(args, &out, &errOut)
		require.NotEqual(t, 0, code, "%v", args)
		first, _, _ := strings.Cut(errOut.String(), "\n") // later lines: candidates, usage
		require.NotEmpty(t, first, "%v", args)
		require.Empty(t, repeatedPhrase(first), "%v: %s", args, first)
	}
}
