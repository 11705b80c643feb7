package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// TestResolveRun: a run is found by its full ID, its name when no other
// run has it, and a prefix of its ID (hyphens and case optional); several
// matches are a usage error that lists each with its ID, name and status,
// and no match says so.
func TestResolveRun(t *testing.T) {
	db, err := inmem.Open(t.TempDir())
	require.NoError(t, err)
	defer db.Close()
	begin := func(name string) inmem.RunInfo {
		r, err := db.BeginRun(inmem.Name(name))
		require.NoError(t, err)
		info, err := r.Info()
		require.NoError(t, err)
		return info
	}
	plan, twin1, twin2 := begin("plan"), begin("twin"), begin("twin")
	require.NoError(t, db.Runs().SetStatus(twin2.ID, inmem.Paused))

	for ref, want := range map[string]inmem.RunID{
		plan.ID.String(): plan.ID,
		"plan":           plan.ID,
		strings.ToUpper(strings.ReplaceAll(twin2.ID.String(), "-", "")[:30]): twin2.ID,
		twin1.ID.String()[:28]: twin1.ID,
	} {
		got, err := resolveRun(db, ref)
		require.NoError(t, err, ref)
		require.Equal(t, want, got, ref)
	}

	_, err = resolveRun(db, "twin")
	require.ErrorAs(t, err, new(errUsage))
	msg := err.Error()
	require.Contains(t, msg, `2 runs are named "twin"`)
	require.Contains(t, msg, twin1.ID.String()+`  "twin"  active`)
	require.Contains(t, msg, twin2.ID.String()+`  "twin"  paused`)
	require.NotContains(t, msg, plan.ID.String())

	prefix := plan.ID.String()[:4] // UUIDv7: the top 16 bits of the creation time, shared by runs begun within weeks
	_, err = resolveRun(db, prefix)
	require.ErrorAs(t, err, new(errUsage))
	require.Contains(t, err.Error(), `3 run IDs start with "`+prefix+`"`)
	require.Contains(t, err.Error(), plan.ID.String()+`  "plan"  active`)

	_, err = resolveRun(db, "nothing")
	require.ErrorIs(t, err, inmem.ErrNotFound)
	require.Contains(t, err.Error(), `no run named or prefixed "nothing"`)
}

// TestRunReferencesInCommands: every command that takes a run accepts a
// name and an ID prefix where it took an ID; an ambiguous one exits 2
// listing the candidates, an unknown one exits 1.
func TestRunReferencesInCommands(t *testing.T) {
	dir, parent, fork := historyDir(t) // "plan" and its fork "plan b"
	prefix := strings.ReplaceAll(parent.String(), "-", "")[:30]
	for _, args := range [][]string{
		{"show", dir, "plan"},
		{"show", dir, prefix},
		{"export", dir, "plan"},
		{"asof", dir, "plan", "1"},
		{"replay", dir, "plan b"},
		{"diff", dir, "plan", "plan"},
		{"diff", dir, prefix, parent.String()},
	} {
		var out, errOut bytes.Buffer
		require.Equal(t, 0, dispatch(args, &out, &errOut), "%v: %s", args, errOut.String())
	}
	var out, errOut bytes.Buffer
	require.Equal(t, 0, dispatch([]string{"show", dir, "plan b"}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "run "+fork.String()+` "plan b"`)

	out.Reset()
	errOut.Reset()
	shared := parent.String()[:4] // the top of the creation time, which the two runs share
	require.Equal(t, 2, dispatch([]string{"show", dir, shared}, &out, &errOut))
	require.Contains(t, errOut.String(), parent.String()+`  "plan"`)
	require.Contains(t, errOut.String(), fork.String()+`  "plan b"`)

	errOut.Reset()
	require.Equal(t, 1, dispatch([]string{"export", dir, "plan c"}, &out, &errOut))
	require.Contains(t, errOut.String(), `no run named or prefixed "plan c"`)
}
