package inmemeino_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"
	"github.com/inmem-db/inmem"
	inmemeino "github.com/inmem-db/inmem/adapters/eino"
	"github.com/stretchr/testify/require"
)

// reviewState is the graph's local state, which Eino serializes into
// every checkpoint.
type reviewState struct {
	Approval string
}

func init() {
	schema.Register[reviewState]()
}

var ns = inmem.Namespace{App: "eino-test"}

// reviewGraph drafts (counting its runs in drafts), reviews, and
// publishes with the approval held in the graph's state; it interrupts
// before each node of stops.
func reviewGraph(t *testing.T, store compose.CheckPointStore, drafts *atomic.Int32, stops ...string) compose.Runnable[string, string] {
	t.Helper()
	g := compose.NewGraph[string, string](compose.WithGenLocalState(func(context.Context) *reviewState {
		return &reviewState{}
	}))
	require.NoError(t, g.AddLambdaNode("draft", compose.InvokableLambda(func(_ context.Context, in string) (string, error) {
		drafts.Add(1)
		return "draft of " + in, nil
	})))
	require.NoError(t, g.AddLambdaNode("review", compose.InvokableLambda(func(_ context.Context, in string) (string, error) {
		return in + ", reviewed", nil
	})))
	require.NoError(t, g.AddLambdaNode("publish", compose.InvokableLambda(func(_ context.Context, in string) (string, error) {
		return in, nil
	}), compose.WithStatePreHandler(func(_ context.Context, in string, st *reviewState) (string, error) {
		return in + ", approved by " + st.Approval, nil
	})))
	require.NoError(t, g.AddEdge(compose.START, "draft"))
	require.NoError(t, g.AddEdge("draft", "review"))
	require.NoError(t, g.AddEdge("review", "publish"))
	require.NoError(t, g.AddEdge("publish", compose.END))
	r, err := g.Compile(context.Background(),
		compose.WithCheckPointStore(store),
		compose.WithInterruptBeforeNodes(stops),
		compose.WithGraphName("review"))
	require.NoError(t, err)
	return r
}

// interrupted returns the ID of the interrupt err carries, and before
// which nodes it stopped.
func interrupted(t *testing.T, err error) (string, []string) {
	t.Helper()
	info, ok := compose.ExtractInterruptInfo(err)
	require.True(t, ok, "interrupted: %v", err)
	require.Len(t, info.InterruptContexts, 1)
	return info.InterruptContexts[0].ID, info.BeforeNodes
}

// TestGraphInterruptsAndResumesAcrossReopen: an Eino graph interrupts,
// its checkpoint goes into in-mem, the database is closed and opened
// again (a new process would do the same), and the graph resumes from the
// checkpoint without running its first node again, interrupts again, and
// finishes; both checkpoints stay in the id's run.
func TestGraphInterruptsAndResumesAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var drafts atomic.Int32

	db, err := inmem.Open(dir)
	require.NoError(t, err)
	r := reviewGraph(t, inmemeino.NewCheckPointStore(db, ns), &drafts, "review", "publish")
	_, err = r.Invoke(ctx, "the report", compose.WithCheckPointID("review-1"))
	id, before := interrupted(t, err)
	require.Equal(t, []string{"review"}, before)
	require.Equal(t, int32(1), drafts.Load())
	require.NoError(t, db.Close())

	db, err = inmem.Open(dir)
	require.NoError(t, err)
	defer db.Close()
	store := db.CheckPointStore(ns)
	_, found, err := store.Get(ctx, "review-1")
	require.NoError(t, err)
	require.True(t, found, "the checkpoint survived the reopen")

	r = reviewGraph(t, store, &drafts, "review", "publish")
	_, err = r.Invoke(compose.Resume(ctx, id), "the report", compose.WithCheckPointID("review-1"))
	id, before = interrupted(t, err)
	require.Equal(t, []string{"publish"}, before)
	out, err := r.Invoke(compose.ResumeWithData(ctx, id, &reviewState{Approval: "Ada"}), "the report", compose.WithCheckPointID("review-1"))
	require.NoError(t, err)
	require.Equal(t, "draft of the report, reviewed, approved by Ada", out)
	require.Equal(t, int32(1), drafts.Load(), "resumed from the checkpoints: draft did not run again")

	// Each checkpoint the execution wrote is a step of the id's run, and
	// the first can be read back as it was.
	run, err := store.Run("review-1")
	require.NoError(t, err)
	steps, err := run.Steps()
	require.NoError(t, err)
	require.Len(t, steps, 2, "the two interrupts' checkpoints")
	first, err := run.AsOf(steps[0].N)
	require.NoError(t, err)
	old, err := first.KV().Get(inmem.CheckPointKey)
	require.NoError(t, err)
	last, _, err := store.Get(ctx, "review-1")
	require.NoError(t, err)
	require.NotEqual(t, old, last)
}

// TestResumeFromAForkedCheckpoint: a fork of the checkpoint's run at the
// interrupt's step is a new checkpoint id for Eino; resuming it continues
// the interrupted execution apart from the original.
func TestResumeFromAForkedCheckpoint(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	var drafts atomic.Int32
	store := db.CheckPointStore(ns)
	r := reviewGraph(t, store, &drafts, "publish")

	_, err = r.Invoke(ctx, "v1", compose.WithCheckPointID("a"))
	interruptID, _ := interrupted(t, err)
	run, err := store.Run("a")
	require.NoError(t, err)
	steps, err := run.Steps()
	require.NoError(t, err)
	require.Len(t, steps, 1)

	// The interrupt's checkpoint, copied to a new id from the run's
	// history: what a fork from that step hands a new execution.
	child, err := db.Fork(run.ID(), steps[0].N)
	require.NoError(t, err)
	cp, err := child.KV().Get(inmem.CheckPointKey)
	require.NoError(t, err)
	require.NoError(t, store.Set(ctx, "b", cp))

	for id, who := range map[string]string{"a": "Ada", "b": "Bob"} {
		resume := compose.ResumeWithData(ctx, interruptID, &reviewState{Approval: who})
		out, err := r.Invoke(resume, "v1", compose.WithCheckPointID(id))
		require.NoError(t, err)
		require.Equal(t, "draft of v1, reviewed, approved by "+who, out)
	}
	require.Equal(t, int32(1), drafts.Load())
}

// TestCheckPointTTLForgetsAbandonedInterrupts: with a TTL, an interrupt
// never resumed reads as absent once it passed, and Eino starts over.
func TestCheckPointTTLForgetsAbandonedInterrupts(t *testing.T) {
	var now atomic.Int64
	now.Store(1_700_000_000_000_000_000)
	db, err := inmem.OpenInMemory(inmem.WithClock(func() time.Time { return time.Unix(0, now.Load()) }))
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	var drafts atomic.Int32
	r := reviewGraph(t, inmemeino.NewCheckPointStore(db, ns, inmem.CheckPointTTL(time.Hour)), &drafts, "publish")

	_, err = r.Invoke(ctx, "x", compose.WithCheckPointID("stale"))
	interrupted(t, err)
	now.Add(int64(2 * time.Hour))
	_, err = r.Invoke(ctx, "x", compose.WithCheckPointID("stale"))
	interrupted(t, err) // started over, and interrupted again
	require.Equal(t, int32(2), drafts.Load(), "the expired checkpoint was not resumed")
}
