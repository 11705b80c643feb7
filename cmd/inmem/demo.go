package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/inmem-db/inmem"
)

// runDemo shows what the database does, step by step, on a fresh durable
// database: in DIR when given, which must be new or an empty directory,
// else in a temporary directory that is removed at the end, so that the
// walk-through can close and reopen it.
func runDemo(args []string, out io.Writer) error { return demo(args, out, nil) }

// demo is runDemo. When after is not nil it is called with the database
// directory once the walk-through has closed the database, before a
// temporary directory is removed: tests read the database back there.
func demo(args []string, out io.Writer, after func(dir string) error) error {
	flags := flag.NewFlagSet("demo", flag.ContinueOnError)
	dirFlag := flags.String("dir", "", "the same as DIR")
	asJSON := flags.Bool("json", false, "refused: the demo is a walk-through for people")
	pos, err := parseArgs(flags, args)
	if err != nil {
		return err
	}
	if *asJSON {
		return errUsage{errors.New("the demo prints a walk-through, not JSON; keep its database (inmem demo DIR) and read it with inmem runs DIR --json")}
	}
	dir := *dirFlag
	if len(pos) == 1 {
		if dir != "" && dir != pos[0] {
			return errUsage{fmt.Errorf("DIR %q and -dir %q: give one", pos[0], dir)}
		}
		dir = pos[0]
	}
	walk := func(dir string) error {
		err := walkThrough(dir, out)
		if err == nil && after != nil {
			err = after(dir)
		}
		return err
	}
	if dir != "" {
		if err := freshDir(dir); err != nil {
			return errUsage{err}
		}
		fmt.Fprintf(out, "database in %s\n", dir)
		return walk(dir)
	}
	tmp, err := os.MkdirTemp("", "inmem-demo-")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "database in %s, a temporary directory (inmem demo DIR keeps one)\n", tmp)
	err = walk(tmp)
	if rerr := os.RemoveAll(tmp); rerr != nil {
		return errors.Join(err, rerr)
	}
	if err == nil {
		fmt.Fprintf(out, "removed %s\n", tmp)
	}
	return err
}

// freshDir accepts a directory the demo may write its database in: one
// that does not exist yet, or an empty one. The demo writes its own runs,
// so it must not mix them into a database, nor its files into a
// directory of something else.
func freshDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case len(entries) == 0:
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "wal")); err == nil {
		return fmt.Errorf("%s already holds a database; the demo writes a fresh one: give a new or empty directory", dir)
	}
	return fmt.Errorf("%s is not empty; the demo writes a fresh database: give a new or empty directory", dir)
}

// walkThrough is the demo proper, on the database in dir.
func walkThrough(dir string, out io.Writer) error {
	db, err := inmem.Open(dir)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }() // the handle open at return: the demo reopens it
	// Numbered steps end with how long they took since the previous one.
	last := time.Now()
	p := func(format string, a ...any) {
		line := fmt.Sprintf(format, a...)
		if line != "" && line[0] >= '0' && line[0] <= '9' {
			line += fmt.Sprintf("  [%v]", time.Since(last).Round(time.Microsecond))
		}
		last = time.Now()
		fmt.Fprintln(out, line)
	}

	ns := inmem.Namespace{Tenant: "acme", App: "support", Agent: "triage"}
	run, err := db.BeginRun(inmem.Name("triage ticket 4821"), inmem.InNamespace(ns),
		inmem.Tags("demo"), inmem.Meta(map[string]string{"model": "example-model"}))
	if err != nil {
		return err
	}
	p("1. began run %s (%q) in namespace %s", run.ID(), "triage ticket 4821", ns)

	kv := run.KV()
	for _, e := range [][2]string{{"ticket/id", "4821"}, {"ticket/priority", "high"}, {"ticket/summary", "login fails after reset"}} {
		if err := kv.Put(e[0], []byte(e[1])); err != nil {
			return err
		}
	}
	entries, err := kv.List("ticket/")
	if err != nil {
		return err
	}
	p("2. one-operation writes, then List(\"ticket/\"):")
	for _, e := range entries {
		p("     %-16s = %-26q (version %d)", e.Key, e.Value, e.Version)
	}

	// Two agents' tools bump one counter at once; optimistic transactions
	// retry on conflict, so no increment is lost.
	if err := kv.Put("tool_calls", []byte("0")); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 250 && errs[w] == nil; i++ {
				errs[w] = run.Update(func(tx *inmem.Tx) error {
					b, err := tx.KV().Get("tool_calls")
					if err != nil {
						return err
					}
					n, _ := strconv.Atoi(string(b))
					return tx.KV().Put("tool_calls", []byte(strconv.Itoa(n+1)))
				})
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	b, err := kv.Get("tool_calls")
	if err != nil {
		return err
	}
	st := db.Stats()
	p("3. 4 goroutines x 250 read-modify-write transactions: tool_calls = %s (%d conflicts detected and retried)", b, st.Conflicts)

	// A transaction that fails leaves nothing behind.
	errAbort := errors.New("escalation rejected")
	err = run.Update(func(tx *inmem.Tx) error {
		if err := tx.KV().Put("ticket/priority", []byte("urgent")); err != nil {
			return err
		}
		return errAbort
	})
	b, _ = kv.Get("ticket/priority")
	p("4. a transaction returning an error (%v) is discarded: priority is still %q", err, b)

	shared := db.Shared(ns).KV()
	if err := shared.Put("kb/password-reset", []byte("send the reset link again")); err != nil {
		return err
	}
	other := db.Shared(inmem.Namespace{Tenant: "globex"}).KV()
	_, errOther := other.Get("kb/password-reset")
	p("5. shared memory of %s holds kb/password-reset; tenant globex sees: %v", ns, errOther)
	if err := vectorMemory(db.Shared(ns).Vectors(), p); err != nil {
		return err
	}

	if err := kv.PutTTL("session/lock", []byte("held"), 1); err != nil {
		return err
	}
	_, errTTL := kv.Get("session/lock")
	p("6. a key written with a 1ns TTL reads as: %v", errTTL)

	if err := agentSteps(run, p); err != nil {
		return err
	}
	child, err := db.BeginRun(inmem.Name("look up account"), inmem.Parent(run.ID()))
	if err != nil {
		return err
	}
	if err := child.End(inmem.Completed, ""); err != nil {
		return err
	}
	kids, err := db.Runs().Children(run.ID())
	if err != nil {
		return err
	}
	lin, err := db.Runs().Lineage(child.ID())
	if err != nil {
		return err
	}
	inNS, err := db.Runs().List(inmem.RunQuery{Namespace: ns})
	if err != nil {
		return err
	}
	p("9. run index: %d runs in %s; %q has %d child (%q, status %s), whose lineage is [%q]",
		len(inNS), ns, "triage ticket 4821", len(kids), kids[0].Name, kids[0].Status, lin[0].Name)

	if err := recordCalls(run, p); err != nil {
		return err
	}
	if err := run.End(inmem.Completed, ""); err != nil {
		return err
	}
	errEnded := kv.Put("late", []byte("x"))
	info, err := run.Info()
	if err != nil {
		return err
	}
	p("10. run ended: status %s after %d steps; a later write returns: %v", info.Status, info.Steps, errEnded)

	if err := history(db, run, p); err != nil {
		return err
	}

	st = db.Stats()
	p("11. stats: %d commits, %d conflicts, %d entries, %.1f KiB of arena in use",
		st.Commits, st.Conflicts, st.Entries, float64(st.MemUsed)/1024)
	// Close, reopen, and read the run back from the log.
	id := run.ID()
	if err := db.Close(); err != nil {
		return err
	}
	if db, err = inmem.Open(dir); err != nil {
		return err
	}
	back, err := db.Run(id)
	if err != nil {
		return err
	}
	info, err = back.Info()
	if err != nil {
		return err
	}
	b, err = back.KV().Get("tool_calls")
	if err != nil {
		return err
	}
	n, err := back.Events().Len()
	if err != nil {
		return err
	}
	rep, err := back.Events().Verify()
	if err != nil {
		return err
	}
	p("12. reopened %s: run %s is %s with %d steps, tool_calls = %s, %d events (chain ok: %v), recovered from the write-ahead log",
		dir, id, info.Status, info.Steps, b, n, rep.OK)
	return nil
}

// agentSteps records three agent steps, each one transaction across the
// event log, a state cell with a declared machine, and traces.
func agentSteps(run *inmem.Run, p func(string, ...any)) error {
	phases := inmem.Machine{Initial: "plan", Allow: map[string][]string{
		"plan": {"act"}, "act": {"observe", "done"}, "observe": {"act", "done"},
	}}
	if err := run.State().Define("phase", phases); err != nil {
		return err
	}
	root, err := run.Traces().Record(inmem.Span{Kind: inmem.Decision, Name: "resolve ticket", Status: inmem.StatusOK})
	if err != nil {
		return err
	}
	steps := []struct{ phase, tool, result string }{
		{"act", "lookup_account", `{"locked": true}`},
		{"observe", "", `{"cause": "too many attempts"}`},
		{"done", "unlock_account", `{"ok": true}`},
	}
	for i, st := range steps {
		err := run.Update(func(tx *inmem.Tx) error {
			if _, err := tx.Events().Append("step."+st.phase, []byte(st.result)); err != nil {
				return err
			}
			if _, err := tx.State().Set("phase", []byte(st.phase)); err != nil {
				return err
			}
			kind, name := inmem.LLMCall, "reason"
			attrs := map[string]string{"gen_ai.request.model": "example-model", "gen_ai.usage.input_tokens": strconv.Itoa(400 + 50*i)}
			if st.tool != "" {
				kind, name = inmem.ToolCall, st.tool
				attrs = map[string]string{"gen_ai.tool.name": st.tool}
			}
			_, err := tx.Traces().Record(inmem.Span{Parent: root, Kind: kind, Name: name, Output: []byte(st.result), Status: inmem.StatusOK, Attrs: attrs})
			return err
		})
		if err != nil {
			return err
		}
	}
	_, errBack := run.State().Set("phase", []byte("plan"))
	n, err := run.Events().Len()
	if err != nil {
		return err
	}
	rep, err := run.Events().Verify()
	if err != nil {
		return err
	}
	phase, err := run.State().Get("phase")
	if err != nil {
		return err
	}
	tree, err := run.Traces().Tree(root)
	if err != nil {
		return err
	}
	p("7. three agent steps, each one transaction (event + state machine + span): %d events, hash chain ok: %v; phase = %s (version %d)",
		n, rep.OK, phase.Value, phase.Version)
	p("   the machine refuses done -> plan: %v", errBack)
	p("8. trace tree:")
	p("     %s %q", tree.Span.Kind, tree.Span.Name)
	for _, c := range tree.Children {
		p("     └─ %s %q %s", c.Span.Kind, c.Span.Name, c.Span.Output)
	}
	return nil
}

// noteQuery is the embedding the demo looks notes up with: "user cannot
// log in after a reset".
var noteQuery = []float32{0.85, 0.3, 0, 0.05}

// vectorMemory stores a few notes with toy 4-d embeddings in the shared
// scope's vector memory and looks one up with a metadata filter.
func vectorMemory(vs *inmem.Vectors, p func(string, ...any)) error {
	err := vs.CreateCollection("notes", inmem.VectorConfig{Dim: 4, Metric: inmem.Cosine})
	if err != nil && !errors.Is(err, inmem.ErrExists) { // a demo rerun on the same directory
		return err
	}
	notes := []struct {
		key  string
		vec  []float32
		kind string
	}{
		{"password-reset", []float32{0.9, 0.1, 0, 0.1}, "howto"},
		{"account-locked", []float32{0.7, 0.6, 0, 0}, "howto"},
		{"billing-cycle", []float32{0, 0.1, 0.9, 0.2}, "policy"},
		{"reset-outage-2024", []float32{0.8, 0.2, 0.1, 0}, "incident"},
	}
	for _, n := range notes {
		if err := vs.Upsert("notes", n.key, n.vec, map[string]any{"kind": n.kind}); err != nil {
			return err
		}
	}
	all, err := vs.Search("notes", noteQuery, 2)
	if err != nil {
		return err
	}
	howto, err := vs.Search("notes", noteQuery, 1, inmem.Where(inmem.Eq("kind", "howto")))
	if err != nil {
		return err
	}
	p("   vector memory: nearest notes %s (%.3f), %s (%.3f); nearest how-to: %s",
		all[0].Key, all[0].Score, all[1].Key, all[1].Score, howto[0].Key)
	return nil
}

// llmCalls is what the demo's agent asks its model and tools; the answers
// stand in for a model served elsewhere.
var llmCalls = []struct{ name, input, output string }{
	{"llm.chat", "Summarise ticket 4821", "Account locked after five failed logins."},
	{"tool.kb_search", "account locked", "kb/password-reset"},
	{"llm.chat", "Draft a reply", "We unlocked your account; please reset your password."},
}

// recordCalls runs the agent's model and tool calls through a Recorder, so
// a Replayer can later give the same answers back without calling.
func recordCalls(run *inmem.Run, p func(string, ...any)) error {
	rec := run.Recorder().WithKind(inmem.LLMCall)
	for _, c := range llmCalls {
		if _, err := rec.Do(c.name, []byte(c.input), func() ([]byte, error) { return []byte(c.output), nil }); err != nil {
			return err
		}
	}
	p("   recorded %d model and tool calls (name, input, input hash, output) as spans", len(llmCalls))
	return nil
}

// history shows the run's history: steps, time travel, replay, fork, diff
// and deterministic replay of the recorded calls, each with its time.
func history(db *inmem.DB, run *inmem.Run, p func(string, ...any)) error {
	timed := func() func() time.Duration { t := time.Now(); return func() time.Duration { return time.Since(t) } }
	el := timed()
	steps, err := run.Steps()
	if err != nil {
		return err
	}
	// The step that moved the phase to "observe": the middle agent step.
	mid := 0
	for _, s := range steps {
		if len(s.Writes.State) > 0 && len(s.Writes.Events) > 0 && mid == 0 {
			mid = s.N + 1
		}
	}
	if mid == 0 || mid > len(steps) {
		mid = len(steps) / 2
	}
	p("H1. history: %d steps (%v); step %d wrote events %v, state %v, traces %v",
		len(steps), el(), mid, steps[mid-1].Writes.Events, steps[mid-1].Writes.State, steps[mid-1].Writes.Traces)

	el = timed()
	view, err := run.AsOf(mid)
	if err != nil {
		return err
	}
	phase, err := view.State().Get("phase")
	if err != nil {
		return err
	}
	n, err := view.Events().Len()
	if err != nil {
		return err
	}
	p("H2. as of step %d: phase = %s, %d events (%v; a snapshot read, not a copy)", mid, phase.Value, n, el())

	el = timed()
	rep, err := db.Replay(run.ID())
	if err != nil {
		return err
	}
	p("H3. replay rebuilt %d steps from the recorded writes: matches the live state: %v (%v)", rep.Steps, rep.Match, el())

	el = timed()
	fork, err := db.Fork(run.ID(), mid, inmem.Name("triage ticket 4821, escalated"))
	if err != nil {
		return err
	}
	forkTime := el()
	if err := fork.Update(func(tx *inmem.Tx) error {
		if _, err := tx.Events().Append("step.escalate", []byte(`{"to": "tier 2"}`)); err != nil {
			return err
		}
		if _, err := tx.State().Set("phase", []byte("act")); err != nil {
			return err
		}
		return tx.KV().Put("ticket/priority", []byte("urgent"))
	}); err != nil {
		return err
	}
	info, err := fork.Info()
	if err != nil {
		return err
	}
	p("H4. forked at step %d in %v: run %s (fork of %s at step %d), then escalated there",
		mid, forkTime, info.ID, info.ForkOf, info.ForkStep)

	el = timed()
	d, err := db.Diff(run.ID(), fork.ID())
	if err != nil {
		return err
	}
	p("H5. diff parent -> fork (%v):", el())
	for _, c := range d.KV.Changed {
		p("     kv     changed %-16s %q -> %q", c.Key, c.Before, c.After)
	}
	for _, c := range d.State.Changed {
		p("     state  changed %-16s %q -> %q", c.Key, c.Before, c.After)
	}
	for _, c := range d.Events.Changed {
		p("     event  changed seq %-12s %s -> %s", c.Key, c.Before, c.After)
	}
	p("     and %d spans only in the parent (the calls after the fork step)", len(d.Traces.Removed))

	el = timed()
	rp, err := db.Replayer(run.ID())
	if err != nil {
		return err
	}
	for _, c := range llmCalls {
		out, err := rp.Do(c.name, []byte(c.input), nil) // nil: a replay never calls
		if err != nil {
			return err
		}
		if string(out) != c.output {
			return fmt.Errorf("replayed %s: %q", c.name, out)
		}
	}
	_, div := rp.Do("llm.chat", []byte("a prompt the agent never sent"), nil)
	p("H6. replayer returned the %d recorded answers without calling (%v); a changed call: %v", len(llmCalls), el(), div)
	return nil
}
