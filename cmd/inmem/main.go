package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

type command struct {
	name, summary string
	// run gets stdout for results and stderr for diagnostics and progress,
	// so that piping a command's output never captures a progress bar.
	run func(args []string, out, errOut io.Writer) error
}

// usages are the arguments and flags of each command, for its usage line.
// They live apart from commands, which refer to the functions that print
// them: a table referring to itself through them would be an
// initialisation cycle.
var usages = map[string]string{
	"demo":       "[DIR]",
	"runs":       "DIR [--json]",
	"show":       "DIR RUN [--json]",
	"verify":     "DIR [--json]",
	"export":     "DIR RUN [--format jsonl|otlp-json] [--json]",
	"import":     "DIR FILE [--memory [--memory-namespace tenant/app/agent]] [--json]",
	"asof":       "DIR RUN STEP [--json]",
	"replay":     "DIR RUN [--json]",
	"diff":       "DIR A B [--json]",
	"checkpoint": "DIR [--json]",
	"serve":      "DIR --mcp [--memory-namespace tenant/app/agent] [--http ADDR [--ui]] [--cluster --node-id id --raft host:port [--bootstrap id=host:port,...]]",
	"cluster":    "status TARGET [--token t] [--json]",
	"ui":         "DIR [--http host:port] [--token t] [--allow-remote] [--allow-origin urls]",
}

var commands = []command{
	{"demo", "walk through runs, transactions and the primitives on a fresh database, kept in DIR when given", outOnly(runDemo)},
	{"runs", "list the runs with status, steps and parent", runRuns},
	{"show", "a run's events, state, KV and span tree", runShow},
	{"verify", "check every checksum, the snapshots against the WAL, and every run's event hash chain", runVerify},
	{"export", "a run as JSON lines, or its spans as OTLP JSON", runExport},
	{"import", "recreate runs from `inmem export` output (FILE - for stdin); with --memory, an MCP memory server's memory.jsonl", runImport},
	{"asof", "a run as it was right after a step", runAsOf},
	{"replay", "rebuild a run from its history, list its steps, check the result matches", runReplay},
	{"diff", "what differs between two runs (a fork and its parent, say); exit 0 same, 1 different, 2 trouble", runDiff},
	{"checkpoint", "write a snapshot and retire the WAL it covers", runCheckpoint},
	{"serve", "serve the database to MCP clients over stdio or HTTP", runServe},
	{"cluster", "status: a cluster node's members, leader, term and applied version; TARGET is a running node's serve --http host:port, or a stopped node's DIR", runCluster},
	{"ui", "a read-only run inspector in the browser: runs, steps, any step's state, spans, forks", runUI},
}

// runRefWays says how a RUN argument can be written, for the usage.
const runRefWays = "by its ID, its name (when unique) or an unambiguous ID prefix."

// outOnly adapts a command that writes nothing but its result.
func outOnly(f func(args []string, out io.Writer) error) func(args []string, out, errOut io.Writer) error {
	return func(args []string, out, _ io.Writer) error { return f(args, out) }
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: inmem <command> [arguments] [flags]")
	fmt.Fprintln(w, "commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, usages[c.name])
		fmt.Fprintf(w, "  %-10s   %s\n", "", c.summary)
	}
	fmt.Fprintln(w, "RUN, A and B name a run "+runRefWays)
	fmt.Fprintln(w, "inmem <command> -h describes one command.")
}

// usageLine is one command's synopsis.
func usageLine(name string) string {
	return fmt.Sprintf("usage: inmem %s %s", name, usages[name])
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks an error as the caller's: exit status 2, and the
// command's usage line on stderr.
type errUsage struct{ error }

func (e errUsage) Unwrap() error { return e.error }

// errExit ends a command with an exit status of its own choosing, such as
// diff's 1 for "the runs differ". With a nil error nothing is printed:
// the output already said it.
type errExit struct {
	err  error
	code int
}

func (e errExit) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e errExit) Unwrap() error { return e.err }

// isHelp reports whether an argument asks for a command's usage.
func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "-help" }

func dispatch(args []string, out, errOut io.Writer) int {
	if len(args) == 0 || isHelp(args[0]) || args[0] == "help" {
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
		// Help is answered here, the same for every command, before a
		// command could take -h for a bad flag or an argument.
		for _, a := range args[1:] {
			if a == "--" {
				break
			}
			if isHelp(a) {
				fmt.Fprintln(out, usageLine(c.name))
				fmt.Fprintf(out, "%s\n", c.summary)
				switch {
				case c.name == "diff":
					fmt.Fprintln(out, "A and B each name a run "+runRefWays)
				case strings.Contains(usages[c.name], "RUN"):
					fmt.Fprintln(out, "RUN names a run "+runRefWays)
				}
				return 0
			}
		}
		err := c.run(args[1:], out, errOut)
		var ex errExit
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ex):
			if ex.err != nil {
				fmt.Fprintf(errOut, "inmem %s: %v\n", c.name, ex.err)
			}
			return ex.code
		case errors.As(err, new(errUsage)):
			fmt.Fprintf(errOut, "inmem %s: %v\n", c.name, err)
			fmt.Fprintln(errOut, usageLine(c.name))
			return 2
		}
		fmt.Fprintf(errOut, "inmem %s: %v\n", c.name, err)
		return 1
	}
	fmt.Fprintf(errOut, "inmem: unknown command %q\n", args[0])
	usage(errOut)
	return 2
}

// parseArgs parses the flags of fs, which may come before, between or
// after the positional arguments (inmem runs DIR --json), and checks the
// positional ones against the command's usage: names in brackets are
// optional. A flag that takes a value takes the next argument unless
// written --name=value; "-" (stdin) and negative numbers are arguments,
// and "--" ends the flags.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard) // dispatch prints usage and errors
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" || isNumber(a) { // asof DIR RUN -1: a step, if a bad one
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if f := fs.Lookup(name); f != nil && !hasValue && !isBoolFlag(f) && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	if err := fs.Parse(flags); err != nil {
		return nil, errUsage{err}
	}
	var want, optional []string
	for _, w := range strings.Fields(usages[fs.Name()]) {
		// Positional names are in capitals: DIR, [DIR]; flags and their
		// values are not.
		name := strings.Trim(w, "[]")
		if name == "" || strings.HasPrefix(name, "-") || strings.ToUpper(name) != name {
			continue
		}
		if strings.HasPrefix(w, "[") {
			optional = append(optional, name)
		} else {
			want = append(want, name)
		}
	}
	switch {
	case len(pos) < len(want):
		return nil, errUsage{fmt.Errorf("missing %s", strings.Join(want[len(pos):], " and "))}
	case len(pos) > len(want)+len(optional):
		extra := pos[len(want)+len(optional):]
		return nil, errUsage{fmt.Errorf("unexpected argument %q: %s takes %s", extra[0], fs.Name(), takes(want, optional))}
	}
	return pos, nil
}

// takes describes a command's positional arguments for an error.
func takes(want, optional []string) string {
	var parts []string
	parts = append(parts, want...)
	for _, o := range optional {
		parts = append(parts, "["+o+"]")
	}
	if len(parts) == 0 {
		return "no arguments"
	}
	return strings.Join(parts, " ")
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
