package inmem

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/keys"
	"github.com/inmem-db/inmem/primitives"
	"github.com/zeebo/xxh3"
)

// ReplayReport is the result of DB.Replay.
type ReplayReport struct {
	// Match is true when the state rebuilt from the run's recorded history
	// equals its live state in every primitive.
	Match bool
	// Steps is the number of steps replayed.
	Steps int
	// FirstDiff is the first step after which the rebuilt state differs
	// from what the run held then (0 when Match).
	FirstDiff int
	// Mismatched names the primitives ("kv", "events", "state", "traces",
	// "vectors") whose rebuilt state differs from the live one.
	Mismatched []string
	// Reason says what differed first, when !Match.
	Reason string
}

// Replay rebuilds run id from its recorded history alone: starting from
// nothing (or, for a fork, from its parent's state at the fork step), it
// replays each step's recorded writes, checking on the way that every
// recorded write belongs to a step, that every step wrote something, and
// that the event log chains from first event to last. It then compares a
// hash of each rebuilt primitive with a hash of the live state read
// through the normal read path. On a mismatch it replays again step by
// step, comparing after every step with the run as of that step, to name
// the first step that differs.
func (db *DB) Replay(id RunID) (ReplayReport, error) {
	var rep ReplayReport
	r, err := db.Run(id)
	if err != nil {
		return rep, fmt.Errorf("replay: %w", err)
	}
	rs := r.st
	g, snap := db.store.ReadAt()
	steps := rs.Log.All()[:rs.Log.Visible(snap)]
	rep.Steps = len(steps)
	note := func(step int, reason string) {
		if rep.Reason == "" || step < rep.FirstDiff {
			rep.FirstDiff, rep.Reason = step, reason
		}
	}

	// One pass over the run's own writes, in key order with the newest
	// version of a key first: the last write of each key is what replaying
	// the steps in order leaves there, merged with the fork's base state.
	rebuilt := newStateHasher()
	clock := db.opts.clock
	var chain chainCheck
	emit := func(suffix, raw []byte, step int) {
		user, live := engine.DecodeValue(raw, clock)
		if !live {
			return
		}
		rebuilt.add(suffix, user)
		if len(suffix) > 1 && suffix[0] == keys.TagEvent {
			if reason := chain.next(suffix[1:], user); reason != "" {
				note(step, reason)
			}
		}
	}
	base, err := db.baseModel(g, rs)
	if err != nil {
		return rep, fmt.Errorf("replay: %w", err)
	}
	baseKeys := slices.Sorted(maps.Keys(base))
	flushBase := func(limit []byte) {
		for len(baseKeys) > 0 && (limit == nil || baseKeys[0] < string(limit)) {
			emit([]byte(baseKeys[0]), base[baseKeys[0]], 0)
			baseKeys = baseKeys[1:]
		}
	}
	wrote := make([]bool, len(steps))
	// Steps up to the compaction point kept only their latest writes.
	for i := range min(int(rs.compacted.Load()), len(wrote)) {
		wrote[i] = true
	}
	n := len(rs.scope)
	var last []byte
	err = db.walkRunWrites(g, rs, snap, steps, func(k, val []byte, v uint64, i int, ok bool) {
		if !ok {
			note(i, fmt.Sprintf("a write at version %d belongs to no step", v))
			return
		}
		wrote[i] = true
		if last != nil && bytes.Equal(k, last) {
			return // an older write of a key already replayed
		}
		last = k
		suffix := k[n:]
		flushBase(suffix)
		if len(baseKeys) > 0 && baseKeys[0] == string(suffix) {
			baseKeys = baseKeys[1:] // the run's own write replaces the base's
		}
		emit(suffix, val, i+1)
	})
	if err != nil {
		return rep, fmt.Errorf("replay: %w", err)
	}
	flushBase(nil)
	if i := slices.Index(wrote, false); i >= 0 {
		note(i+1, fmt.Sprintf("step %d (version %d) has no recorded writes", i+1, steps[i].Version))
	}

	live, err := db.liveHashes(r, snap)
	if err != nil {
		return rep, fmt.Errorf("replay: %w", err)
	}
	got := rebuilt.sums()
	for slot := range elemCount {
		if live[slot] != got[slot] {
			rep.Mismatched = append(rep.Mismatched, elemNames[slot])
		}
	}
	if rep.Reason == "" && len(rep.Mismatched) > 0 {
		h, err := db.loadHistory(r)
		if err != nil {
			return rep, fmt.Errorf("replay: %w", err)
		}
		rep.FirstDiff, rep.Reason = db.firstDiff(r, h)
	}
	rep.Match = rep.Reason == "" && len(rep.Mismatched) == 0
	return rep, nil
}

// chainCheck follows the event log in seq order and checks each event's
// hash and its link to the one before.
type chainCheck struct {
	started bool
	seq     uint64
	hash    [32]byte
}

func (c *chainCheck) next(k, user []byte) string {
	seq, ok := primitives.EventOfKey(k)
	if !ok {
		return ""
	}
	e, err := primitives.DecodeEvent(seq, user)
	if err != nil {
		return err.Error()
	}
	var prev [32]byte
	switch {
	case seq > 0 && (!c.started || c.seq != seq-1):
		return fmt.Sprintf("event %d has no predecessor", seq)
	case seq > 0:
		prev = c.hash
	}
	c.started, c.seq, c.hash = true, seq, e.Hash
	if e.PrevHash != prev || primitives.EventHash(seq, e.Type, e.Payload, e.Time, e.PrevHash) != e.Hash {
		return fmt.Sprintf("event %d does not chain", seq)
	}
	return ""
}

// history is a run's recorded writes, grouped by step.
type history struct {
	steps  []engine.StepRec
	writes [][]histWrite // per step
	base   model         // the state before step 1
}

type histWrite struct {
	suffix []byte // key after the scope: tag | primitive key
	raw    []byte // stored value, header included
}

// loadHistory collects every recorded write of the run's own scope, by
// step, at the current visible version.
func (db *DB) loadHistory(r *Run) (*history, error) {
	rs := r.st
	g, snap := db.store.ReadAt()
	h := &history{}
	h.steps = rs.Log.All()[:rs.Log.Visible(snap)]
	h.writes = make([][]histWrite, len(h.steps))
	n := len(rs.scope)
	err := db.walkRunWrites(g, rs, snap, h.steps, func(k, val []byte, _ uint64, i int, ok bool) {
		if ok { // a write of no step was reported by Replay's own pass
			h.writes[i] = append(h.writes[i], histWrite{suffix: k[n:], raw: val})
		}
	})
	if err != nil {
		return nil, err
	}
	h.base, err = db.baseModel(g, rs)
	return h, err
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// baseModel is a fork's state before its first step: its layers merged,
// nearest first, with raw stored values.
func (db *DB) baseModel(g *engine.Generation, rs *runState) (model, error) {
	m := model{}
	for i := len(rs.bases) - 1; i >= 0; i-- { // farthest first: nearer layers overwrite
		b := rs.bases[i]
		n := len(b.scope)
		it := db.iterScope(g, b.scope)
		var last []byte
		for it.SeekGE(b.scope, ^uint64(0)); it.Valid(); it.Next() {
			k := it.Key()
			if !bytes.HasPrefix(k, b.scope) {
				break
			}
			if it.Version() > b.version || (last != nil && bytes.Equal(k, last)) {
				continue
			}
			last = k
			m.set(k[n:], it.Value())
		}
		it.Close()
		if err := it.Err(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// model is a rebuilt scope: key suffix -> raw stored value.
type model map[string][]byte

func (m model) clone() model {
	out := make(model, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (m model) set(suffix, raw []byte) {
	if len(raw) > 0 && raw[0]&engine.FlagTombstone != 0 {
		delete(m, string(suffix))
		return
	}
	m[string(suffix)] = raw
}

// apply plays step k's writes onto m and checks them; it returns why the
// step does not replay ("" when it does).
func (m model) apply(h *history, k int) string {
	ws := h.writes[k]
	if len(ws) == 0 {
		return fmt.Sprintf("step %d (version %d) has no recorded writes", k+1, h.steps[k].Version)
	}
	for _, w := range ws {
		m.set(w.suffix, w.raw)
	}
	// Events appended by this step must chain to their predecessors.
	for _, w := range ws {
		if len(w.suffix) < 1 || w.suffix[0] != keys.TagEvent {
			continue
		}
		seq, ok := primitives.EventOfKey(w.suffix[1:])
		if !ok {
			continue
		}
		if reason := m.checkEvent(seq); reason != "" {
			return fmt.Sprintf("step %d: %s", k+1, reason)
		}
	}
	return ""
}

func eventSuffix(seq uint64) string {
	b := []byte{keys.TagEvent}
	b = append(b, primitives.EventKey(seq)...)
	return string(b)
}

func (m model) checkEvent(seq uint64) string {
	raw, ok := m[eventSuffix(seq)]
	if !ok {
		return fmt.Sprintf("event %d deleted", seq)
	}
	user, _ := engine.DecodeValue(raw, nil)
	e, err := primitives.DecodeEvent(seq, user)
	if err != nil {
		return err.Error()
	}
	var prev [32]byte
	if seq > 0 {
		praw, ok := m[eventSuffix(seq-1)]
		if !ok {
			return fmt.Sprintf("event %d has no predecessor", seq)
		}
		puser, _ := engine.DecodeValue(praw, nil)
		p, err := primitives.DecodeEvent(seq-1, puser)
		if err != nil {
			return err.Error()
		}
		prev = p.Hash
	}
	if e.PrevHash != prev || primitives.EventHash(seq, e.Type, e.Payload, e.Time, e.PrevHash) != e.Hash {
		return fmt.Sprintf("event %d does not chain", seq)
	}
	return ""
}

// slotOfTag maps a primitive's tag to its element slot.
func slotOfTag(tag byte) (int, bool) {
	switch tag {
	case keys.TagKV:
		return elemKV, true
	case keys.TagEvent:
		return elemEvents, true
	case keys.TagState:
		return elemState, true
	case keys.TagTrace:
		return elemTraces, true
	case keys.TagVector:
		return elemVectors, true
	}
	return 0, false
}

// stateHasher hashes a primitive's live (key, value) pairs in key order.
type stateHasher [elemCount]*xxh3.Hasher

func newStateHasher() stateHasher {
	var h stateHasher
	for i := range h {
		h[i] = xxh3.New()
	}
	return h
}

func (h stateHasher) add(suffix, user []byte) {
	slot, ok := slotOfTag(suffix[0])
	if !ok {
		return
	}
	var n [8]byte
	for _, b := range [][]byte{suffix, user} {
		putLen(n[:], len(b))
		h[slot].Write(n[:])
		h[slot].Write(b)
	}
}

func putLen(b []byte, n int) {
	for i := range 8 {
		b[i] = byte(n >> (8 * i))
	}
}

func (h stateHasher) sums() [elemCount]uint64 {
	var out [elemCount]uint64
	for i := range h {
		out[i] = h[i].Sum64()
	}
	return out
}

// hashes hashes the model's live values per primitive, judging TTLs by
// clock.
func (m model) hashes(clock func() time.Time) [elemCount]uint64 {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := newStateHasher()
	for _, k := range keys {
		if user, live := engine.DecodeValue(m[k], clock); live && len(k) > 0 {
			h.add([]byte(k), user)
		}
	}
	return h.sums()
}

// liveHashes hashes the run's state through the normal read path at
// snapshot.
func (db *DB) liveHashes(r *Run, snapshot uint64) ([elemCount]uint64, error) {
	h := newStateHasher()
	view := pinnedHandle(r, &viewAt{version: snapshot, live: true})
	err := view.View(func(tx *Tx) error {
		tx.clock = db.opts.clock // the live state: TTLs judged now
		n := len(tx.rs.scope)
		tx.scan(tx.rs.scope, func(k, v []byte, _ uint64) bool {
			if len(k) > n {
				h.add(k[n:], v)
			}
			return true
		})
		return nil
	})
	return h.sums(), err
}

// firstDiff replays again, comparing after every step with the run as of
// that step.
func (db *DB) firstDiff(r *Run, h *history) (int, string) {
	m := h.base.clone()
	for k, st := range h.steps {
		m.apply(h, k)
		at := func() time.Time { return time.Unix(0, st.Time) }
		want := m.hashes(at)
		view := pinnedHandle(r, &viewAt{step: k + 1, version: st.Version, at: time.Unix(0, st.Time)})
		got := newStateHasher()
		_ = view.View(func(tx *Tx) error {
			n := len(tx.rs.scope)
			tx.scan(tx.rs.scope, func(key, v []byte, _ uint64) bool {
				if len(key) > n {
					got.add(key[n:], v)
				}
				return true
			})
			return nil
		})
		g := got.sums()
		for slot := range elemCount {
			if g[slot] != want[slot] {
				return k + 1, fmt.Sprintf("%s differs after step %d", elemNames[slot], k+1)
			}
		}
	}
	return len(h.steps), "the live state differs from the state after the last step"
}
