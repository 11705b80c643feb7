package inmem

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// KnowledgeGraph is a namespace's graph of named entities, what was
// observed about each, and typed relations between them: the memory of
// the MCP reference memory server (@modelcontextprotocol/server-memory),
// with its nine operations and their results, so that an agent written
// against that server finds the same answers here.
//
// The graph is kept in a run of its own (tagged KnowledgeGraphTag, found
// through the namespace's shared-scope key KnowledgeGraphIndexKey, begun
// at the first write), one KV entry per entity and per relation, and
// every operation that changes it is one transaction and so one step of
// that run: run.Steps() lists every change, run.AsOf(step) reads the
// graph as it was, DB.Fork starts an alternative memory from any step.
//
// Entities and relations come back in the order they were created, as
// the reference server keeps them; an entity keeps its place when
// observations are added to it.
type KnowledgeGraph struct {
	index indexedRun
}

// Entity is a node of a KnowledgeGraph, identified by its name.
type Entity struct {
	Name         string
	EntityType   string
	Observations []string
}

// Relation is a directed, typed edge between two entity names; the three
// fields together identify it. Neither end has to exist as an entity.
type Relation struct {
	From, To, RelationType string
}

// EntityObservations are observations about one entity: what to add, what
// was added, or what to delete.
type EntityObservations struct {
	EntityName   string
	Observations []string
}

// Graph is a KnowledgeGraph or a part of it, in creation order.
type Graph struct {
	Entities  []Entity
	Relations []Relation
}

// KnowledgeGraphTag tags the run that holds a namespace's knowledge graph.
const KnowledgeGraphTag = "knowledge-graph"

// KnowledgeGraphIndexKey is the shared-scope key that names the run
// holding the namespace's knowledge graph.
const KnowledgeGraphIndexKey = "knowledge-graph"

// The graph's run holds an entity under entityPrefix+name, a relation
// under relationPrefix+its three fields as a JSON array, and the next
// creation number under graphSeqKey.
const (
	entityPrefix   = "entity/"
	relationPrefix = "relation/"
	graphSeqKey    = "seq"
)

// KnowledgeGraph returns the knowledge graph of namespace ns.
func (db *DB) KnowledgeGraph(ns Namespace) *KnowledgeGraph {
	return &KnowledgeGraph{index: indexedRun{db: db, ns: ns, key: KnowledgeGraphIndexKey,
		opts: []RunOption{Name(KnowledgeGraphTag), Tags(KnowledgeGraphTag)}}}
}

// Run returns the run that holds the graph and its history, ErrNotFound
// before the graph's first change.
func (g *KnowledgeGraph) Run() (*Run, error) {
	run, ok, err := g.index.lookup()
	switch {
	case err != nil:
		return nil, fmt.Errorf("knowledge graph: %w", err)
	case !ok:
		return nil, fmt.Errorf("knowledge graph: nothing written yet: %w", ErrNotFound)
	}
	return run, nil
}

// CreateEntities adds the entities whose names the graph does not hold yet
// and returns those it added; an entity named earlier in the same call is
// not added twice.
func (g *KnowledgeGraph) CreateEntities(entities []Entity) ([]Entity, error) {
	for _, e := range entities {
		if err := checkText(append([]string{e.Name, e.EntityType}, e.Observations...)...); err != nil {
			return nil, err
		}
	}
	added := []Entity{}
	err := g.update(true, func(tx *graphTx) error {
		added = added[:0]
		for _, e := range entities {
			if _, ok, err := tx.entity(e.Name); err != nil || ok {
				if err != nil {
					return err
				}
				continue
			}
			seq, err := tx.nextSeq()
			if err != nil {
				return err
			}
			e.Observations = nonNil(slices.Clone(e.Observations))
			if err := tx.putEntity(e, seq); err != nil {
				return err
			}
			added = append(added, e)
		}
		return nil
	})
	return added, err
}

// CreateRelations adds the relations the graph does not hold yet and
// returns those it added.
func (g *KnowledgeGraph) CreateRelations(relations []Relation) ([]Relation, error) {
	if err := checkRelations(relations); err != nil {
		return nil, err
	}
	added := []Relation{}
	err := g.update(true, func(tx *graphTx) error {
		added = added[:0]
		for _, r := range relations {
			key := relationKey(r)
			if _, err := tx.kv.Get(key); err == nil {
				continue
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
			seq, err := tx.nextSeq()
			if err != nil {
				return err
			}
			if err := tx.kv.Put(key, strconv.AppendUint(nil, seq, 10)); err != nil {
				return err
			}
			added = append(added, r)
		}
		return nil
	})
	return added, err
}

// AddObservations adds to each entity the observations it does not hold
// yet and returns, per entry of obs, those it added. If an entity does not
// exist it changes nothing and returns an error wrapping ErrNotFound that
// names the entity (as the reference server does).
func (g *KnowledgeGraph) AddObservations(obs []EntityObservations) ([]EntityObservations, error) {
	if err := checkObservations(obs); err != nil {
		return nil, err
	}
	var added []EntityObservations
	err := g.update(true, func(tx *graphTx) error {
		added = make([]EntityObservations, 0, len(obs))
		for _, o := range obs {
			e, ok, err := tx.entity(o.EntityName)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("entity with name %s not found: %w", o.EntityName, ErrNotFound)
			}
			a := EntityObservations{EntityName: o.EntityName, Observations: []string{}}
			for _, c := range o.Observations {
				if !slices.Contains(e.Observations, c) {
					e.Observations = append(e.Observations, c)
					a.Observations = append(a.Observations, c)
				}
			}
			if len(a.Observations) > 0 {
				if err := tx.putEntity(e.Entity, e.seq); err != nil {
					return err
				}
			}
			added = append(added, a)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return added, nil
}

// DeleteEntities deletes the named entities and every relation from or to
// any of them. Names the graph does not hold are ignored.
func (g *KnowledgeGraph) DeleteEntities(names []string) error {
	if err := checkText(names...); err != nil {
		return err
	}
	return g.update(false, func(tx *graphTx) error {
		for _, n := range names {
			if err := tx.deleteIfPresent(entityPrefix + n); err != nil {
				return err
			}
		}
		var doomed []string
		err := tx.relations(func(key string, r Relation, _ uint64) {
			if slices.Contains(names, r.From) || slices.Contains(names, r.To) {
				doomed = append(doomed, key)
			}
		})
		if err != nil {
			return err
		}
		for _, key := range doomed {
			if err := tx.kv.Delete(key); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteObservations removes the given observations from each entity.
// Entities and observations the graph does not hold are ignored.
func (g *KnowledgeGraph) DeleteObservations(obs []EntityObservations) error {
	if err := checkObservations(obs); err != nil {
		return err
	}
	return g.update(false, func(tx *graphTx) error {
		for _, o := range obs {
			e, ok, err := tx.entity(o.EntityName)
			if err != nil || !ok {
				if err != nil {
					return err
				}
				continue
			}
			kept := slices.DeleteFunc(slices.Clone(e.Observations), func(s string) bool { return slices.Contains(o.Observations, s) })
			if len(kept) == len(e.Observations) {
				continue
			}
			e.Observations = kept
			if err := tx.putEntity(e.Entity, e.seq); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteRelations deletes the given relations; those the graph does not
// hold are ignored.
func (g *KnowledgeGraph) DeleteRelations(relations []Relation) error {
	if err := checkRelations(relations); err != nil {
		return err
	}
	return g.update(false, func(tx *graphTx) error {
		for _, r := range relations {
			if err := tx.deleteIfPresent(relationKey(r)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Read returns the whole graph.
func (g *KnowledgeGraph) Read() (Graph, error) {
	return g.view(nil)
}

// Search returns the entities whose name, type or an observation contains
// query, ignoring case, and every relation from or to one of them.
func (g *KnowledgeGraph) Search(query string) (Graph, error) {
	if err := checkText(query); err != nil {
		return Graph{}, err
	}
	q := strings.ToLower(query)
	has := func(s string) bool { return strings.Contains(strings.ToLower(s), q) }
	return g.view(func(e Entity) bool {
		return has(e.Name) || has(e.EntityType) || slices.ContainsFunc(e.Observations, has)
	})
}

// Open returns the named entities the graph holds, in creation order, and
// every relation from or to one of them.
func (g *KnowledgeGraph) Open(names []string) (Graph, error) {
	if err := checkText(names...); err != nil {
		return Graph{}, err
	}
	return g.view(func(e Entity) bool { return slices.Contains(names, e.Name) })
}

// ReadAt returns the whole graph as it was right after step of its run
// (see Run): ErrHistory for a step the run does not have.
func (g *KnowledgeGraph) ReadAt(step int) (Graph, error) {
	run, err := g.Run()
	if err != nil {
		return Graph{}, err
	}
	v, err := run.AsOf(step)
	if err != nil {
		return Graph{}, wrapGraph(err)
	}
	return readGraph(v.Read, nil)
}

// view reads the entities keep accepts and the relations that touch them,
// in one snapshot; a nil keep reads the whole graph, relations between
// names that are no entity included.
func (g *KnowledgeGraph) view(keep func(Entity) bool) (Graph, error) {
	run, ok, err := g.index.lookup()
	if err != nil || !ok {
		return Graph{Entities: []Entity{}, Relations: []Relation{}}, wrapGraph(err)
	}
	return readGraph(run.View, keep)
}

// readGraph reads, in the one transaction read runs, what view does.
func readGraph(read func(func(*Tx) error) error, keep func(Entity) bool) (Graph, error) {
	out := Graph{Entities: []Entity{}, Relations: []Relation{}}
	err := read(func(t *Tx) error {
		tx := &graphTx{kv: t.KV()}
		var es []storedEntity
		var derr error
		err := tx.kv.Scan(entityPrefix, func(key string, v []byte) bool {
			e, err := decodeEntity(key, v)
			if err != nil {
				derr = err
				return false
			}
			if keep == nil || keep(e.Entity) {
				es = append(es, e)
			}
			return true
		})
		if err = cmp.Or(err, derr); err != nil {
			return err
		}
		slices.SortFunc(es, func(a, b storedEntity) int { return cmp.Compare(a.seq, b.seq) })
		names := make(map[string]bool, len(es))
		for _, e := range es {
			out.Entities = append(out.Entities, e.Entity)
			names[e.Name] = true
		}
		type seqRel struct {
			r   Relation
			seq uint64
		}
		var rs []seqRel
		if err := tx.relations(func(_ string, r Relation, seq uint64) {
			if keep == nil || names[r.From] || names[r.To] {
				rs = append(rs, seqRel{r, seq})
			}
		}); err != nil {
			return err
		}
		slices.SortFunc(rs, func(a, b seqRel) int { return cmp.Compare(a.seq, b.seq) })
		for _, r := range rs {
			out.Relations = append(out.Relations, r.r)
		}
		return nil
	})
	if err != nil {
		return Graph{}, wrapGraph(err)
	}
	return out, nil
}

// update runs fn in a transaction of the graph's run, retried on
// conflict. A change that can only remove (create false) does nothing
// before the graph's first write.
func (g *KnowledgeGraph) update(create bool, fn func(*graphTx) error) error {
	run, ok, err := g.index.lookup()
	switch {
	case err != nil:
		return wrapGraph(err)
	case !ok && !create:
		return nil
	case !ok:
		if run, err = g.index.create(); err != nil {
			return wrapGraph(err)
		}
	}
	return wrapGraph(run.Update(func(t *Tx) error { return fn(&graphTx{kv: t.KV()}) }))
}

func wrapGraph(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("knowledge graph: %w", err)
}

// graphTx reads and writes the graph's entries in one transaction.
type graphTx struct {
	kv *KV
}

// storedEntity is an entity with its creation number.
type storedEntity struct {
	Entity
	seq uint64
}

// entityJSON is how an entity is stored: JSON, so that the graph reads
// plainly in inmem show and exports.
type entityJSON struct {
	Seq          uint64   `json:"seq"`
	EntityType   string   `json:"entityType"`
	Observations []string `json:"observations"`
}

// entity reads the entity named name.
func (tx *graphTx) entity(name string) (storedEntity, bool, error) {
	v, err := tx.kv.Get(entityPrefix + name)
	if errors.Is(err, ErrNotFound) {
		return storedEntity{}, false, nil
	}
	if err != nil {
		return storedEntity{}, false, err
	}
	e, err := decodeEntity(entityPrefix+name, v)
	return e, err == nil, err
}

// putEntity writes e with creation number seq.
func (tx *graphTx) putEntity(e Entity, seq uint64) error {
	v, err := json.Marshal(entityJSON{Seq: seq, EntityType: e.EntityType, Observations: nonNil(e.Observations)})
	if err != nil {
		return err
	}
	return tx.kv.Put(entityPrefix+e.Name, v)
}

// deleteIfPresent deletes key if it is there: a call that removes
// nothing writes no step.
func (tx *graphTx) deleteIfPresent(key string) error {
	_, err := tx.kv.Get(key)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	return tx.kv.Delete(key)
}

// nextSeq takes the next creation number.
func (tx *graphTx) nextSeq() (uint64, error) {
	var n uint64
	v, err := tx.kv.Get(graphSeqKey)
	switch {
	case err == nil:
		if n, err = strconv.ParseUint(string(v), 10, 64); err != nil {
			return 0, fmt.Errorf("creation number %q: %w", v, ErrCorruption)
		}
	case !errors.Is(err, ErrNotFound):
		return 0, err
	}
	return n, tx.kv.Put(graphSeqKey, strconv.AppendUint(nil, n+1, 10))
}

// relations calls fn with every relation, in key order.
func (tx *graphTx) relations(fn func(key string, r Relation, seq uint64)) error {
	var derr error
	err := tx.kv.Scan(relationPrefix, func(key string, v []byte) bool {
		var f []string
		seq, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil || json.Unmarshal([]byte(key[len(relationPrefix):]), &f) != nil || len(f) != 3 {
			derr = fmt.Errorf("relation entry %q: %w", key, ErrCorruption)
			return false
		}
		fn(key, Relation{From: f[0], To: f[1], RelationType: f[2]}, seq)
		return true
	})
	if err != nil {
		return err
	}
	return derr
}

// relationKey is the key a relation is stored under.
func relationKey(r Relation) string {
	k, _ := json.Marshal([3]string{r.From, r.To, r.RelationType}) // strings always marshal
	return relationPrefix + string(k)
}

func decodeEntity(key string, v []byte) (storedEntity, error) {
	var j entityJSON
	if err := json.Unmarshal(v, &j); err != nil {
		return storedEntity{}, fmt.Errorf("entity entry %q: %w", key, ErrCorruption)
	}
	return storedEntity{Entity: Entity{Name: key[len(entityPrefix):], EntityType: j.EntityType, Observations: nonNil(j.Observations)}, seq: j.Seq}, nil
}

// checkText refuses text that is not UTF-8: the graph is stored, and
// served, as JSON, which would change such text.
func checkText(ss ...string) error {
	for _, t := range ss {
		if !utf8.ValidString(t) {
			return fmt.Errorf("knowledge graph: %q is not valid UTF-8: %w", t, ErrInvalidArgument)
		}
	}
	return nil
}

func checkRelations(rs []Relation) error {
	for _, r := range rs {
		if err := checkText(r.From, r.To, r.RelationType); err != nil {
			return err
		}
	}
	return nil
}

func checkObservations(obs []EntityObservations) error {
	for _, o := range obs {
		if err := checkText(append([]string{o.EntityName}, o.Observations...)...); err != nil {
			return err
		}
	}
	return nil
}

// nonNil returns s, or an empty slice for nil: a graph's lists are never
// null in JSON.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
