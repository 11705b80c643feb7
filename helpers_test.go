package inmem_test

import (
	"iter"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// The helpers the package's external tests share. Internal tests (package
// inmem) have theirs in helpers_internal_test.go.

// memDB opens an in-memory database closed at the end of the test.
func memDB(t testing.TB, opts ...inmem.Option) *inmem.DB {
	t.Helper()
	db, err := inmem.OpenInMemory(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// freshRun begins a run in db.
func freshRun(t testing.TB, db *inmem.DB, opts ...inmem.RunOption) *inmem.Run {
	t.Helper()
	r, err := db.BeginRun(opts...)
	require.NoError(t, err)
	return r
}

// manualClock is a clock that only moves when told to.
type manualClock struct{ ns atomic.Int64 }

func newManualClock() *manualClock {
	c := &manualClock{}
	c.ns.Store(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

func (c *manualClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *manualClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func entryKeys(es []inmem.Entry) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.Key)
	}
	return out
}

func freshErr(db *inmem.DB, opts ...inmem.RunOption) error {
	_, err := db.BeginRun(opts...)
	return err
}

// drain collects a sequence up to its first error.
func drain[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// errorsOf ranges over a sequence that must yield nothing but errors, each
// with a zero value, and returns them.
func errorsOf[T any](t *testing.T, seq iter.Seq2[T, error]) []error {
	t.Helper()
	var errs []error
	for v, err := range seq {
		require.Zero(t, v)
		require.Error(t, err)
		errs = append(errs, err)
	}
	return errs
}

// firstN ranges over a sequence and breaks out after n elements; a
// sequence that called yield again after that would panic.
func firstN[T any](t *testing.T, seq iter.Seq2[T, error], n int) []T {
	t.Helper()
	var out []T
	for v, err := range seq {
		require.NoError(t, err)
		out = append(out, v)
		if len(out) == n {
			break
		}
	}
	return out
}
