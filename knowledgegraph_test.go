package inmem_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

var kgNS = inmem.Namespace{App: "memory"}

func ent(name, typ string, obs ...string) inmem.Entity {
	if obs == nil {
		obs = []string{}
	}
	return inmem.Entity{Name: name, EntityType: typ, Observations: obs}
}

func rel(from, to, typ string) inmem.Relation {
	return inmem.Relation{From: from, To: to, RelationType: typ}
}

func emptyGraph() inmem.Graph {
	return inmem.Graph{Entities: []inmem.Entity{}, Relations: []inmem.Relation{}}
}

func TestKnowledgeGraphEmpty(t *testing.T) {
	db := memDB(t)
	g := db.KnowledgeGraph(kgNS)
	got, err := g.Read()
	require.NoError(t, err)
	require.Equal(t, emptyGraph(), got)
	got, err = g.Search("x")
	require.NoError(t, err)
	require.Equal(t, emptyGraph(), got)
	// Removals on an empty graph change nothing and begin no run.
	require.NoError(t, g.DeleteEntities([]string{"a"}))
	require.NoError(t, g.DeleteRelations([]inmem.Relation{rel("a", "b", "c")}))
	require.NoError(t, g.DeleteObservations([]inmem.EntityObservations{{EntityName: "a", Observations: []string{"o"}}}))
	_, err = g.Run()
	require.ErrorIs(t, err, inmem.ErrNotFound)
	runs, err := db.Runs().List(inmem.RunQuery{})
	require.NoError(t, err)
	require.Empty(t, runs)
}

func TestKnowledgeGraphOperations(t *testing.T) {
	db := memDB(t)
	g := db.KnowledgeGraph(kgNS)

	added, err := g.CreateEntities([]inmem.Entity{ent("Ada", "person", "wrote notes"), ent("Engine", "machine"), ent("Ada", "robot")})
	require.NoError(t, err)
	require.Equal(t, []inmem.Entity{ent("Ada", "person", "wrote notes"), ent("Engine", "machine")}, added, "a name given twice is added once")
	added, err = g.CreateEntities([]inmem.Entity{ent("Engine", "other"), ent("Babbage", "person")})
	require.NoError(t, err)
	require.Equal(t, []inmem.Entity{ent("Babbage", "person")}, added, "an existing name is skipped")

	rels, err := g.CreateRelations([]inmem.Relation{rel("Ada", "Engine", "programs"), rel("Babbage", "Engine", "designed"), rel("Ada", "Engine", "programs")})
	require.NoError(t, err)
	require.Equal(t, []inmem.Relation{rel("Ada", "Engine", "programs"), rel("Babbage", "Engine", "designed")}, rels)
	rels, err = g.CreateRelations([]inmem.Relation{rel("Ada", "Engine", "programs"), rel("Ada", "Nobody", "knows")})
	require.NoError(t, err)
	require.Equal(t, []inmem.Relation{rel("Ada", "Nobody", "knows")}, rels, "ends need not exist")

	obs, err := g.AddObservations([]inmem.EntityObservations{{EntityName: "Engine", Observations: []string{"analytical", "steam"}}, {EntityName: "Ada", Observations: []string{"wrote notes", "countess"}}})
	require.NoError(t, err)
	require.Equal(t, []inmem.EntityObservations{{EntityName: "Engine", Observations: []string{"analytical", "steam"}}, {EntityName: "Ada", Observations: []string{"countess"}}}, obs)

	// A missing entity fails the whole call: nothing of it is written.
	before, err := g.Read()
	require.NoError(t, err)
	_, err = g.AddObservations([]inmem.EntityObservations{{EntityName: "Ada", Observations: []string{"new"}}, {EntityName: "Ghost", Observations: []string{"boo"}}})
	require.ErrorIs(t, err, inmem.ErrNotFound)
	require.ErrorContains(t, err, "entity with name Ghost not found")
	after, err := g.Read()
	require.NoError(t, err)
	require.Equal(t, before, after)

	// Creation order, not name order; an entity keeps its place when it grows.
	require.Equal(t, inmem.Graph{
		Entities:  []inmem.Entity{ent("Ada", "person", "wrote notes", "countess"), ent("Engine", "machine", "analytical", "steam"), ent("Babbage", "person")},
		Relations: []inmem.Relation{rel("Ada", "Engine", "programs"), rel("Babbage", "Engine", "designed"), rel("Ada", "Nobody", "knows")},
	}, after)

	found, err := g.Search("STEAM")
	require.NoError(t, err)
	require.Equal(t, inmem.Graph{Entities: []inmem.Entity{ent("Engine", "machine", "analytical", "steam")},
		Relations: []inmem.Relation{rel("Ada", "Engine", "programs"), rel("Babbage", "Engine", "designed")}}, found, "case is ignored; relations with one end found")
	found, err = g.Search("pers")
	require.NoError(t, err)
	require.Len(t, found.Entities, 2, "the type matches")

	opened, err := g.Open([]string{"Babbage", "Ada", "Ghost"})
	require.NoError(t, err)
	require.Equal(t, []inmem.Entity{ent("Ada", "person", "wrote notes", "countess"), ent("Babbage", "person")}, opened.Entities, "graph order, missing names skipped")
	require.Len(t, opened.Relations, 3)

	require.NoError(t, g.DeleteObservations([]inmem.EntityObservations{{EntityName: "Engine", Observations: []string{"steam", "absent"}}, {EntityName: "Ghost", Observations: []string{"x"}}}))
	require.NoError(t, g.DeleteRelations([]inmem.Relation{rel("Ada", "Nobody", "knows"), rel("x", "y", "z")}))
	require.NoError(t, g.DeleteEntities([]string{"Babbage", "Ghost"}))
	got, err := g.Read()
	require.NoError(t, err)
	require.Equal(t, inmem.Graph{
		Entities:  []inmem.Entity{ent("Ada", "person", "wrote notes", "countess"), ent("Engine", "machine", "analytical")},
		Relations: []inmem.Relation{rel("Ada", "Engine", "programs")},
	}, got, "a deleted entity takes its relations with it")

	// An entity takes every relation from or to it along.
	_, err = g.CreateRelations([]inmem.Relation{rel("Engine", "Ada", "runs"), rel("Ada", "Ada", "self"), rel("x", "Ada", "knows")})
	require.NoError(t, err)
	require.NoError(t, g.DeleteEntities([]string{"Ada"}))
	got, err = g.Read()
	require.NoError(t, err)
	require.Empty(t, got.Relations)
	_, err = g.CreateEntities([]inmem.Entity{ent("Ada", "person", "wrote notes", "countess")})
	require.NoError(t, err)

	// Created again, an entity goes to the end.
	_, err = g.CreateEntities([]inmem.Entity{ent("Babbage", "inventor")})
	require.NoError(t, err)
	got, err = g.Read()
	require.NoError(t, err)
	require.Equal(t, "Babbage", got.Entities[2].Name)
	require.Equal(t, "inventor", got.Entities[2].EntityType)
}

// TestKnowledgeGraphHistory: every change is a step of the graph's run, and
// any step reads back.
func TestKnowledgeGraphHistory(t *testing.T) {
	db := memDB(t)
	g := db.KnowledgeGraph(kgNS)
	_, err := g.CreateEntities([]inmem.Entity{ent("a", "t", "one")})
	require.NoError(t, err)
	_, err = g.AddObservations([]inmem.EntityObservations{{EntityName: "a", Observations: []string{"two"}}})
	require.NoError(t, err)
	added, err := g.AddObservations([]inmem.EntityObservations{{EntityName: "a", Observations: []string{"one", "two"}}})
	require.NoError(t, err)
	require.Equal(t, []inmem.EntityObservations{{EntityName: "a", Observations: []string{}}}, added, "nothing new: no step")
	require.NoError(t, g.DeleteEntities([]string{"a"}))
	// A call that changes nothing writes no step.
	_, err = g.CreateRelations(nil)
	require.NoError(t, err)
	require.NoError(t, g.DeleteEntities([]string{"a", "absent"}))
	require.NoError(t, g.DeleteRelations([]inmem.Relation{rel("a", "b", "c")}))
	require.NoError(t, g.DeleteObservations([]inmem.EntityObservations{{EntityName: "a", Observations: []string{"one"}}}))

	run, err := g.Run()
	require.NoError(t, err)
	info, err := run.Info()
	require.NoError(t, err)
	require.Equal(t, kgNS, info.Namespace)
	require.Equal(t, []string{inmem.KnowledgeGraphTag}, info.Tags)
	steps, err := run.Steps()
	require.NoError(t, err)
	require.Len(t, steps, 3)

	at1, err := g.ReadAt(1)
	require.NoError(t, err)
	require.Equal(t, []inmem.Entity{ent("a", "t", "one")}, at1.Entities)
	at2, err := g.ReadAt(2)
	require.NoError(t, err)
	require.Equal(t, []inmem.Entity{ent("a", "t", "one", "two")}, at2.Entities)
	at3, err := g.ReadAt(3)
	require.NoError(t, err)
	require.Equal(t, emptyGraph(), at3)
	_, err = g.ReadAt(4)
	require.ErrorIs(t, err, inmem.ErrHistory)

	// A fork from step 2 is an alternative memory; its graph reads through.
	fork, err := db.Fork(run.ID(), 2)
	require.NoError(t, err)
	v, err := fork.KV().Get("entity/a")
	require.NoError(t, err)
	require.Contains(t, string(v), "two")
}

func TestKnowledgeGraphDurable(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	g := db.KnowledgeGraph(kgNS)
	_, err = g.CreateEntities([]inmem.Entity{ent("b", "t"), ent("a", "t", "x")})
	require.NoError(t, err)
	_, err = g.CreateRelations([]inmem.Relation{rel("b", "a", "r"), rel("ghost", "spirit", "haunts")})
	require.NoError(t, err)
	want, err := g.Read()
	require.NoError(t, err)
	require.Equal(t, []inmem.Relation{rel("b", "a", "r"), rel("ghost", "spirit", "haunts")}, want.Relations, "the whole graph has relations between names that are no entity")
	require.NoError(t, db.Close())

	db, err = inmem.Open(dir)
	require.NoError(t, err)
	defer db.Close()
	got, err := db.KnowledgeGraph(kgNS).Read()
	require.NoError(t, err)
	require.Equal(t, want, got)
	other, err := db.KnowledgeGraph(inmem.Namespace{App: "other"}).Read()
	require.NoError(t, err)
	require.Equal(t, emptyGraph(), other, "each namespace has its own graph")
}

func TestKnowledgeGraphBadInput(t *testing.T) {
	db := memDB(t)
	g := db.KnowledgeGraph(kgNS)
	bad := string([]byte{0xff})
	_, err := g.CreateEntities([]inmem.Entity{ent("a", "t", bad)})
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	_, err = g.CreateRelations([]inmem.Relation{rel("a", bad, "r")})
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	_, err = g.AddObservations([]inmem.EntityObservations{{EntityName: bad}})
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	require.ErrorIs(t, g.DeleteEntities([]string{bad}), inmem.ErrInvalidArgument)
	require.ErrorIs(t, g.DeleteObservations([]inmem.EntityObservations{{EntityName: "a", Observations: []string{bad}}}), inmem.ErrInvalidArgument)
	require.ErrorIs(t, g.DeleteRelations([]inmem.Relation{rel(bad, "b", "r")}), inmem.ErrInvalidArgument)
	_, err = g.Search(bad)
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	_, err = g.Open([]string{bad})
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	_, err = g.ReadAt(1)
	require.ErrorIs(t, err, inmem.ErrNotFound, "nothing was written")
	_, err = g.CreateEntities([]inmem.Entity{ent(string(make([]byte, inmem.MaxKeySize)), "t")})
	require.ErrorIs(t, err, inmem.ErrTooLarge)
	got, err := g.Read()
	require.NoError(t, err)
	require.Equal(t, emptyGraph(), got)
}

// TestKnowledgeGraphConcurrent: writers racing on one graph each get every
// entity and relation in exactly once, with distinct creation numbers.
func TestKnowledgeGraphConcurrent(t *testing.T) {
	db := memDB(t)
	const writers, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := db.KnowledgeGraph(kgNS) // each its own handle: the first writes race to begin the run
			for i := range each {
				name := fmt.Sprintf("w%d-%d", w, i)
				if _, err := g.CreateEntities([]inmem.Entity{ent(name, "t"), ent("shared", "t")}); err != nil {
					errs <- err
					return
				}
				if _, err := g.CreateRelations([]inmem.Relation{rel(name, "shared", "r")}); err != nil {
					errs <- err
					return
				}
				if _, err := g.AddObservations([]inmem.EntityObservations{{EntityName: "shared", Observations: []string{name}}}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, err := db.KnowledgeGraph(kgNS).Read()
	require.NoError(t, err)
	require.Len(t, got.Entities, writers*each+1)
	require.Len(t, got.Relations, writers*each)
	var shared inmem.Entity
	for _, e := range got.Entities {
		if e.Name == "shared" {
			shared = e
		}
	}
	require.Len(t, shared.Observations, writers*each)
	runs, err := db.Runs().List(inmem.RunQuery{Tag: inmem.KnowledgeGraphTag})
	require.NoError(t, err)
	require.Len(t, runs, 1, "racing first writers agree on one run")
}

// TestKnowledgeGraphDeletesEveryItem: a delete call goes through every
// item it names, whatever the items before it were (absent, or deleted).
func TestKnowledgeGraphDeletesEveryItem(t *testing.T) {
	g := memDB(t).KnowledgeGraph(kgNS)
	_, err := g.CreateEntities([]inmem.Entity{ent("a", "t", "x", "keep"), ent("b", "t", "y", "keep"), ent("c", "t")})
	require.NoError(t, err)
	_, err = g.CreateRelations([]inmem.Relation{rel("a", "b", "r"), rel("b", "c", "r"), rel("c", "a", "r")})
	require.NoError(t, err)
	require.NoError(t, g.DeleteObservations([]inmem.EntityObservations{
		{EntityName: "ghost", Observations: []string{"x"}}, {EntityName: "a", Observations: []string{"x"}}, {EntityName: "b", Observations: []string{"y"}}}))
	require.NoError(t, g.DeleteRelations([]inmem.Relation{rel("no", "such", "r"), rel("a", "b", "r"), rel("b", "c", "r")}))
	got, err := g.Read()
	require.NoError(t, err)
	require.Equal(t, inmem.Graph{
		Entities:  []inmem.Entity{ent("a", "t", "keep"), ent("b", "t", "keep"), ent("c", "t")},
		Relations: []inmem.Relation{rel("c", "a", "r")},
	}, got)
}

// TestKnowledgeGraphCorruptEntries: an entry of the graph's run that does
// not decode is reported as corruption, never read as absent or empty.
func TestKnowledgeGraphCorruptEntries(t *testing.T) {
	for name, c := range map[string]struct{ key, value string }{
		"entity":          {"entity/a", "{not json"},
		"relation key":    {`relation/["a","b"]`, "0"},
		"relation value":  {`relation/["a","b","r"]`, "x"},
		"creation number": {"seq", "many"},
	} {
		t.Run(name, func(t *testing.T) {
			g := memDB(t).KnowledgeGraph(kgNS)
			_, err := g.CreateEntities([]inmem.Entity{ent("z", "t")})
			require.NoError(t, err)
			run, err := g.Run()
			require.NoError(t, err)
			require.NoError(t, run.KV().Put(c.key, []byte(c.value)))
			_, rerr := g.Read()
			_, cerr := g.CreateEntities([]inmem.Entity{ent("new", "t")})
			if c.key == "seq" {
				require.NoError(t, rerr)
				require.ErrorIs(t, cerr, inmem.ErrCorruption)
				return
			}
			require.ErrorIs(t, rerr, inmem.ErrCorruption)
			require.ErrorContains(t, rerr, fmt.Sprintf("%q", c.key))
		})
	}
}
