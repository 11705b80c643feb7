package inmem

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/inmem-db/inmem/internal/keys"
	"github.com/inmem-db/inmem/primitives"
)

// RunDiff is what differs between two runs, per primitive.
type RunDiff struct {
	KV, Events, State, Traces, Vectors PrimitiveDiff
}

// PrimitiveDiff lists the elements of one primitive that only one run has
// (Added: only in b; Removed: only in a) or that both have with different
// contents (Changed).
type PrimitiveDiff struct {
	Added, Removed []string
	Changed        []Change
}

// Change is an element both runs have, with a's value (Before) and b's
// (After).
type Change struct {
	Key           string
	Before, After []byte
}

// Empty reports whether the two runs had no difference in this primitive.
func (d PrimitiveDiff) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0
}

// Empty reports whether the two runs hold the same data.
func (d RunDiff) Empty() bool {
	return d.KV.Empty() && d.Events.Empty() && d.State.Empty() && d.Traces.Empty() && d.Vectors.Empty()
}

func (d *RunDiff) slot(i int) *PrimitiveDiff {
	switch i {
	case elemKV:
		return &d.KV
	case elemEvents:
		return &d.Events
	case elemState:
		return &d.State
	case elemTraces:
		return &d.Traces
	default:
		return &d.Vectors
	}
}

// Diff compares the current state of runs a and b (a fork and its parent,
// or any two runs) element by element. Elements are named as in
// StepWrites. What is compared, and what Change holds:
//   - KV: the value;
//   - events: type and payload (not times or hashes, which differ between
//     any two runs); Change holds the payloads;
//   - state: the cell's value (not its version or time);
//   - traces: parent, kind, name, status, input, output, attributes and
//     tags (not the times); Change holds them as JSON;
//   - vectors: the vector and its metadata; Change holds them as JSON
//     {"collection", "vector", "meta"}.
func (db *DB) Diff(a, b RunID) (RunDiff, error) {
	if db.closed.Load() {
		return RunDiff{}, ErrClosed
	}
	ea, err := db.elements(a)
	if err != nil {
		return RunDiff{}, fmt.Errorf("diff: %w", err)
	}
	eb, err := db.elements(b)
	if err != nil {
		return RunDiff{}, fmt.Errorf("diff: %w", err)
	}
	var d RunDiff
	for slot := range elemCount {
		diffSlot(d.slot(slot), ea[slot], eb[slot])
	}
	return d, nil
}

func diffSlot(d *PrimitiveDiff, a, b []element) {
	inB := make(map[string]*element, len(b))
	for i := range b {
		inB[b[i].id] = &b[i]
	}
	inA := make(map[string]bool, len(a))
	for _, x := range a {
		inA[x.id] = true
		y, ok := inB[x.id]
		switch {
		case !ok:
			d.Removed = append(d.Removed, x.name)
		case !bytes.Equal(x.cmp, y.cmp):
			d.Changed = append(d.Changed, Change{Key: x.name, Before: x.shown, After: y.shown})
		}
	}
	for _, y := range b {
		if !inA[y.id] {
			d.Added = append(d.Added, y.name)
		}
	}
}

// element is one primitive element of a run as Diff compares it.
type element struct {
	id    string // unique within the primitive (vector keys are per collection)
	name  string
	cmp   []byte
	shown []byte
}

// elements reads every element of a run's current state, per primitive,
// in key order.
func (db *DB) elements(id RunID) ([elemCount][]element, error) {
	var out [elemCount][]element
	r, err := db.Run(id)
	if err != nil {
		return out, err
	}
	err = r.View(func(tx *Tx) error {
		var ferr error
		dims := map[string]int{}
		n := len(tx.rs.scope)
		tx.scan(tx.rs.scope, func(k, v []byte, _ uint64) bool {
			rest := k[n:]
			if len(rest) > 1 && rest[0] == keys.TagVector && rest[1] == vecConfig {
				var cfg VectorConfig
				coll, _, ok := vectorOfKey(append([]byte{vecRecord}, rest[2:]...))
				if ok && json.Unmarshal(v, &cfg) == nil {
					dims[coll] = cfg.Dim
				}
				return true
			}
			slot, name, ok := elementOf(rest)
			if !ok {
				return true
			}
			e, err := describe(slot, name, rest[1:], v, dims)
			if err != nil {
				ferr = err
				return false
			}
			out[slot] = append(out[slot], e)
			return true
		})
		return ferr
	})
	return out, err
}

// describe decodes one element's stored value into what Diff compares and
// shows.
func describe(slot int, name string, k, v []byte, dims map[string]int) (element, error) {
	e := element{id: name, name: name}
	switch slot {
	case elemKV, elemState:
		if slot == elemState {
			c, err := primitives.DecodeCell(name, v)
			if err != nil {
				return e, err
			}
			v = c.Value
		}
		e.cmp, e.shown = bytes.Clone(v), bytes.Clone(v)
	case elemEvents:
		seq, _ := strconv.ParseUint(name, 10, 64)
		ev, err := primitives.DecodeEvent(seq, v)
		if err != nil {
			return e, err
		}
		e.cmp = append(append([]byte(ev.Type), 0), ev.Payload...)
		e.shown = ev.Payload
	case elemTraces:
		id, _ := strconv.ParseUint(name, 10, 64)
		s, err := primitives.DecodeSpan(primitives.SpanID(id), v)
		if err != nil {
			return e, err
		}
		b, err := json.Marshal(struct {
			Parent        SpanID
			Kind          string
			Name          string
			Status        string
			Input, Output []byte
			Attrs         map[string]string    `json:",omitempty"`
			Values        map[string]AttrValue `json:",omitempty"`
			Tags          []string             `json:",omitempty"`
		}{s.Parent, s.Kind.String(), s.Name, string(s.Status), s.Input, s.Output, s.Attrs, s.Values, s.Tags})
		if err != nil {
			return e, err
		}
		e.cmp, e.shown = b, b
	case elemVectors:
		coll, key, _ := vectorOfKey(k)
		e.id = coll + "\x00" + key
		vec, meta, err := decodeVecRecord(dims[coll], v)
		if err != nil {
			return e, err
		}
		b, err := json.Marshal(struct {
			Collection string         `json:"collection"`
			Vector     []float32      `json:"vector"`
			Meta       map[string]any `json:"meta,omitempty"`
		}{coll, vec, meta})
		if err != nil {
			return e, err
		}
		e.cmp, e.shown = bytes.Clone(v), b
	}
	return e, nil
}
