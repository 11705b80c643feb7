package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"unicode"

	"github.com/inmem-db/inmem"
)

// runImport recreates runs from JSON lines: inmem import DIR FILE, the
// output of inmem export DIR RUN --format jsonl (FILE "-" reads stdin).
// Several exports concatenated import as several runs.
//
// Each run becomes a new run (a new ID) with the original's name,
// namespace, tags, meta and status, and its events, state cells, KV
// entries and spans. What cannot carry over, because the database assigns
// it: run IDs, creation and end times, KV versions, cell versions
// (restarting at 1) and UpdatedAt, span IDs (renumbered from 1, parents
// mapped), and event times, so every event hash is recomputed (the chain
// stays valid; the hashes differ from the export's). A parent link is kept
// when the parent exists in DIR or was imported from the same file. Not
// in an export, so not imported: vectors, KV TTLs and state machine
// declarations.
//
// A run that fails to import is deleted, so no half-imported run remains.
//
// With --memory, FILE is instead the memory.jsonl of the MCP reference
// memory server: its entities and relations join the knowledge graph that
// inmem serve's memory tools keep (see importMemory).
func runImport(args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	memory := fs.Bool("memory", false, "FILE is an MCP memory server's memory.jsonl")
	memoryNS := fs.String("memory-namespace", "", "with --memory: the namespace whose knowledge graph takes it, TENANT/APP/AGENT")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if !*memory && *memoryNS != "" {
		return errUsage{errors.New("--memory-namespace goes with --memory")}
	}
	ns, err := parseNamespace(*memoryNS)
	if err != nil {
		return errUsage{err}
	}
	var in io.Reader
	var size int64
	if pos[1] == "-" {
		in = os.Stdin
	} else {
		f, err := os.Open(pos[1])
		if err != nil {
			return err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
		in = f
	}
	db, err := openExisting(pos[0], errOut)
	if err != nil {
		return err
	}
	if *memory {
		res, err := importMemory(db.KnowledgeGraph(ns), in)
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		res.Namespace = ns.String()
		if *asJSON {
			return printJSON(out, res)
		}
		fmt.Fprintf(out, "knowledge graph of %s: %d entities added (%d already there), %d relations added (%d already there)\n",
			res.Namespace, res.Entities, res.EntitiesPresent, res.Relations, res.RelationsPresent)
		return nil
	}
	imp := &importer{db: db, bar: newProgress(errOut, "import", size), ids: map[inmem.RunID]inmem.RunID{}}
	err = imp.read(in)
	imp.bar.finish()
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if *asJSON {
		if imp.done == nil {
			imp.done = []importResult{}
		}
		return printJSON(out, imp.done)
	}
	for _, r := range imp.done {
		fmt.Fprintf(out, "imported run %s as %s: %d events (hashes recomputed), %d cells, %d kv, %d spans\n",
			r.From, r.Run, r.Events, r.Cells, r.KV, r.Spans)
	}
	if len(imp.done) == 0 {
		fmt.Fprintln(out, "nothing to import")
	}
	return nil
}

// importResult is one imported run, for the command's output.
type importResult struct {
	From   inmem.RunID `json:"from"`
	Run    inmem.RunID `json:"run"`
	Events int         `json:"events"`
	Cells  int         `json:"cells"`
	KV     int         `json:"kv"`
	Spans  int         `json:"spans"`
}

// importBatch is how many records one transaction writes: large enough to
// amortise commits, small enough to stay far below the transaction size
// limit for ordinary values.
const importBatch = 256

// importer writes the records of one file, run by run.
type importer struct {
	db   *inmem.DB
	bar  *progress
	ids  map[inmem.RunID]inmem.RunID // exported run ID -> imported run ID
	done []importResult

	// The run being imported.
	info    inmem.RunInfo
	run     *inmem.Run
	res     importResult
	pending []func(tx *inmem.Tx) error // writes not yet committed
	spans   []inmem.Span               // recorded at the end, parents first
	// legacy: the run's records are in the shape exports had before
	// they printed show's JSON: the library's structs, capitalised keys,
	// bytes in base64.
	legacy bool
}

// record is one line of a jsonl export.
type record struct {
	Kind string          `json:"kind"`
	Data json.RawMessage `json:"data"`
}

// countingReader counts the bytes read, for the progress bar.
type countingReader struct {
	r   io.Reader
	bar *progress
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.bar.add(int64(n))
	return n, err
}

func (imp *importer) read(in io.Reader) error {
	sc := bufio.NewScanner(countingReader{in, imp.bar})
	// A line holds one value of up to MaxValueSize, base64-encoded, plus
	// its JSON envelope.
	sc.Buffer(make([]byte, 0, 64<<10), inmem.MaxValueSize/3*4+inmem.MaxKeySize+64<<10)
	n := 0
	for sc.Scan() {
		n++
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		if err := imp.line(b); err != nil {
			return imp.fail(n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return imp.fail(n+1, err)
	}
	if err := imp.finishRun(); err != nil {
		return imp.fail(n, err)
	}
	return nil
}

// fail removes the run being imported and says which runs before it
// were imported whole.
func (imp *importer) fail(line int, err error) error {
	imp.abort()
	if len(imp.done) > 0 {
		return fmt.Errorf("line %d: %w (the %d runs before it were imported; the failed one was removed)", line, err, len(imp.done))
	}
	return fmt.Errorf("line %d: %w", line, err)
}

// line applies one record.
func (imp *importer) line(b []byte) error {
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return fmt.Errorf("not a JSON record: %v: %w", err, inmem.ErrInvalidArgument)
	}
	if rec.Kind == "" {
		return fmt.Errorf("a record with no \"kind\": import reads the output of inmem export --format jsonl: %w", inmem.ErrInvalidArgument)
	}
	if rec.Kind != "run" && imp.run == nil {
		return fmt.Errorf("a %q record before any \"run\" record: %w", rec.Kind, inmem.ErrInvalidArgument)
	}
	decode := func(v any) error {
		if err := json.Unmarshal(rec.Data, v); err != nil {
			return fmt.Errorf("%s record: %v: %w", rec.Kind, err, inmem.ErrInvalidArgument)
		}
		return nil
	}
	switch rec.Kind {
	case "run":
		if err := imp.finishRun(); err != nil {
			return err
		}
		var keys map[string]json.RawMessage
		if err := decode(&keys); err != nil {
			return err
		}
		imp.legacy = false
		for k := range keys {
			// The legacy shape's keys are Go field names; the current
			// one's are all lower case.
			if k != "" && unicode.IsUpper(rune(k[0])) {
				imp.legacy = true
			}
		}
		var info inmem.RunInfo
		if imp.legacy {
			if err := decode(&info); err != nil {
				return err
			}
		} else {
			var r runOut
			if err := decode(&r); err != nil {
				return err
			}
			var err error
			if info, err = runInfoOf(r); err != nil {
				return fmt.Errorf("run record: %w", err)
			}
		}
		return imp.beginRun(info)
	case "event":
		var e exportEvent
		var payload []byte
		if imp.legacy {
			var old legacyEvent
			if err := decode(&old); err != nil {
				return err
			}
			e.Seq, e.Type, payload = old.Seq, old.Type, old.Payload
		} else {
			if err := decode(&e); err != nil {
				return err
			}
			var err error
			if payload, err = inBytes("payload", e.Payload, e.PayloadBase64); err != nil {
				return err
			}
		}
		want := uint64(imp.res.Events)
		if e.Seq != want {
			return fmt.Errorf("event seq %d, want %d (events must be complete and in order): %w", e.Seq, want, inmem.ErrInvalidArgument)
		}
		imp.res.Events++
		return imp.write(func(tx *inmem.Tx) error {
			_, err := tx.Events().Append(e.Type, payload)
			return err
		})
	case "cell":
		var c inmem.Cell
		if imp.legacy {
			if err := decode(&c); err != nil {
				return err
			}
		} else {
			var co cellOut
			if err := decode(&co); err != nil {
				return err
			}
			v, err := inBytes("value", co.Value, co.ValueBase64)
			if err != nil {
				return err
			}
			c.Name, c.Value = co.Name, v
		}
		imp.res.Cells++
		return imp.write(func(tx *inmem.Tx) error {
			_, err := tx.State().Set(c.Name, c.Value)
			return err
		})
	case "kv":
		var e inmem.Entry
		if imp.legacy {
			if err := decode(&e); err != nil {
				return err
			}
		} else {
			var eo entryOut
			if err := decode(&eo); err != nil {
				return err
			}
			v, err := inBytes("value", eo.Value, eo.ValueBase64)
			if err != nil {
				return err
			}
			e.Key, e.Value = eo.Key, v
		}
		imp.res.KV++
		return imp.write(func(tx *inmem.Tx) error { return tx.KV().Put(e.Key, e.Value) })
	case "span":
		var s inmem.Span
		if imp.legacy {
			if err := decode(&s); err != nil {
				return err
			}
		} else {
			var so importSpan
			if err := decode(&so); err != nil {
				return err
			}
			var err error
			if s, err = spanFromOut(so); err != nil {
				return fmt.Errorf("span record: %w", err)
			}
		}
		imp.spans = append(imp.spans, s)
		return nil
	}
	return fmt.Errorf("unknown record kind %q: %w", rec.Kind, inmem.ErrInvalidArgument)
}

// legacyEvent is an event record of the legacy shape.
type legacyEvent struct {
	Seq     uint64 `json:"seq"`
	Type    string `json:"type"`
	Payload []byte `json:"payload"`
}

// runInfoOf reads back what import needs of a run record.
func runInfoOf(r runOut) (inmem.RunInfo, error) {
	info := inmem.RunInfo{Name: r.Name, Namespace: r.Namespace.namespace(), Error: r.Error, Tags: r.Tags, Meta: r.Meta}
	var err error
	if info.ID, err = parseOptionalRun("id", r.ID); err != nil {
		return info, err
	}
	if info.Parent, err = parseOptionalRun("parent", r.Parent); err != nil {
		return info, err
	}
	if r.Status != "" {
		if info.Status, err = parseStatus(r.Status); err != nil {
			return info, err
		}
	}
	return info, nil
}

func parseOptionalRun(field, s string) (inmem.RunID, error) {
	if s == "" {
		return inmem.RunID{}, nil
	}
	return parseRun(field, s)
}

// importSpan is a span record as import reads it: attribute values are
// kept as JSON until their type is known.
type importSpan struct {
	spanOut
	Attrs  map[string]json.RawMessage `json:"attrs,omitempty"`
	Values map[string]json.RawMessage `json:"values,omitempty"`
}

// spanFromOut reads back a span record. A string in attrs goes back to
// Attrs; any other value, and every value in values, goes to Values,
// parsed as inmem.AttrValue reads it, so that an integer stays an integer
// and a float a float.
func spanFromOut(so importSpan) (inmem.Span, error) {
	s := inmem.Span{ID: inmem.SpanID(so.ID), Parent: inmem.SpanID(so.Parent), Name: so.Name,
		Status: inmem.SpanStatus(so.Status), Tags: so.Tags}
	var err error
	if s.Kind, err = parseKind(so.Kind); err != nil {
		return s, err
	}
	if s.Start, err = parseTime("start", so.Start); err != nil {
		return s, err
	}
	if s.End, err = parseTime("end", so.End); err != nil {
		return s, err
	}
	if s.Input, err = inBytes("input", so.Input, so.InputBase64); err != nil {
		return s, err
	}
	if s.Output, err = inBytes("output", so.Output, so.OutputBase64); err != nil {
		return s, err
	}
	setValue := func(k string, raw json.RawMessage) error {
		var v inmem.AttrValue
		if err := v.UnmarshalJSON(raw); err != nil {
			return fmt.Errorf("attrs[%q]: %w", k, err) // the library names the value
		}
		if s.Values == nil {
			s.Values = map[string]inmem.AttrValue{}
		}
		s.Values[k] = v
		return nil
	}
	for k, raw := range so.Attrs {
		var str string
		if json.Unmarshal(raw, &str) != nil {
			if err := setValue(k, raw); err != nil {
				return s, err
			}
			continue
		}
		if s.Attrs == nil {
			s.Attrs = map[string]string{}
		}
		s.Attrs[k] = str
	}
	for k, raw := range so.Values {
		if err := setValue(k, raw); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (imp *importer) beginRun(info inmem.RunInfo) error {
	opts := []inmem.RunOption{inmem.Name(info.Name), inmem.InNamespace(info.Namespace)}
	// Only when set: an empty option would turn "none" into "empty".
	if len(info.Tags) > 0 {
		opts = append(opts, inmem.Tags(info.Tags...))
	}
	if len(info.Meta) > 0 {
		opts = append(opts, inmem.Meta(info.Meta))
	}
	if !info.Parent.IsZero() {
		parent, ok := imp.ids[info.Parent]
		if !ok {
			if _, err := imp.db.Runs().Get(info.Parent); err == nil {
				parent, ok = info.Parent, true
			}
		}
		if ok {
			opts = append(opts, inmem.Parent(parent))
		}
	}
	run, err := imp.db.BeginRun(opts...)
	if err != nil {
		return err
	}
	imp.info, imp.run = info, run
	imp.res = importResult{From: info.ID, Run: run.ID()}
	imp.spans = imp.spans[:0]
	return nil
}

// write queues fn, committing the queue when it is a batch long.
func (imp *importer) write(fn func(tx *inmem.Tx) error) error {
	imp.pending = append(imp.pending, fn)
	if len(imp.pending) < importBatch {
		return nil
	}
	return imp.flush()
}

func (imp *importer) flush() error {
	if len(imp.pending) == 0 {
		return nil
	}
	err := imp.run.Update(func(tx *inmem.Tx) error {
		for _, fn := range imp.pending {
			if err := fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	imp.pending = imp.pending[:0]
	return err
}

// finishRun commits what is queued, records the spans parents first, and
// sets the run's status, completing the run being imported.
func (imp *importer) finishRun() error {
	if imp.run == nil {
		return nil
	}
	if err := imp.flush(); err != nil {
		return err
	}
	// Span IDs count up and a parent is recorded before its children, so
	// the exported ID order is a parents-first order. Parents are looked
	// up when the write runs, inside the transaction that may have just
	// recorded them.
	slices.SortFunc(imp.spans, func(a, b inmem.Span) int { return cmp.Compare(a.ID, b.ID) })
	known := map[inmem.SpanID]bool{}
	newID := map[inmem.SpanID]inmem.SpanID{}
	for _, s := range imp.spans {
		if s.Parent != 0 && !known[s.Parent] {
			return fmt.Errorf("span %d: parent %d is not in the export: %w", s.ID, s.Parent, inmem.ErrInvalidArgument)
		}
		known[s.ID] = true
		err := imp.write(func(tx *inmem.Tx) error {
			ns := s
			ns.ID = 0
			if s.Parent != 0 {
				ns.Parent = newID[s.Parent]
			}
			id, err := tx.Traces().Record(ns)
			newID[s.ID] = id
			return err
		})
		if err != nil {
			return err
		}
	}
	if err := imp.flush(); err != nil {
		return err
	}
	imp.res.Spans = len(imp.spans)
	if err := restoreStatus(imp.db, imp.run, imp.info); err != nil {
		return err
	}
	imp.ids[imp.info.ID] = imp.run.ID()
	imp.done = append(imp.done, imp.res)
	imp.run = nil
	return nil
}

// restoreStatus moves the imported run to the original's status along
// allowed transitions: an archived run with a reason was failed first.
func restoreStatus(db *inmem.DB, run *inmem.Run, info inmem.RunInfo) error {
	switch info.Status {
	case inmem.Active, 0:
		return nil
	case inmem.Paused:
		return db.Runs().SetStatus(run.ID(), inmem.Paused)
	case inmem.Completed, inmem.Failed, inmem.Cancelled:
		return run.End(info.Status, info.Error)
	case inmem.Archived:
		if info.Error != "" {
			if err := run.End(inmem.Failed, info.Error); err != nil {
				return err
			}
		}
		return db.Runs().SetStatus(run.ID(), inmem.Archived)
	}
	return fmt.Errorf("run status %d: %w", info.Status, inmem.ErrInvalidArgument)
}

// abort deletes a run whose import failed part way. A failed delete is
// not reported: the import error is what the caller needs, and the run
// left behind can be deleted by hand.
func (imp *importer) abort() {
	if imp.run != nil {
		_ = imp.db.Runs().Delete(imp.run.ID())
		imp.run = nil
	}
}
