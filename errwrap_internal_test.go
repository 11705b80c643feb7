package inmem

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// RepeatedPhrase is repeatedPhrase, for the tests of package inmem_test.
var RepeatedPhrase = repeatedPhrase

// repeatedPhrase returns a phrase msg says twice, or "": the sign of an
// error wrapped twice with the same context. It looks for "inmem: ", a
// "word:" prefix or any three words in a row that occur twice.
func repeatedPhrase(msg string) string {
	if strings.Count(msg, "inmem: ") > 1 {
		return "inmem: "
	}
	// The sentinel's text, said once more by a layer below.
	if i := strings.LastIndex(msg, "inmem: "); i > 0 {
		if s := msg[i+len("inmem: "):]; strings.Contains(msg[:i], s) {
			return s
		}
	}
	words := strings.Fields(msg)
	seen := map[string]bool{}
	for _, w := range words {
		if strings.HasSuffix(w, ":") && len(w) > 1 {
			if seen[w] {
				return w
			}
			seen[w] = true
		}
	}
	for i := 0; i+3 <= len(words); i++ {
		tri := strings.Join(words[i:i+3], " ")
		if seen[tri] {
			return tri
		}
		seen[tri] = true
	}
	return ""
}

func TestRepeatedPhraseFindsRepeats(t *testing.T) {
	for _, msg := range []string{
		`cell "phase": cell "phase": expected version 5, actual 1: inmem: version mismatch`,
		`run id "x": want 8-4-4-4-12 hex: inmem: invalid argument: inmem: invalid argument`,
		`asof step 99: history: step 99: as of step 99: run r has 41 steps`,
		`the run ended and then the run ended`,
		`collection "c": hnsw: invalid argument: Dim must be positive, got 0: inmem: invalid argument`,
	} {
		require.NotEmpty(t, repeatedPhrase(msg), msg)
	}
	require.Empty(t, repeatedPhrase(`cell "phase": expected version 5, actual 1: inmem: version mismatch`))
}

// TestStatusOfFencedRunSaysItOnce: a status change that a delete fenced
// out between its lookup and its commit names the run once.
func TestStatusOfFencedRunSaysItOnce(t *testing.T) {
	db, err := OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	rs := run.st
	rs.status.Store(uint32(statusDeleted)) // as Runs.Delete fences it
	defer rs.status.Store(uint32(Active))
	err = rs.setStatus(Completed, "")
	require.ErrorIs(t, err, ErrRunNotFound)
	require.Empty(t, repeatedPhrase(err.Error()), err.Error())
}
