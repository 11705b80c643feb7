package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/inmem-db/inmem"
)

// runDemo shows what the database does, step by step, on a fresh database.
func runDemo(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(out)
	dir := fs.String("dir", "", "database directory (default: in memory)")
	if err := fs.Parse(args); err != nil {
		return errUsage{err}
	}
	var db *inmem.DB
	var err error
	if *dir == "" {
		db, err = inmem.OpenInMemory()
	} else {
		db, err = inmem.Open(*dir)
	}
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }() // the handle open at return: the demo reopens it
	p := func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) }

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

	if err := kv.PutTTL("session/lock", []byte("held"), 1); err != nil {
		return err
	}
	_, errTTL := kv.Get("session/lock")
	p("6. a key written with a 1ns TTL reads as: %v", errTTL)

	if err := run.End(inmem.Completed, ""); err != nil {
		return err
	}
	errEnded := kv.Put("late", []byte("x"))
	info, err := run.Info()
	if err != nil {
		return err
	}
	p("7. run ended: status %s after %d steps; a later write returns: %v", info.Status, info.Steps, errEnded)

	st = db.Stats()
	p("8. stats: %d commits, %d conflicts, %d entries, %.1f KiB of arena in use",
		st.Commits, st.Conflicts, st.Entries, float64(st.MemUsed)/1024)
	if *dir == "" {
		return nil
	}

	// On disk: close, reopen, and read the run back from the log.
	id := run.ID()
	if err := db.Close(); err != nil {
		return err
	}
	if db, err = inmem.Open(*dir); err != nil {
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
	p("9. reopened %s: run %s is %s with %d steps, tool_calls = %s, recovered from the write-ahead log",
		*dir, id, info.Status, info.Steps, b)
	return nil
}
