package inmem_test

import (
	"strings"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// A refused namespace field is named in the error, for runs and shared
// scopes alike.
func TestNamespaceFieldChecks(t *testing.T) {
	db := memDB(t)
	long := strings.Repeat("x", inmem.MaxNameSize+1)
	for _, tc := range []struct {
		field string
		set   func(ns *inmem.Namespace, v string)
	}{
		{"Tenant", func(ns *inmem.Namespace, v string) { ns.Tenant = v }},
		{"App", func(ns *inmem.Namespace, v string) { ns.App = v }},
		{"Agent", func(ns *inmem.Namespace, v string) { ns.Agent = v }},
	} {
		for _, bad := range []struct {
			value string
			want  error
			says  string
		}{
			{long, inmem.ErrTooLarge, "namespace " + tc.field + " of 257 bytes"},
			// JSON would store "\xff" as U+FFFD, moving the run to
			// another namespace when the database is reopened.
			{"\xff", inmem.ErrInvalidArgument, "namespace " + tc.field + " is not UTF-8"},
			{"ok\xc3", inmem.ErrInvalidArgument, "namespace " + tc.field + " is not UTF-8"},
		} {
			ns := inmem.Namespace{Tenant: "t", App: "a", Agent: "g"}
			tc.set(&ns, bad.value)

			_, err := db.BeginRun(inmem.InNamespace(ns))
			require.ErrorIs(t, err, bad.want, "%s=%q", tc.field, bad.value)
			require.ErrorContains(t, err, bad.says)

			sh := db.Shared(ns)
			err = sh.KV().Put("k", []byte("v"))
			require.ErrorIs(t, err, bad.want, "shared %s=%q", tc.field, bad.value)
			require.ErrorContains(t, err, bad.says)
			_, err = sh.Events().Append("e", nil)
			require.ErrorIs(t, err, bad.want)
		}
	}
	runs, err := db.Runs().List(inmem.RunQuery{})
	require.NoError(t, err)
	require.Empty(t, runs, "no refused run was created")
}

// Valid UTF-8 of any script, and fields of exactly the maximum, are kept
// as given across a reopen.
func TestNamespaceUTF8SurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	ns := inmem.Namespace{Tenant: "Zürich", App: "日本語", Agent: strings.Repeat("é", inmem.MaxNameSize/2)}
	require.Len(t, ns.Agent, inmem.MaxNameSize)

	db, err := inmem.Open(dir)
	require.NoError(t, err)
	r, err := db.BeginRun(inmem.InNamespace(ns))
	require.NoError(t, err)
	require.NoError(t, db.Shared(ns).KV().Put("k", []byte("v")))
	id := r.ID()
	require.NoError(t, db.Close())

	db, err = inmem.Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	info, err := db.Runs().Get(id)
	require.NoError(t, err)
	require.Equal(t, ns, info.Namespace)
	v, err := db.Shared(ns).KV().Get("k")
	require.NoError(t, err)
	require.Equal(t, []byte("v"), v)
}
