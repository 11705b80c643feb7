package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// A memory.jsonl as the reference memory server writes it.
const memoryFile = `{"type":"entity","name":"Ada","entityType":"person","observations":["wrote notes","countess"]}
{"type":"entity","name":"Engine","entityType":"machine","observations":[]}
{"type":"relation","from":"Ada","to":"Engine","relationType":"programs"}
{"type":"relation","from":"Ada","to":"Nobody","relationType":"knows"}`

// TestImportMemory: a reference server's file becomes the knowledge graph
// serve's memory tools keep, in the file's order; importing it again adds
// nothing; a bad file writes nothing.
func TestImportMemory(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(t.TempDir(), "memory.jsonl")
	require.NoError(t, os.WriteFile(file, []byte(memoryFile), 0o644))

	out, code := run(t, "import", dir, file, "--memory", "--memory-namespace", "acme")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "knowledge graph of acme/-/-: 2 entities added (0 already there), 2 relations added (0 already there)")
	out, code = run(t, "import", dir, file, "--memory", "--memory-namespace", "acme", "--json")
	require.Equal(t, 0, code, out)
	require.JSONEq(t, `{"namespace":"acme/-/-","entities":0,"entities_present":2,"relations":0,"relations_present":2}`, out)

	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	require.NoError(t, os.WriteFile(bad, []byte(`{"type":"entity","name":"Late","entityType":"t","observations":[]}`+"\n{\"type\":\"node\"}\n"), 0o644))
	out, code = run(t, "import", dir, bad, "--memory", "--memory-namespace", "acme")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, `line 2: type "node"`)
	require.NoError(t, os.WriteFile(bad, []byte("{not json\n"), 0o644))
	out, code = run(t, "import", dir, bad, "--memory", "--memory-namespace", "acme")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "line 1")

	out, code = run(t, "import", dir, file, "--memory-namespace", "acme")
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "goes with --memory")

	db, err := inmem.Open(dir)
	require.NoError(t, err)
	defer db.Close()
	g, err := db.KnowledgeGraph(inmem.Namespace{Tenant: "acme"}).Read()
	require.NoError(t, err)
	require.Equal(t, inmem.Graph{
		Entities: []inmem.Entity{{Name: "Ada", EntityType: "person", Observations: []string{"wrote notes", "countess"}},
			{Name: "Engine", EntityType: "machine", Observations: []string{}}},
		Relations: []inmem.Relation{{From: "Ada", To: "Engine", RelationType: "programs"}, {From: "Ada", To: "Nobody", RelationType: "knows"}},
	}, g, "nothing of the bad files was written")
}
