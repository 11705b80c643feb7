package inmem

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCheckPointStoreCreateLoses: a create that finds the id already named
// (a concurrent Set won) deletes the run it began and returns the winner's.
func TestCheckPointStoreCreateLoses(t *testing.T) {
	db, err := OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	ns := Namespace{App: "graph"}
	s := db.CheckPointStore(ns)
	ctx := context.Background()
	require.NoError(t, s.Set(ctx, "c", []byte("winner")))
	won, err := s.Run("c")
	require.NoError(t, err)

	run, err := s.index("c").create()
	require.NoError(t, err)
	require.Equal(t, won.ID(), run.ID())
	runs, err := db.Runs().List(RunQuery{Namespace: ns, Tag: CheckPointTag})
	require.NoError(t, err)
	require.Len(t, runs, 1, "the loser's run is deleted")

	v, ok, err := s.Get(ctx, "c")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "winner", string(v))
}
