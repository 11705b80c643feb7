package inmem_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"strconv"
	"time"

	"github.com/inmem-db/inmem"
)

// A durable database in a directory: a run, a key written and read back,
// and the same key after closing and opening the directory again.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "inmem-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := inmem.Open(dir, inmem.WithDurability(inmem.Strict()))
	if err != nil {
		log.Fatal(err)
	}
	run, err := db.BeginRun(inmem.Name("ticket 4821"))
	if err != nil {
		log.Fatal(err)
	}
	if err := run.KV().Put("ticket/priority", []byte("high")); err != nil {
		log.Fatal(err)
	}
	id := run.ID()
	if err := db.Close(); err != nil {
		log.Fatal(err)
	}

	db, err = inmem.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	run, err = db.Run(id)
	if err != nil {
		log.Fatal(err)
	}
	v, err := run.KV().Get("ticket/priority")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", v)
	// Output: high
}

// An in-memory database, a run in a namespace, and its key-value store.
func ExampleOpenInMemory() {
	db, err := inmem.OpenInMemory()
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	ns := inmem.Namespace{Tenant: "acme", App: "support", Agent: "triage"}
	run, err := db.BeginRun(inmem.Name("ticket 4821"), inmem.InNamespace(ns))
	if err != nil {
		log.Fatal(err)
	}
	kv := run.KV()
	if err := kv.Put("ticket/priority", []byte("high")); err != nil {
		log.Fatal(err)
	}
	v, err := kv.Get("ticket/priority")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("priority: %s\n", v)

	_, err = kv.Get("ticket/owner")
	fmt.Println("owner:", errors.Is(err, inmem.ErrNotFound))
	// Output:
	// priority: high
	// owner: true
}

// One agent step as one transaction: an event, a state change, a span and
// a key, committed together or not at all. Update runs the function again
// if another transaction got in the way.
func ExampleRun_Update() {
	db, err := inmem.OpenInMemory()
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	run, err := db.BeginRun()
	if err != nil {
		log.Fatal(err)
	}
	if _, err := run.State().Init("phase", []byte("plan")); err != nil {
		log.Fatal(err)
	}

	err = run.Update(func(tx *inmem.Tx) error {
		if _, err := tx.Events().Append("tool.result", []byte(`{"rows":3}`)); err != nil {
			return err
		}
		c, err := tx.State().Get("phase")
		if err != nil {
			return err
		}
		if _, err := tx.State().CAS("phase", c.Version, []byte("act")); err != nil {
			return err
		}
		if _, err := tx.Traces().Record(inmem.Span{Kind: inmem.ToolCall, Name: "sql", Status: inmem.StatusOK}); err != nil {
			return err
		}
		return tx.KV().Put("rows", []byte("3"))
	})
	if err != nil {
		log.Fatal(err)
	}

	// A failed step leaves nothing behind.
	err = run.Update(func(tx *inmem.Tx) error {
		if _, err := tx.Events().Append("tool.result", nil); err != nil {
			return err
		}
		return errors.New("tool failed")
	})
	fmt.Println(err)

	n, _ := run.Events().Len()
	c, _ := run.State().Get("phase")
	fmt.Printf("events: %d, phase: %s (version %d)\n", n, c.Value, c.Version)
	// Output:
	// tool failed
	// events: 1, phase: act (version 2)
}

// The event log is append-only and hash-chained; Verify recomputes the
// chain.
func ExampleEvents_Verify() {
	db, err := inmem.OpenInMemory()
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	run, err := db.BeginRun()
	if err != nil {
		log.Fatal(err)
	}
	ev := run.Events()
	for _, typ := range []string{"user.message", "llm.response", "tool.call"} {
		e, err := ev.Append(typ, []byte("{}"))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.Seq, e.Type)
	}
	calls, _ := ev.ByType("tool.call")
	fmt.Println("tool calls:", len(calls))
	rep, err := ev.Verify()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("chain ok: %v, %d events\n", rep.OK, rep.Len)
	// Output:
	// 0 user.message
	// 1 llm.response
	// 2 tool.call
	// tool calls: 1
	// chain ok: true, 3 events
}

// A state cell with a declared state machine: CAS guards against lost
// updates, and the machine against moves it does not allow.
func ExampleState_Define() {
	db, err := inmem.OpenInMemory()
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	run, err := db.BeginRun()
	if err != nil {
		log.Fatal(err)
	}
	st := run.State()
	err = st.Define("job", inmem.Machine{
		Initial: "queued",
		Allow: map[string][]string{
			"queued":  {"running"},
			"running": {"done", "failed"},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	c, _ := st.Get("job")
	fmt.Printf("%s v%d\n", c.Value, c.Version)

	c, err = st.CAS("job", c.Version, []byte("running"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s v%d\n", c.Value, c.Version)

	_, err = st.CAS("job", 1, []byte("done")) // a stale version
	fmt.Println(errors.Is(err, inmem.ErrVersionMismatch))
	_, err = st.CAS("job", c.Version, []byte("queued")) // not allowed from running
	fmt.Println(errors.Is(err, inmem.ErrInvalidTransition))
	// Output:
	// queued v1
	// running v2
	// true
	// true
}

// Spans record an agent's reasoning as a tree. Token counts go in Values,
// typed, so that exports keep them integers.
func ExampleTraces_Tree() {
	db, err := inmem.OpenInMemory()
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	run, err := db.BeginRun()
	if err != nil {
		log.Fatal(err)
	}
	tr := run.Traces()
	root, err := tr.Record(inmem.Span{Kind: inmem.Decision, Name: "answer ticket"})
	if err != nil {
		log.Fatal(err)
	}
	llm, err := tr.Record(inmem.Span{
		Parent: root, Kind: inmem.LLMCall, Name: "plan", Status: inmem.StatusOK,
		Attrs:  map[string]string{"gen_ai.request.model": "m"},
		Values: map[string]inmem.AttrValue{"gen_ai.usage.input_tokens": inmem.IntValue(812)},
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := tr.Record(inmem.Span{Parent: llm, Kind: inmem.ToolCall, Name: "search"}); err != nil {
		log.Fatal(err)
	}
	if _, err := tr.Record(inmem.Span{Parent: root, Kind: inmem.Thought, Name: "reply"}); err != nil {
		log.Fatal(err)
	}

	tree, err := tr.Tree(root)
	if err != nil {
		log.Fatal(err)
	}
	var show func(t inmem.SpanTree, depth int)
	show = func(t inmem.SpanTree, depth int) {
		fmt.Printf("%*s%s %s\n", 2*depth, "", t.Span.Kind, t.Span.Name)
		for _, c := range t.Children {
			show(c, depth+1)
		}
	}
	show(tree, 0)

	s, _ := tr.Get(llm)
	tokens := s.Values["gen_ai.usage.input_tokens"]
	fmt.Println(tokens.Kind(), tokens.Int64())
	// Output:
	// decision answer ticket
	//   llm_call plan
	//     tool_call search
	//   thought reply
	// int64 812
}

// A vector collection: upsert with metadata, then search with a filter.
func ExampleVectors_Search() {
	db, err := inmem.OpenInMemory()
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	mem := db.Shared(inmem.Namespace{Agent: "support"}).Vectors()
	if err := mem.CreateCollection("notes", inmem.VectorConfig{Dim: 3, Metric: inmem.Cosine}); err != nil {
		log.Fatal(err)
	}
	for _, n := range []struct {
		key  string
		vec  []float32
		lang string
	}{
		{"refunds", []float32{1, 0, 0}, "en"},
		{"remboursements", []float32{0.9, 0.1, 0}, "fr"},
		{"shipping", []float32{0, 1, 0}, "en"},
		{"returns", []float32{0.8, 0.2, 0}, "en"},
	} {
		if err := mem.Upsert("notes", n.key, n.vec, map[string]any{"lang": n.lang}); err != nil {
			log.Fatal(err)
		}
	}
	matches, err := mem.Search("notes", []float32{1, 0.05, 0}, 2, inmem.Where(inmem.Eq("lang", "en")))
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range matches {
		fmt.Println(m.Key, m.Meta["lang"])
	}
	// Output:
	// refunds en
	// returns en
}

// Every committed write is a step: a run can be read as of a step, forked
// from one, compared with its fork, and rebuilt from its history.
func ExampleRun_AsOf() {
	db, err := inmem.OpenInMemory()
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	run, err := db.BeginRun()
	if err != nil {
		log.Fatal(err)
	}
	kv := run.KV()
	for _, plan := range []string{"search", "ask", "answer"} {
		if err := kv.Put("plan", []byte(plan)); err != nil {
			log.Fatal(err)
		}
	}
	steps, _ := run.Steps()
	fmt.Println("steps:", len(steps), steps[0].Writes.KV)

	view, err := run.AsOf(2)
	if err != nil {
		log.Fatal(err)
	}
	v, _ := view.KV().Get("plan")
	fmt.Printf("after step 2: %s\n", v)

	child, err := db.Fork(run.ID(), 1)
	if err != nil {
		log.Fatal(err)
	}
	if err := child.KV().Put("plan", []byte("escalate")); err != nil {
		log.Fatal(err)
	}
	d, err := db.Diff(run.ID(), child.ID())
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range d.KV.Changed {
		fmt.Printf("%s: %s -> %s\n", c.Key, c.Before, c.After)
	}

	rep, err := db.Replay(run.ID())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("replay matches:", rep.Match, "steps:", rep.Steps)
	// Output:
	// steps: 3 [plan]
	// after step 2: ask
	// plan: answer -> escalate
	// replay matches: true steps: 3
}

// Record an agent's calls once, then replay them without calling anything:
// the replayer returns the recorded outputs and reports a divergence.
func ExampleDB_Replayer() {
	db, err := inmem.OpenInMemory()
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	run, err := db.BeginRun()
	if err != nil {
		log.Fatal(err)
	}
	calls := 0
	model := func(prompt []byte) func() ([]byte, error) {
		return func() ([]byte, error) {
			calls++
			return []byte("reply to " + string(prompt)), nil
		}
	}
	rec := run.Recorder()
	for _, p := range []string{"hi", "bye"} {
		if _, err := rec.Do("llm", []byte(p), model([]byte(p))); err != nil {
			log.Fatal(err)
		}
	}

	rp, err := db.Replayer(run.ID())
	if err != nil {
		log.Fatal(err)
	}
	out, err := rp.Do("llm", []byte("hi"), nil)
	fmt.Printf("%s %v\n", out, err)
	_, err = rp.Do("llm", []byte("something else"), nil)
	var div *inmem.DivergenceError
	fmt.Println("diverged at call", errors.As(err, &div) && div.Step == 2)
	fmt.Println("calls made:", calls)
	// Output:
	// reply to hi <nil>
	// diverged at call true
	// calls made: 2
}

// Entries ranges over a prefix; breaking out of the loop stops the scan.
func ExampleKV_Entries() {
	db, err := inmem.OpenInMemory()
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	run, err := db.BeginRun()
	if err != nil {
		log.Fatal(err)
	}
	for i := range 5 {
		if err := run.KV().Put("doc/"+strconv.Itoa(i), []byte{byte('a' + i)}); err != nil {
			log.Fatal(err)
		}
	}
	for e, err := range run.KV().Entries("doc/") {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s=%s\n", e.Key, e.Value)
		if e.Key == "doc/2" {
			break
		}
	}
	// Output:
	// doc/0=a
	// doc/1=b
	// doc/2=c
}

// ListAfter pages through a prefix: each page starts after the last key of
// the one before.
func ExampleKV_ListAfter() {
	db, err := inmem.OpenInMemory()
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	run, err := db.BeginRun()
	if err != nil {
		log.Fatal(err)
	}
	for i := range 5 {
		if err := run.KV().Put("doc/"+strconv.Itoa(i), nil); err != nil {
			log.Fatal(err)
		}
	}
	const limit = 2
	after := ""
	for {
		page, err := run.KV().ListAfter("doc/", after, limit)
		if err != nil {
			log.Fatal(err)
		}
		var keys []string
		for _, e := range page {
			keys = append(keys, e.Key)
		}
		fmt.Println(keys)
		if len(page) < limit {
			break
		}
		after = page[len(page)-1].Key
	}
	// Output:
	// [doc/0 doc/1]
	// [doc/2 doc/3]
	// [doc/4]
}

// All ranges over the runs a query selects, in creation order.
func ExampleRuns_All() {
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	db, err := inmem.OpenInMemory(inmem.WithClock(func() time.Time { return now }))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	for i, name := range []string{"triage", "refund", "triage again"} {
		now = now.Add(time.Minute)
		run, err := db.BeginRun(inmem.Name(name))
		if err != nil {
			log.Fatal(err)
		}
		if i == 1 {
			if err := run.End(inmem.Completed, ""); err != nil {
				log.Fatal(err)
			}
		}
	}
	for info, err := range db.Runs().All(inmem.RunQuery{Status: inmem.Active}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(info.Name, info.CreatedAt.UTC().Format(time.Kitchen))
	}
	// Output:
	// triage 9:01AM
	// triage again 9:03AM
}

// All ranges over the event log in seq order, reading one event at a time.
func ExampleEvents_All() {
	db, err := inmem.OpenInMemory()
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	run, err := db.BeginRun(inmem.Name("triage"))
	if err != nil {
		log.Fatal(err)
	}
	for _, typ := range []string{"user", "tool_call", "tool_result", "reply"} {
		if _, err := run.Events().Append(typ, []byte(typ+" payload")); err != nil {
			log.Fatal(err)
		}
	}
	for e, err := range run.Events().All(1) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.Seq, e.Type, string(e.Payload))
		if e.Type == "tool_result" {
			break // the rest of the log is not read
		}
	}
	// Output:
	// 1 tool_call tool_call payload
	// 2 tool_result tool_result payload
}
