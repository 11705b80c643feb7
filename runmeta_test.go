package inmem_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// TestRunLabelLimits: a run's tags, metadata and end reason are held to
// the limits in README's table wherever they enter, and a refused run
// leaves nothing behind.
func TestRunLabelLimits(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()

	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprint("t", i)
		}
		return out
	}
	manyMeta := func(n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprint("k", i)] = "v"
		}
		return m
	}
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name string
		opt  inmem.RunOption
		want error
		says string // the field the error names
	}{
		{"empty tag", inmem.Tags("ok", ""), inmem.ErrInvalidArgument, "empty tag 1"},
		{"long tag", inmem.Tags(long(2 << 20)), inmem.ErrTooLarge, "tag 0 of"},
		{"tag over by one", inmem.Tags(long(inmem.MaxLabelSize + 1)), inmem.ErrTooLarge, "tag 0 of"},
		{"too many tags", inmem.Tags(many(inmem.MaxRunTags + 1)...), inmem.ErrTooLarge, "tags"},
		{"tag not UTF-8", inmem.Tags("\xff"), inmem.ErrInvalidArgument, "tag 0 is not UTF-8"},
		{"empty meta key", inmem.Meta(map[string]string{"": "v"}), inmem.ErrInvalidArgument, "meta key"},
		{"long meta key", inmem.Meta(map[string]string{long(inmem.MaxLabelSize + 1): "v"}), inmem.ErrTooLarge, "meta key"},
		{"huge meta value", inmem.Meta(map[string]string{"model": long(20 << 20)}), inmem.ErrTooLarge, `meta "model" value`},
		{"meta value over by one", inmem.Meta(map[string]string{"model": long(inmem.MaxRunTextSize + 1)}), inmem.ErrTooLarge, `meta "model" value`},
		{"too many meta entries", inmem.Meta(manyMeta(inmem.MaxRunMeta + 1)), inmem.ErrTooLarge, "meta entries"},
		{"meta value not UTF-8", inmem.Meta(map[string]string{"k": "\xfe"}), inmem.ErrInvalidArgument, `meta "k" value`},
		{"name not UTF-8", inmem.Name("\xff"), inmem.ErrInvalidArgument, "name"},
	}
	parent, err := db.BeginRun()
	require.NoError(t, err)
	for _, c := range cases {
		_, err := db.BeginRun(c.opt)
		require.ErrorIs(t, err, c.want, c.name)
		require.ErrorContains(t, err, c.says, c.name)
		_, err = db.Fork(parent.ID(), 0, c.opt)
		require.ErrorIs(t, err, c.want, "fork: "+c.name)
		require.ErrorContains(t, err, c.says, "fork: "+c.name)
	}
	// A fork inherits its parent's tags, and its own count toward the limit.
	full, err := db.BeginRun(inmem.Tags(many(inmem.MaxRunTags)...))
	require.NoError(t, err)
	_, err = db.Fork(full.ID(), 0, inmem.Tags("one more"))
	require.ErrorIs(t, err, inmem.ErrTooLarge)
	runs, err := db.Runs().List(inmem.RunQuery{})
	require.NoError(t, err)
	require.Len(t, runs, 2, "a refused run was created")

	// At the limits, everything is accepted.
	run, err := db.BeginRun(inmem.Tags(many(inmem.MaxRunTags-1)...), inmem.Tags(long(inmem.MaxLabelSize)),
		inmem.Meta(manyMeta(inmem.MaxRunMeta-1)), inmem.Meta(map[string]string{long(inmem.MaxLabelSize): long(inmem.MaxRunTextSize)}))
	require.NoError(t, err)
	_, err = db.Fork(run.ID(), 0)
	require.NoError(t, err)

	err = run.End(inmem.Failed, long(inmem.MaxRunTextSize+1))
	require.ErrorIs(t, err, inmem.ErrTooLarge)
	require.ErrorContains(t, err, "reason")
	require.ErrorIs(t, run.End(inmem.Failed, "\xff"), inmem.ErrInvalidArgument)
	info, err := run.Info()
	require.NoError(t, err)
	require.Equal(t, inmem.Active, info.Status, "a refused End ended the run")
	require.NoError(t, run.End(inmem.Failed, long(inmem.MaxRunTextSize)))
	info, err = run.Info()
	require.NoError(t, err)
	require.Len(t, info.Error, inmem.MaxRunTextSize)
}
