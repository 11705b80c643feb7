package inmemeino_test

import (
	"context"
	"fmt"
	"os"

	"github.com/cloudwego/eino/compose"
	"github.com/inmem-db/inmem"
	inmemeino "github.com/inmem-db/inmem/adapters/eino"
)

// A graph that stops for a human before it sends, keeps its checkpoint in
// in-mem, and is resumed by a later process: here, after the database was
// closed and opened again.
func ExampleNewCheckPointStore() {
	dir, _ := os.MkdirTemp("", "eino-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	ns := inmem.Namespace{App: "mailer"}

	graph := func(store compose.CheckPointStore) compose.Runnable[string, string] {
		g := compose.NewGraph[string, string]()
		_ = g.AddLambdaNode("write", compose.InvokableLambda(func(_ context.Context, to string) (string, error) {
			return "hello " + to, nil
		}))
		_ = g.AddLambdaNode("send", compose.InvokableLambda(func(_ context.Context, mail string) (string, error) {
			return "sent: " + mail, nil
		}))
		_ = g.AddEdge(compose.START, "write")
		_ = g.AddEdge("write", "send")
		_ = g.AddEdge("send", compose.END)
		r, err := g.Compile(ctx, compose.WithCheckPointStore(store), compose.WithInterruptBeforeNodes([]string{"send"}))
		if err != nil {
			panic(err)
		}
		return r
	}

	db, _ := inmem.Open(dir)
	_, err := graph(inmemeino.NewCheckPointStore(db, ns)).Invoke(ctx, "ada", compose.WithCheckPointID("mail-1"))
	info, _ := compose.ExtractInterruptInfo(err)
	fmt.Println("interrupted before", info.BeforeNodes)
	db.Close()

	db, _ = inmem.Open(dir)
	defer db.Close()
	resume := compose.Resume(ctx, info.InterruptContexts[0].ID)
	out, err := graph(inmemeino.NewCheckPointStore(db, ns)).Invoke(resume, "ada", compose.WithCheckPointID("mail-1"))
	fmt.Println(out, err)

	run, _ := db.CheckPointStore(ns).Run("mail-1")
	steps, _ := run.Steps()
	fmt.Println("checkpoints in history:", len(steps))
	// Output:
	// interrupted before [send]
	// sent: hello ada <nil>
	// checkpoints in history: 1
}
