package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDemoDefaultDir: with no -dir the demo runs the whole durable
// walk-through, reopen included, in a temporary directory it names and
// then removes.
func TestDemoDefaultDir(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 0, dispatch([]string{"demo"}, &out, &errOut), errOut.String())
	s := out.String()
	first, _, _ := strings.Cut(s, "\n")
	dir, ok := strings.CutPrefix(first, "database in ")
	require.True(t, ok, first)
	dir, ok = strings.CutSuffix(dir, ", a temporary directory (-dir DIR keeps one)")
	require.True(t, ok, first)
	require.Contains(t, s, "12. reopened "+dir+": run ")
	require.Contains(t, s, "is completed with 1013 steps, tool_calls = 1000, 3 events (chain ok: true)")
	require.True(t, strings.HasSuffix(s, "removed "+dir+"\n"), s)
	_, err := os.Stat(dir)
	require.ErrorIs(t, err, os.ErrNotExist, "the temporary directory is gone")
	require.Contains(t, s, "tool_calls = 1000")
	require.Contains(t, s, `priority is still "high"`)
	require.Contains(t, s, "tenant globex sees: inmem: not found")
	require.Contains(t, s, "nearest how-to: password-reset")
	require.Contains(t, s, "status completed")
	require.Contains(t, s, "run ended")
	require.Contains(t, s, "3 events, hash chain ok: true; phase = done (version 4)")
	require.Contains(t, s, `refuses done -> plan: cell "phase": "done" -> "plan": inmem: invalid transition`)
	require.Contains(t, s, `└─ tool_call "unlock_account" {"ok": true}`)
	require.Contains(t, s, `has 1 child ("look up account", status completed)`)
	// History: time travel, replay, fork, diff and the call replayer.
	require.Contains(t, s, "phase = observe, 2 events")
	require.Contains(t, s, "matches the live state: true")
	require.Contains(t, s, `kv     changed ticket/priority  "high" -> "urgent"`)
	require.Contains(t, s, `state  changed phase            "done" -> "act"`)
	require.Contains(t, s, "returned the 3 recorded answers without calling")
	require.Contains(t, s, "replay diverged at call 4")
}

// TestDemoOnDisk: with -dir the demo keeps its database there.
func TestDemoOnDisk(t *testing.T) {
	var out, errOut bytes.Buffer
	dir := t.TempDir()
	require.Equal(t, 0, dispatch([]string{"demo", "-dir", dir}, &out, &errOut), errOut.String())
	require.True(t, strings.HasPrefix(out.String(), "database in "+dir+"\n"))
	require.Contains(t, out.String(), "12. reopened")
	require.NotContains(t, out.String(), "removed "+dir)
	require.DirExists(t, filepath.Join(dir, "wal"), "the database is kept")
	require.Contains(t, out.String(), "is completed with 1013 steps, tool_calls = 1000, 3 events (chain ok: true)")
}

func TestUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 2, dispatch(nil, &out, &errOut))
	require.Contains(t, out.String(), "demo")
	require.Equal(t, 2, dispatch([]string{"nope"}, &out, &errOut))
	require.True(t, strings.Contains(errOut.String(), "unknown command"))
	require.Equal(t, 2, dispatch([]string{"demo", "-bogus"}, &out, &errOut))
	require.Equal(t, 0, dispatch([]string{"help"}, &out, &errOut))
}
