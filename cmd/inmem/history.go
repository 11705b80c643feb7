package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/inmem-db/inmem"
)

// runAsOf prints a run as it was right after a step: inmem asof DIR RUN
// STEP. The JSON form is show's, with the step and its time added.
func runAsOf(args []string, out, errOut io.Writer) error {
	asJSON, pos, err := jsonFlags("asof", args)
	if err != nil {
		return err
	}
	step, err := strconv.Atoi(pos[2])
	if err != nil {
		return errUsage{fmt.Errorf("step %q: want a step number (0 for before the first)", pos[2])}
	}
	db, id, err := openWithRun(pos[0], pos[1], errOut)
	if err != nil {
		return err
	}
	defer db.Close()
	rd, view, err := runAsOfStep(db, id, step)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(out, asofOut{Step: view.Step(), Time: timeString(view.Time()), runDataOut: rd.out()})
	}
	info := rd.Run
	fmt.Fprintf(out, "run %s %q as of step %d of %d", info.ID, info.Name, view.Step(), info.Steps)
	if !view.Time().IsZero() {
		fmt.Fprintf(out, " (%s)", view.Time().UTC().Format(time.RFC3339Nano))
	}
	fmt.Fprintln(out)
	printLineage(out, db, info)
	printRunData(out, rd)
	return nil
}

// asofOut is what asof prints with --json.
type asofOut struct {
	Step int    `json:"step"`
	Time string `json:"time,omitempty"` // when that step committed
	runDataOut
}

// runAsOfStep reads everything run id held right after step. AsOf's error
// already names the step, the run and its number of steps, so it is
// returned as is.
func runAsOfStep(db *inmem.DB, id inmem.RunID, step int) (runData, *inmem.View, error) {
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
		return rd, nil, err
	}
	if err := view.Read(func(tx *inmem.Tx) error { return rd.read(tx) }); err != nil {
		return rd, nil, err
	}
	return rd, view, rd.readVectors(view.Vectors())
}

// runReplay rebuilds a run from its recorded history and checks it
// against the live state: inmem replay DIR RUN. It lists the steps with
// what each wrote, then the verdict; a mismatch exits 1.
func runReplay(args []string, out, errOut io.Writer) error {
	asJSON, pos, err := jsonFlags("replay", args)
	if err != nil {
		return err
	}
	db, id, err := openWithRun(pos[0], pos[1], errOut)
	if err != nil {
		return err
	}
	defer db.Close()
	run, err := db.Run(id)
	if err != nil {
		return err
	}
	steps, err := run.Steps()
	if err != nil {
		return err
	}
	rep, err := db.Replay(id)
	if err != nil {
		return err
	}
	if asJSON {
		err = printJSON(out, struct {
			Steps  []stepOut `json:"steps"`
			Replay replayOut `json:"replay"`
		}{mapSlice(steps, stepOf), replayOf(rep)})
	} else {
		err = printSteps(out, steps)
		if err == nil && rep.Match {
			fmt.Fprintf(out, "replayed %d steps: the rebuilt state matches the live state\n", rep.Steps)
		}
	}
	if err != nil {
		return err
	}
	if !rep.Match {
		return fmt.Errorf("replay of run %s differs after step %d (%s): %s: %w",
			id, rep.FirstDiff, strings.Join(rep.Mismatched, ", "), rep.Reason, inmem.ErrCorruption)
	}
	return nil
}

// printSteps prints one line per step: what it wrote in each primitive.
func printSteps(out io.Writer, steps []inmem.Step) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tTIME\tWRITES")
	for _, s := range steps {
		var parts []string
		for _, p := range []struct {
			name string
			keys []string
		}{{"kv", s.Writes.KV}, {"events", s.Writes.Events}, {"state", s.Writes.State}, {"traces", s.Writes.Traces}, {"vectors", s.Writes.Vectors}} {
			if len(p.keys) > 0 {
				parts = append(parts, p.name+" "+clipList(p.keys))
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", s.N, s.Time.UTC().Format("2006-01-02 15:04:05.000000"), strings.Join(parts, "; "))
	}
	return tw.Flush()
}

// clipList joins keys for a table cell, eliding the middle of long lists.
func clipList(keys []string) string {
	const max = 4
	if len(keys) <= max {
		return strings.Join(keys, ",")
	}
	return fmt.Sprintf("%s,... (%d more)", strings.Join(keys[:max], ","), len(keys)-max)
}

// runDiff compares two runs' current state: inmem diff DIR A B. Added
// elements are only in B, removed ones only in A; a change shows A's
// value, then B's. As diff(1), it exits 0 when the runs hold the same
// state, 1 when they differ and 2 on trouble, so that a script can test
// the result.
func runDiff(args []string, out, errOut io.Writer) error {
	err := diffRuns(args, out, errOut)
	if err != nil && !errors.As(err, new(errExit)) && !errors.As(err, new(errUsage)) {
		err = errExit{err: err, code: 2}
	}
	return err
}

// errDiffer is diff's verdict "the runs differ": exit status 1, nothing
// more to print.
var errDiffer = errExit{code: 1}

func diffRuns(args []string, out, errOut io.Writer) error {
	asJSON, pos, err := jsonFlags("diff", args)
	if err != nil {
		return err
	}
	db, a, err := openWithRun(pos[0], pos[1], errOut)
	if err != nil {
		return err
	}
	defer db.Close()
	b, err := resolveRun(db, pos[2])
	if err != nil {
		return err
	}
	d, err := db.Diff(a, b)
	if err != nil {
		return err
	}
	if asJSON {
		if err := printJSON(out, diffOf(d)); err != nil {
			return err
		}
	} else if err := printDiff(out, a, b, d); err != nil {
		return err
	}
	if !d.Empty() {
		return errDiffer
	}
	return nil
}

// printDiff prints a diff as a table.
func printDiff(out io.Writer, a, b inmem.RunID, d inmem.RunDiff) error {
	if d.Empty() {
		fmt.Fprintf(out, "runs %s and %s hold the same state\n", a, b)
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PRIMITIVE\t\tKEY\tA\tB")
	for _, p := range []struct {
		name string
		d    inmem.PrimitiveDiff
	}{{"kv", d.KV}, {"events", d.Events}, {"state", d.State}, {"traces", d.Traces}, {"vectors", d.Vectors}} {
		for _, k := range p.d.Removed {
			fmt.Fprintf(tw, "%s\t-\t%s\t(only in A)\t\n", p.name, k)
		}
		for _, k := range p.d.Added {
			fmt.Fprintf(tw, "%s\t+\t%s\t\t(only in B)\n", p.name, k)
		}
		for _, c := range p.d.Changed {
			fmt.Fprintf(tw, "%s\t~\t%s\t%s\t%s\n", p.name, c.Key, clip(c.Before), clip(c.After))
		}
	}
	return tw.Flush()
}
