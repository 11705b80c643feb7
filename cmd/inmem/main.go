package main

import (
	"fmt"
	"io"
	"os"
)

type command struct {
	name, summary string
	// run gets stdout for results and stderr for diagnostics and progress,
	// so that piping a command's output never captures a progress bar.
	run func(args []string, out, errOut io.Writer) error
}

var commands = []command{
	{"demo", "walk through runs, transactions and the primitives on a fresh database", outOnly(runDemo)},
	{"runs", "DIR: list the runs with status, steps and parent", runRuns},
	{"show", "DIR RUN: a run's events, state, KV and span tree", runShow},
	{"verify", "DIR: check every checksum, the snapshots against the WAL, and every run's event hash chain", runVerify},
	{"export", "DIR RUN [--format jsonl|otlp-json]: a run as JSON lines, or its spans as OTLP JSON", runExport},
	{"import", "DIR FILE: recreate a run from `inmem export --format jsonl` output (- for stdin)", runImport},
	{"asof", "DIR RUN STEP: a run as it was right after a step", runAsOf},
	{"replay", "DIR RUN: rebuild a run from its history, list its steps, check the result matches", runReplay},
	{"diff", "DIR A B: what differs between two runs (a fork and its parent, say)", runDiff},
	{"checkpoint", "DIR: write a snapshot and retire the WAL it covers", runCheckpoint},
	{"serve", "DIR --mcp [--http ADDR]: serve the database to MCP clients over stdio or HTTP", runServe},
}

// outOnly adapts a command that writes nothing but its result.
func outOnly(f func(args []string, out io.Writer) error) func(args []string, out, errOut io.Writer) error {
	return func(args []string, out, _ io.Writer) error { return f(args, out) }
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: inmem <command> [flags]")
	fmt.Fprintln(w, "commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks an error as the caller's: exit status 2.
type errUsage struct{ error }

func dispatch(args []string, out, errOut io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(out)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		if err := c.run(args[1:], out, errOut); err != nil {
			fmt.Fprintf(errOut, "inmem %s: %v\n", c.name, err)
			if _, ok := err.(errUsage); ok {
				return 2
			}
			return 1
		}
		return 0
	}
	fmt.Fprintf(errOut, "inmem: unknown command %q\n", args[0])
	usage(errOut)
	return 2
}
