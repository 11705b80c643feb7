package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/inmem-db/inmem"
)

// memoryLine is one line of the MCP reference memory server's file: an
// entity or a relation, told apart by type.
type memoryLine struct {
	Type         string   `json:"type"`
	Name         string   `json:"name"`
	EntityType   string   `json:"entityType"`
	Observations []string `json:"observations"`
	From         string   `json:"from"`
	To           string   `json:"to"`
	RelationType string   `json:"relationType"`
}

// memoryImport is what inmem import --memory did.
type memoryImport struct {
	Namespace        string `json:"namespace"`
	Entities         int    `json:"entities"`
	EntitiesPresent  int    `json:"entities_present"`
	Relations        int    `json:"relations"`
	RelationsPresent int    `json:"relations_present"`
}

// importMemory adds the entities and relations of a memory.jsonl, in the
// file's order, to g: the entities in one step, the relations in the
// next, each as create_entities and create_relations would (an entity
// whose name g holds, or a relation it holds, is left as it is). The
// whole file is read and checked before anything is written.
func importMemory(g *inmem.KnowledgeGraph, in io.Reader) (memoryImport, error) {
	var es []inmem.Entity
	var rs []inmem.Relation
	sc := bufio.NewScanner(in)
	sc.Buffer(nil, inmem.MaxValueSize) // a line is an entity with all its observations
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var l memoryLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return memoryImport{}, fmt.Errorf("line %d: %w", n, err)
		}
		switch l.Type {
		case "entity":
			es = append(es, inmem.Entity{Name: l.Name, EntityType: l.EntityType, Observations: l.Observations})
		case "relation":
			rs = append(rs, inmem.Relation{From: l.From, To: l.To, RelationType: l.RelationType})
		default:
			return memoryImport{}, fmt.Errorf("line %d: type %q: a memory file holds entities and relations", n, l.Type)
		}
	}
	if err := sc.Err(); err != nil {
		return memoryImport{}, err
	}
	addedE, err := g.CreateEntities(es)
	if err != nil {
		return memoryImport{}, err
	}
	addedR, err := g.CreateRelations(rs)
	if err != nil {
		return memoryImport{}, err
	}
	return memoryImport{Entities: len(addedE), EntitiesPresent: len(es) - len(addedE),
		Relations: len(addedR), RelationsPresent: len(rs) - len(addedR)}, nil
}
