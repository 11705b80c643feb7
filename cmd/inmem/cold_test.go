package main

import (
	"strings"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// TestColdCommands: every command that reads a run prints the same for it
// once it is frozen into the cold tier and dropped from memory (a read-only
// open reads the cold files); runs shows the tier and verify checks the
// cold files.
func TestColdCommands(t *testing.T) {
	dir, parent, fork := historyDir(t)
	p, f := parent.String(), fork.String()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	for _, id := range []inmem.RunID{parent, fork} {
		r, err := db.Run(id)
		require.NoError(t, err)
		require.NoError(t, r.End(inmem.Completed, ""))
	}
	require.NoError(t, db.Close())

	commands := [][]string{
		{"show", dir, p}, {"show", dir, f}, {"show", dir, p, "--json"},
		{"asof", dir, p, "1"}, {"asof", dir, p, "3", "--json"}, {"asof", dir, f, "0"}, {"asof", dir, f, "2"},
		{"replay", dir, p}, {"replay", dir, f, "--json"},
		{"diff", dir, p, f}, {"diff", dir, f, p, "--json"},
		{"export", dir, p},
	}
	hot := map[string]string{}
	for _, c := range commands {
		out, code := run(t, c...)
		require.Contains(t, []int{0, 1}, code, "%v: %s", c, out)
		hot[strings.Join(c, " ")] = out
	}
	out, code := run(t, "runs", dir)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "TIER")
	require.NotContains(t, out, " cold ")

	db, err = inmem.Open(dir, inmem.WithColdAfter(-1))
	require.NoError(t, err)
	require.NoError(t, db.Runs().Freeze(parent))
	require.NoError(t, db.Runs().Freeze(fork))
	_, err = db.Reclaim()
	require.NoError(t, err)
	require.NoError(t, db.Checkpoint())
	require.NoError(t, db.Close())

	// The JSON description of a cold run says so; nothing else differs.
	notCold := strings.NewReplacer(",\n    \"cold\": true\n", "\n", `,"cold":true`, "")
	for _, c := range commands {
		out, _ := run(t, c...)
		require.Equal(t, hot[strings.Join(c, " ")], notCold.Replace(out), "%v prints the same for a cold run", c)
	}
	out, code = run(t, "runs", dir)
	require.Equal(t, 0, code, out)
	for _, id := range []string{p, f} {
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, id) {
				require.Contains(t, l, " cold ", out)
			}
		}
	}
	out, code = run(t, "runs", dir, "--json")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, `"cold": true`)
	out, code = run(t, "verify", dir)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "cold: 2 files holding 2 runs")
}
