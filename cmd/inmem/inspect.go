package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/inmem-db/inmem"
)

// jsonFlags parses the arguments of a command whose only flag is the
// --json every command takes.
func jsonFlags(name string, args []string) (asJSON bool, pos []string, err error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	j := fs.Bool("json", false, "print JSON instead of text")
	pos, err = parseArgs(fs, args)
	return *j, pos, err
}

// printJSON prints v as the one JSON shape of every command: snake_case
// keys, enums by name, IDs and hashes as strings, times in RFC 3339.
func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func shortTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// runRuns lists the runs of a database: inmem runs DIR.
func runRuns(args []string, out, errOut io.Writer) error {
	asJSON, pos, err := jsonFlags("runs", args)
	if err != nil {
		return err
	}
	db, err := openReadOnly(pos[0], errOut)
	if err != nil {
		return err
	}
	defer db.Close()
	runs, err := db.Runs().List(inmem.RunQuery{})
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(out, mapSlice(runs, runOf))
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tNAMESPACE\tSTATUS\tSTEPS\tTIER\tCREATED\tPARENT")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.ID, r.Name, r.Namespace, r.Status, r.Steps, tierOf(r), shortTime(r.CreatedAt), parentOf(r))
	}
	return tw.Flush()
}

// tierOf is the TIER column of inmem runs: where the run's history lives.
func tierOf(r inmem.RunInfo) string {
	if r.Cold {
		return "cold"
	}
	return "hot"
}

// parentOf is the PARENT column of inmem runs: the run a fork was forked
// from and at which step, else the run that started this one.
func parentOf(r inmem.RunInfo) string {
	switch {
	case !r.ForkOf.IsZero():
		return fmt.Sprintf("fork of %s@%d", r.ForkOf, r.ForkStep)
	case !r.Parent.IsZero():
		return r.Parent.String()
	}
	return "-"
}

// runData is everything a run holds, read at one snapshot.
type runData struct {
	Run    inmem.RunInfo
	Events []inmem.Event
	State  []inmem.Cell
	Spans  []inmem.Span
	KV     []inmem.Entry
	// Vectors are read by show and asof only (readVectors).
	Vectors []vectorColl
}

// vectorColl is one vector collection of a run and its records.
type vectorColl struct {
	inmem.CollectionInfo
	Records []inmem.VectorRecord
}

// readRun reads a run's description and all of its events, cells, spans
// and KV entries in one read-only transaction.
func readRun(db *inmem.DB, id inmem.RunID) (runData, error) {
	var rd runData
	run, err := db.Run(id)
	if err != nil {
		return rd, err
	}
	if rd.Run, err = run.Info(); err != nil {
		return rd, err
	}
	err = run.View(func(tx *inmem.Tx) error { return rd.read(tx) })
	return rd, err
}

// read fills in the run's events, cells, spans and KV entries from tx: a
// transaction on the live run, or one at a step of its history.
func (rd *runData) read(tx *inmem.Tx) error {
	n, err := tx.Events().Len()
	if err != nil {
		return err
	}
	if rd.Events, err = tx.Events().Range(0, n); err != nil {
		return err
	}
	if rd.State, err = tx.State().List(); err != nil {
		return err
	}
	if rd.Spans, err = tx.Traces().Query(inmem.SpanQuery{}); err != nil {
		return err
	}
	rd.KV, err = tx.KV().List("")
	return err
}

// runDataOut is a run and what it holds, as show and asof print it with
// --json.
type runDataOut struct {
	Run     runOut          `json:"run"`
	Events  []eventOut      `json:"events"`
	State   []cellOut       `json:"state"`
	KV      []entryOut      `json:"kv"`
	Spans   []spanOut       `json:"spans"`
	Vectors []vectorCollOut `json:"vectors"`
}

// vectorCollOut is a vector collection; records leave out the vectors
// themselves, hundreds of numbers each.
type vectorCollOut struct {
	Name    string         `json:"name"`
	Dim     int            `json:"dim"`
	Metric  string         `json:"metric"`
	Records []vectorRecOut `json:"records"`
}

type vectorRecOut struct {
	Key  string         `json:"key"`
	Dim  int            `json:"dim"`
	Meta map[string]any `json:"meta,omitempty"`
}

func (rd runData) out() runDataOut {
	return runDataOut{Run: runOf(rd.Run), Events: mapSlice(rd.Events, eventOf), State: mapSlice(rd.State, cellOf),
		KV: mapSlice(rd.KV, entryOf), Spans: mapSlice(rd.Spans, spanOf),
		Vectors: mapSlice(rd.Vectors, func(c vectorColl) vectorCollOut {
			return vectorCollOut{Name: c.Name, Dim: c.Config.Dim, Metric: c.Config.Metric.String(),
				Records: mapSlice(c.Records, func(r inmem.VectorRecord) vectorRecOut {
					return vectorRecOut{Key: r.Key, Dim: len(r.Vector), Meta: r.Meta}
				})}
		})}
}

// readVectors reads the run's vector collections and their records as vs
// (the run's, or a view's at a step) holds them.
func (rd *runData) readVectors(vs *inmem.Vectors) error {
	colls, err := vs.Collections()
	if err != nil {
		return err
	}
	for _, c := range colls {
		recs, err := vs.List(c.Name)
		if err != nil {
			return err
		}
		rd.Vectors = append(rd.Vectors, vectorColl{CollectionInfo: c, Records: recs})
	}
	return nil
}

// runShow prints one run: inmem show DIR RUN.
func runShow(args []string, out, errOut io.Writer) error {
	asJSON, pos, err := jsonFlags("show", args)
	if err != nil {
		return err
	}
	db, id, err := openWithRun(pos[0], pos[1], errOut)
	if err != nil {
		return err
	}
	defer db.Close()
	rd, err := readRun(db, id)
	if err != nil {
		return err
	}
	run, err := db.Run(id)
	if err != nil {
		return err
	}
	if err := rd.readVectors(run.Vectors()); err != nil {
		return err
	}
	if asJSON {
		return printJSON(out, rd.out())
	}
	info := rd.Run
	fmt.Fprintf(out, "run %s %q  namespace %s  status %s  steps %d  created %s\n",
		info.ID, info.Name, info.Namespace, info.Status, info.Steps, shortTime(info.CreatedAt))
	printLineage(out, db, info)
	if info.Error != "" {
		fmt.Fprintf(out, "  reason: %s\n", info.Error)
	}
	printRunData(out, rd)
	return nil
}

// printLineage says where a run comes from: the run and step it was
// forked from, or the run that started it, by ID and name.
func printLineage(out io.Writer, db *inmem.DB, info inmem.RunInfo) {
	name := func(id inmem.RunID) string {
		if r, err := db.Runs().Get(id); err == nil && r.Name != "" {
			return fmt.Sprintf(" %q", r.Name)
		}
		return ""
	}
	if !info.ForkOf.IsZero() {
		fmt.Fprintf(out, "  fork of run %s%s at step %d\n", info.ForkOf, name(info.ForkOf), info.ForkStep)
	}
	if !info.Parent.IsZero() {
		fmt.Fprintf(out, "  child of run %s%s\n", info.Parent, name(info.Parent))
	}
}

// printRunData prints a run's events, state, KV and span tree as tables.
func printRunData(out io.Writer, rd runData) {
	events, cells, spans, kv := rd.Events, rd.State, rd.Spans, rd.KV
	fmt.Fprintf(out, "events (%d):\n", len(events))
	for _, e := range events {
		fmt.Fprintf(out, "  %4d  %-20s %s  %x\n", e.Seq, e.Type, clip(e.Payload), e.Hash[:6])
	}
	fmt.Fprintf(out, "state (%d):\n", len(cells))
	for _, c := range cells {
		fmt.Fprintf(out, "  %-20s = %s  (version %d)\n", c.Name, clip(c.Value), c.Version)
	}
	fmt.Fprintf(out, "kv (%d):\n", len(kv))
	for _, e := range kv {
		fmt.Fprintf(out, "  %-20s = %s\n", e.Key, clip(e.Value))
	}
	fmt.Fprintf(out, "spans (%d):\n", len(spans))
	printSpanForest(out, spans)
	fmt.Fprintf(out, "vectors (%s):\n", plural(len(rd.Vectors), "collection"))
	for _, c := range rd.Vectors {
		fmt.Fprintf(out, "  %s: dim %d, %s, %s\n", c.Name, c.Config.Dim, c.Config.Metric, plural(len(c.Records), "record"))
		for _, r := range c.Records {
			meta := ""
			if len(r.Meta) > 0 {
				b, _ := json.Marshal(r.Meta)
				meta = " " + string(b)
			}
			fmt.Fprintf(out, "    %-20s dim %d%s\n", r.Key, len(r.Vector), meta)
		}
	}
}

// printSpanForest draws spans as trees, children under their parent in
// start order.
func printSpanForest(out io.Writer, spans []inmem.Span) {
	kids := map[inmem.SpanID][]inmem.Span{}
	known := map[inmem.SpanID]bool{}
	for _, s := range spans {
		known[s.ID] = true
	}
	var roots []inmem.Span
	for _, s := range spans {
		if s.Parent == 0 || !known[s.Parent] {
			roots = append(roots, s)
		} else {
			kids[s.Parent] = append(kids[s.Parent], s)
		}
	}
	var draw func(s inmem.Span, prefix, branch string)
	draw = func(s inmem.Span, prefix, branch string) {
		dur := ""
		if !s.End.IsZero() {
			dur = " " + s.End.Sub(s.Start).String()
		}
		fmt.Fprintf(out, "  %s%s[%d] %s %q%s %s\n", prefix, branch, s.ID, s.Kind, s.Name, dur, s.Status)
		next := prefix
		switch branch {
		case "├─ ":
			next += "│  "
		case "└─ ":
			next += "   "
		}
		cs := kids[s.ID]
		for i, c := range cs {
			b := "├─ "
			if i == len(cs)-1 {
				b = "└─ "
			}
			draw(c, next, b)
		}
	}
	for _, r := range roots {
		draw(r, "", "")
	}
}

// clip shortens a value for a table cell.
func clip(b []byte) string {
	const max = 60
	s := fmt.Sprintf("%q", b)
	if len(s) > max {
		s = s[:max-3] + "..."
	}
	return s
}

// runVerify checks a database: inmem verify DIR. First its files, under
// the directory lock and without recovering anything (inmem.VerifyFiles):
// every snapshot and WAL checksum, and whether the snapshots and the WAL
// fit together; each problem names the file and offset. A database with a
// problem is not opened, since recovery would act on the damage (cut what
// looks like a torn tail). Then every run's event hash chain is
// recomputed, with a progress bar over the runs when stderr is a terminal.
func runVerify(args []string, out, errOut io.Writer) error {
	asJSON, pos, err := jsonFlags("verify", args)
	if err != nil {
		return err
	}
	dir := pos[0]
	files, err := inmem.VerifyFiles(dir)
	if err != nil {
		return lockedMessage(dir, err)
	}
	if !asJSON {
		printFilesReport(out, files)
	}
	if !files.OK() {
		if asJSON {
			if err := printJSON(out, verifyOut{OK: false, Files: filesOf(files), Runs: []chainResult{}}); err != nil {
				return err
			}
		}
		return fmt.Errorf("%d problems in the files of %s, so it was not opened: %w", len(files.Problems), dir, inmem.ErrCorruption)
	}
	results, bad, err := verifyChains(dir, errOut)
	if err != nil {
		return err
	}
	if asJSON {
		if err := printJSON(out, verifyOut{OK: bad == 0, Files: filesOf(files), Runs: results}); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			if r.OK {
				fmt.Fprintf(out, "run %s: %d events, hash chain ok\n", r.Run, r.Events)
			} else {
				fmt.Fprintf(out, "run %s: hash chain broken at seq %d: %s\n", r.Run, *r.Bad, r.Reason)
			}
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d runs failed verification: %w", bad, len(results), inmem.ErrCorruption)
	}
	return nil
}

// verifyOut is what verify prints with --json: the files report, the same
// one the text describes, and each run's chain.
type verifyOut struct {
	OK    bool          `json:"ok"`
	Files filesOut      `json:"files"`
	Runs  []chainResult `json:"runs"`
}

// filesOut is an inmem.FilesReport. Segments are named as the text names
// them, and counted as the text counts them.
type filesOut struct {
	OK           bool          `json:"ok"`
	Snapshots    []snapshotOut `json:"snapshots"`
	Segments     []string      `json:"segments"`
	SegmentCount int           `json:"segment_count"`
	Commits      int           `json:"commits"`
	FirstVersion uint64        `json:"first_version"`
	LastVersion  uint64        `json:"last_version"`
	ColdFiles    int           `json:"cold_files"`
	ColdRuns     int           `json:"cold_runs"`
	Notes        []problemOut  `json:"notes"`
	Problems     []problemOut  `json:"problems"`
}

type snapshotOut struct {
	Name    string `json:"name"`
	Version uint64 `json:"version"`
	Segment string `json:"segment"` // the first WAL segment after it
	Entries uint64 `json:"entries"`
	Runs    int    `json:"runs"`
	OK      bool   `json:"ok"`
}

type problemOut struct {
	File    string `json:"file"`
	Offset  int64  `json:"offset"` // -1: the file as a whole
	Message string `json:"message"`
}

func segmentName(n uint64) string { return fmt.Sprintf("%06d.log", n) }

func filesOf(r inmem.FilesReport) filesOut {
	problems := func(ps []inmem.FileProblem) []problemOut {
		return mapSlice(ps, func(p inmem.FileProblem) problemOut { return problemOut{p.File, p.Offset, p.What} })
	}
	return filesOut{
		OK: r.OK(),
		Snapshots: mapSlice(r.Snapshots, func(s inmem.SnapshotFile) snapshotOut {
			return snapshotOut{s.Name, s.Version, segmentName(s.Segment), s.Entries, s.Runs, s.OK}
		}),
		Segments: mapSlice(r.Segments, segmentName), SegmentCount: len(r.Segments),
		Commits: r.Records, FirstVersion: r.FirstVersion, LastVersion: r.LastVersion,
		ColdFiles: r.ColdFiles, ColdRuns: r.ColdRuns,
		Notes: problems(r.Notes), Problems: problems(r.Problems),
	}
}

// printFilesReport prints what VerifyFiles found: one line per snapshot,
// one for the WAL, then notes and problems.
func printFilesReport(out io.Writer, r inmem.FilesReport) {
	for _, s := range r.Snapshots {
		verdict := "ok"
		if !s.OK {
			verdict = "PROBLEM"
		}
		fmt.Fprintf(out, "snapshot %s: version %d, %d entries, %d runs with steps, WAL from %06d.log: %s\n",
			s.Name, s.Version, s.Entries, s.Runs, s.Segment, verdict)
	}
	switch n := len(r.Segments); {
	case n == 0:
		fmt.Fprintf(out, "wal: no segments\n")
	case r.Records == 0:
		fmt.Fprintf(out, "wal: %s (%s to %s), no commits\n", plural(n, "segment"), segmentName(r.Segments[0]), segmentName(r.Segments[n-1]))
	default:
		fmt.Fprintf(out, "wal: %s (%s to %s), %s, versions %d to %d\n",
			plural(n, "segment"), segmentName(r.Segments[0]), segmentName(r.Segments[n-1]), plural(r.Records, "commit"), r.FirstVersion, r.LastVersion)
	}
	if r.ColdFiles > 0 || r.ColdRuns > 0 {
		fmt.Fprintf(out, "cold: %s holding %s\n", plural(r.ColdFiles, "file"), plural(r.ColdRuns, "run"))
	}
	for _, p := range r.Notes {
		fmt.Fprintf(out, "note: %s\n", p)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(out, "problem: %s\n", p)
	}
	if r.OK() {
		fmt.Fprintf(out, "files: every checksum holds, the snapshots and the WAL agree\n")
	}
}

// plural is "1 segment", "2 segments".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// chainResult is one run's event hash chain check.
type chainResult struct {
	Run    inmem.RunID `json:"run"`
	Events uint64      `json:"events"`
	OK     bool        `json:"ok"`
	Bad    *uint64     `json:"bad_seq,omitempty"` // the first event whose hash does not hold
	Reason string      `json:"reason,omitempty"`
}

// verifyChains opens the database and recomputes every run's event hash
// chain; bad counts the broken ones.
func verifyChains(dir string, errOut io.Writer) (results []chainResult, bad int, err error) {
	db, err := openReadOnly(dir, errOut)
	if err != nil {
		return nil, 0, fmt.Errorf("open: %w", err)
	}
	defer db.Close()
	runs, err := db.Runs().List(inmem.RunQuery{})
	if err != nil {
		return nil, 0, err
	}
	bar := newProgress(errOut, "verify", int64(len(runs)))
	defer bar.finish()
	for i, info := range runs {
		bar.set(int64(i))
		run, err := db.Run(info.ID)
		if err != nil {
			return nil, 0, err
		}
		rep, err := run.Events().Verify()
		if err != nil {
			return nil, 0, fmt.Errorf("run %s: %w", info.ID, err)
		}
		r := chainResult{Run: info.ID, Events: rep.Len, OK: rep.OK, Reason: rep.Reason}
		if !rep.OK {
			first := rep.FirstBad
			r.Bad = &first
			bad++
		}
		results = append(results, r)
	}
	return results, bad, nil
}

// runCheckpoint writes a snapshot now: inmem checkpoint DIR.
func runCheckpoint(args []string, out, errOut io.Writer) error {
	asJSON, pos, err := jsonFlags("checkpoint", args)
	if err != nil {
		return err
	}
	db, err := openExisting(pos[0], errOut, inmem.WithMustExist())
	if err != nil {
		return err
	}
	if err := db.Checkpoint(); err != nil {
		db.Close()
		return err
	}
	st := db.Stats()
	if err := db.Close(); err != nil {
		return err
	}
	written := st.Checkpoints > 0
	if asJSON {
		return printJSON(out, checkpointOut{Version: st.Version, Entries: st.Entries, Written: written})
	}
	if !written {
		fmt.Fprintf(out, "nothing new since the snapshot at version %d: nothing written\n", st.Version)
		return nil
	}
	fmt.Fprintf(out, "checkpoint written: version %d, %d entries\n", st.Version, st.Entries)
	return nil
}

// checkpointOut is what checkpoint prints with --json.
type checkpointOut struct {
	Version uint64 `json:"version"` // the last commit the snapshot holds
	Entries int64  `json:"entries"`
	Written bool   `json:"written"` // false: the newest snapshot already held everything
}
