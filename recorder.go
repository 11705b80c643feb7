package inmem

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/zeebo/xxh3"
)

// Span tag and attributes of calls a Recorder made.
const (
	// RecordedTag tags every span a Recorder wrote.
	RecordedTag = "inmem.recorded"
	// AttrInputHash holds the xxh3 hash of the call's input, in hex.
	AttrInputHash = "inmem.input_hash"
	// AttrError holds the call's error message, if it failed.
	AttrError = "inmem.error"
)

// Recorder executes an agent's nondeterministic calls (LLM calls, tool
// calls) and records each one in the run's traces: name, input, the
// input's hash, output and error. A Replayer over the run later returns
// the recorded results in the same order without calling anything.
type Recorder struct {
	run  *Run
	tx   *Tx // set for a recorder of a transaction: spans join it
	kind SpanKind
}

// Recorder returns a recorder over the run's traces. Each call it records
// is a step of its own. Its spans are ToolCall spans; WithKind picks
// another kind.
func (r *Run) Recorder() *Recorder { return &Recorder{run: r, kind: ToolCall} }

// Recorder returns a recorder whose spans are written in tx, so a recorded
// call and the agent's other writes of the same step commit together, or
// not at all. A Replayer returns calls recorded this way in order with the
// others. Inside Run.Update, the call runs each time the update function
// runs: a conflict that retries the function calls it again (and only the
// committed attempt is recorded). With Run.Begin the call runs once, and a
// conflict at Commit leaves it made but unrecorded: the caller decides
// what that means.
func (tx *Tx) Recorder() *Recorder { return &Recorder{tx: tx, kind: ToolCall} }

// WithKind returns a recorder that writes spans of kind k (LLMCall, say).
func (rec *Recorder) WithKind(k SpanKind) *Recorder {
	return &Recorder{run: rec.run, tx: rec.tx, kind: k}
}

func inputHash(input []byte) string { return strconv.FormatUint(xxh3.Hash(input), 16) }

// writable returns why the recorder could not record a call now:
// checked before the call, so that a call whose result would be lost is
// never made.
func (rec *Recorder) writable() error {
	if tx := rec.tx; tx != nil {
		if err := tx.usable(true); err != nil {
			return err
		}
		return runWritable(tx.rs)
	}
	if err := rec.run.usable(); err != nil {
		return err
	}
	return runWritable(rec.run.st)
}

// runWritable fails when rs refuses data writes: a run that ended or was
// deleted.
func runWritable(rs *runState) error {
	switch st := RunStatus(rs.status.Load()); {
	case st == statusDeleted:
		return fmt.Errorf("run %s: %w", rs.id, ErrRunNotFound)
	case st.Ended():
		return fmt.Errorf("run %s is %s: %w", rs.id, st, ErrRunEnded)
	}
	return nil
}

// Do runs call and records it as a span named name, then returns what call
// returned. A run that ended (or a read-only transaction) is refused
// before call runs, with ErrRunEnded (ErrReadOnly). If the call
// succeeded but recording failed (the run ended meanwhile, say), the
// recording error is returned with the output: the call's effect
// happened, but a replay would not know it.
func (rec *Recorder) Do(name string, input []byte, call func() ([]byte, error)) ([]byte, error) {
	if call == nil {
		return nil, fmt.Errorf("record %q: nil call: %w", name, ErrInvalidArgument)
	}
	if name == "" {
		return nil, fmt.Errorf("record: empty call name: %w", ErrInvalidArgument)
	}
	if err := rec.writable(); err != nil {
		return nil, fmt.Errorf("record %q: %w", name, err)
	}
	db := rec.db()
	clock := db.opts.clock
	start := clock()
	out, cerr := call()
	s := Span{
		Kind:   rec.kind,
		Name:   name,
		Start:  start,
		End:    clock(),
		Status: StatusOK,
		Input:  input,
		Output: out,
		Attrs:  map[string]string{AttrInputHash: inputHash(input)},
		Tags:   []string{RecordedTag},
	}
	if cerr != nil {
		s.Status = StatusError
		s.Attrs[AttrError] = cerr.Error()
	}
	if _, err := rec.traces().Record(s); err != nil {
		return out, errors.Join(cerr, fmt.Errorf("record %q: %w", name, err))
	}
	return out, cerr
}

func (rec *Recorder) db() *DB {
	if rec.tx != nil {
		return rec.tx.db
	}
	return rec.run.db
}

func (rec *Recorder) traces() *Traces {
	if rec.tx != nil {
		return rec.tx.Traces()
	}
	return rec.run.Traces()
}

// DivergenceError reports a replayed call that is not the call recorded
// at that point: another name, another input, or a call past the end of
// the recording.
type DivergenceError struct {
	Step int    // 1-based position of the call in the recording
	Want string // what was recorded there
	Got  string // what the replayed code asked for
}

// Error describes where the replay diverged and what differed.
func (e *DivergenceError) Error() string {
	return fmt.Sprintf("replay diverged at call %d: recorded %s, got %s", e.Step, e.Want, e.Got)
}

// RecordedError is the error a recorded call returned, as a Replayer gives
// it back: the message survives, the original error value does not.
type RecordedError struct{ Msg string }

// Error returns the recorded message.
func (e *RecordedError) Error() string { return e.Msg }

// Replayer returns the recorded results of a run's calls in order, without
// calling anything: deterministic replay of an agent's LLM and tool calls.
// It is safe for concurrent use, but calls are matched in the order they
// reach it.
type Replayer struct {
	mu    sync.Mutex
	calls []Span
	next  int
}

// Replayer reads the calls a Recorder recorded in run id.
func (db *DB) Replayer(id RunID) (*Replayer, error) {
	r, err := db.Run(id)
	if err != nil {
		return nil, fmt.Errorf("replayer: %w", err)
	}
	spans, err := r.Traces().Query(SpanQuery{Tag: RecordedTag})
	if err != nil {
		return nil, fmt.Errorf("replayer: %w", err)
	}
	slices.SortFunc(spans, func(a, b Span) int { return cmpU64(uint64(a.ID), uint64(b.ID)) })
	return &Replayer{calls: spans}, nil
}

func describeCall(name string, hash string) string { return fmt.Sprintf("%q (input %s)", name, hash) }

// Do returns the output and error recorded for the next call, without
// running call (which may be nil). A name or input hash that differs from
// the record, or a call after the last one recorded, is a
// *DivergenceError; the replay position still advances past a mismatch,
// so later calls are matched against later records.
func (rp *Replayer) Do(name string, input []byte, call func() ([]byte, error)) ([]byte, error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	got := describeCall(name, inputHash(input))
	step := rp.next + 1
	if rp.next >= len(rp.calls) {
		return nil, &DivergenceError{Step: step, Want: "no more calls", Got: got}
	}
	s := rp.calls[rp.next]
	rp.next++
	if s.Name != name || s.Attrs[AttrInputHash] != inputHash(input) {
		return nil, &DivergenceError{Step: step, Want: describeCall(s.Name, s.Attrs[AttrInputHash]), Got: got}
	}
	out := slices.Clone(s.Output)
	if msg, failed := s.Attrs[AttrError]; failed {
		return out, &RecordedError{Msg: msg}
	}
	return out, nil
}

// Remaining returns how many recorded calls have not been replayed yet: a
// replay that finished with calls remaining did less than the original.
func (rp *Replayer) Remaining() int {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return len(rp.calls) - rp.next
}
