package main

import (
	"fmt"
	"strings"

	"github.com/inmem-db/inmem"
)

// resolveRun finds the run a RUN argument names: a full run ID, else the
// name of exactly one run, else an ID prefix that only one run's ID
// starts with (hyphens optional, any case). A name wins over a prefix, so
// a run named like the start of another's ID is still reachable by name.
// A reference that fits several runs is the caller's to narrow (exit
// status 2), listing them; one that fits none is ErrNotFound.
func resolveRun(db *inmem.DB, ref string) (inmem.RunID, error) {
	if id, err := inmem.ParseRunID(ref); err == nil {
		return id, nil
	}
	runs, err := db.Runs().List(inmem.RunQuery{})
	if err != nil {
		return inmem.RunID{}, err
	}
	var named, prefixed []inmem.RunInfo
	p := strings.ToLower(strings.ReplaceAll(ref, "-", ""))
	for _, r := range runs {
		if r.Name == ref {
			named = append(named, r)
		}
		if p != "" && strings.HasPrefix(strings.ReplaceAll(r.ID.String(), "-", ""), p) {
			prefixed = append(prefixed, r)
		}
	}
	switch {
	case len(named) == 1:
		return named[0].ID, nil
	case len(named) > 1:
		return inmem.RunID{}, errUsage{ambiguous(fmt.Sprintf("%d runs are named %q", len(named), ref), named)}
	case len(prefixed) == 1:
		return prefixed[0].ID, nil
	case len(prefixed) > 1:
		return inmem.RunID{}, errUsage{ambiguous(fmt.Sprintf("%d run IDs start with %q", len(prefixed), ref), prefixed)}
	}
	return inmem.RunID{}, fmt.Errorf("no run named or prefixed %q: %w", ref, inmem.ErrNotFound)
}

// ambiguous lists the runs a reference fits, one a line, so that the
// caller can pick one by its ID.
func ambiguous(what string, runs []inmem.RunInfo) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s; give one by ID:", what)
	for _, r := range runs {
		fmt.Fprintf(&b, "\n  %s  %q  %s", r.ID, r.Name, r.Status)
	}
	return fmt.Errorf("%s", b.String())
}
