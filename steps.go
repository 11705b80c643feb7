package inmem

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/keys"
	"github.com/inmem-db/inmem/primitives"
)

// Step is one committed transaction that wrote a run's data. Lifecycle
// changes (End, SetStatus) and read-only transactions are not steps.
type Step struct {
	N       int       // 1-based position in the run's history
	Version uint64    // commit version
	Time    time.Time // when it committed, by the database clock
	Writes  StepWrites
}

// StepWrites names the elements a step wrote (put or deleted), per
// primitive, in key order: KV keys, event seqs in decimal, cell names, span
// IDs in decimal, vector keys. Vectors also names each collection the step
// created, before the step's vector keys, so that every step lists
// something. Heads, counters and index entries the primitives keep are not
// listed.
type StepWrites struct {
	KV, Events, State, Traces, Vectors []string
}

// primitive element slots, in the order of StepWrites and RunDiff.
const (
	elemKV = iota
	elemEvents
	elemState
	elemTraces
	elemVectors
	elemCount
)

var elemNames = [elemCount]string{"kv", "events", "state", "traces", "vectors"}

// elementOf names the element a key of a scope (the bytes after the scope)
// is the record of; ok is false for keys that are no element's record.
func elementOf(rest []byte) (slot int, name string, ok bool) {
	if len(rest) < 1 {
		return 0, "", false
	}
	tag, k := rest[0], rest[1:]
	switch tag {
	case keys.TagKV:
		return elemKV, string(k), true
	case keys.TagEvent:
		if seq, ok := primitives.EventOfKey(k); ok {
			return elemEvents, strconv.FormatUint(seq, 10), true
		}
	case keys.TagState:
		if name, ok := primitives.CellOfKey(k); ok {
			return elemState, name, true
		}
	case keys.TagTrace:
		if id, ok := primitives.SpanOfKey(k); ok {
			return elemTraces, strconv.FormatUint(uint64(id), 10), true
		}
	case keys.TagVector:
		if _, key, ok := vectorOfKey(k); ok {
			return elemVectors, key, true
		}
	}
	return 0, "", false
}

// writeOf names what a key of a scope (the bytes after the scope) wrote,
// for Steps: an element, or a vector collection's configuration, named by
// the collection. Diff compares elements only; a collection is compared
// through its vectors.
func writeOf(rest []byte) (slot int, name string, ok bool) {
	if len(rest) > 1 && rest[0] == keys.TagVector && rest[1] == vecConfig {
		n, w := binary.Uvarint(rest[2:])
		if w <= 0 || n != uint64(len(rest)-2-w) {
			return 0, "", false
		}
		return elemVectors, string(rest[2+w:]), true
	}
	return elementOf(rest)
}

// vectorOfKey splits a vector record key into collection and key.
func vectorOfKey(k []byte) (coll, key string, ok bool) {
	if len(k) < 1 || k[0] != vecRecord {
		return "", "", false
	}
	n, w := binary.Uvarint(k[1:])
	if w <= 0 || n > uint64(len(k)-1-w) {
		return "", "", false
	}
	return string(k[1+w : 1+w+int(n)]), string(k[1+w+int(n):]), true
}

func (w *StepWrites) slot(i int) *[]string {
	switch i {
	case elemKV:
		return &w.KV
	case elemEvents:
		return &w.Events
	case elemState:
		return &w.State
	case elemTraces:
		return &w.Traces
	default:
		return &w.Vectors
	}
}

// Steps lists the run's steps, oldest first, each with the elements it
// wrote; after Runs.Compact, only the steps after the compaction point. A
// shared scope keeps no step history (ErrHistory).
func (r *Run) Steps() ([]Step, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	if r.st.Shared {
		return nil, fmt.Errorf("steps: a shared scope keeps no step history: %w", ErrHistory)
	}
	g, snapshot := r.db.store.ReadAt()
	if r.view != nil {
		snapshot = r.view.version
	}
	rs := r.st
	steps := rs.Log.All()[:rs.Log.Visible(snapshot)]
	out := make([]Step, len(steps))
	for i, st := range steps {
		out[i] = Step{N: i + 1, Version: st.Version, Time: time.Unix(0, st.Time)}
	}
	// Every version of every key of the run's own scope is kept while the
	// run's history is: one pass files each write under its step.
	err := r.db.walkRunWrites(g, rs, snapshot, steps, func(k, _ []byte, _ uint64, i int, ok bool) {
		if !ok {
			return
		}
		if slot, name, ok := writeOf(k[len(rs.scope):]); ok {
			p := out[i].Writes.slot(slot)
			*p = append(*p, name)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("steps: %w", err)
	}
	return out[min(int(rs.compacted.Load()), len(out)):], nil
}

// walkRunWrites calls fn for every entry of the run's own scope at or below
// snap, in key order (newest version of a key first), with the index in
// steps of the step that wrote it, or ok false for a version no step has.
// steps must be in version order (the step log is).
func (db *DB) walkRunWrites(g *engine.Generation, rs *runState, snap uint64, steps []engine.StepRec, fn func(key, value []byte, version uint64, step int, ok bool)) error {
	it := db.iterScope(g, rs.scope)
	defer it.Close()
	for it.SeekGE(rs.scope, ^uint64(0)); it.Valid(); it.Next() {
		k := it.Key()
		if !bytes.HasPrefix(k, rs.scope) {
			return nil
		}
		v := it.Version()
		if v > snap {
			continue
		}
		i, ok := slices.BinarySearchFunc(steps, v, func(s engine.StepRec, v uint64) int { return cmpU64(s.Version, v) })
		fn(k, it.Value(), v, i, ok)
	}
	return it.Err()
}
