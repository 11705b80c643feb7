package inmem

import (
	"iter"

	"github.com/inmem-db/inmem/internal/keys"
	"github.com/inmem-db/inmem/primitives"
)

// Event is one entry of a run's append-only, hash-chained event log: Seq
// (0-based, gapless), Type, Payload, Time, PrevHash and Hash (SHA-256 over
// seq, type, payload, time and the previous hash; all-zero PrevHash for
// seq 0).
type Event = primitives.Event

// ChainReport is what Events.Verify found: OK, the number of events
// checked, and when not OK the first bad sequence number and why.
type ChainReport = primitives.ChainReport

// Events is the event log of a run, shared scope or transaction. Events
// are never updated or deleted.
type Events struct{ h prim }

// Events returns the run's event log.
func (r *Run) Events() *Events { return &Events{prim{run: r, tag: keys.TagEvent}} }

// Events returns the event log of the transaction's run.
func (tx *Tx) Events() *Events {
	tx.events.h = prim{tx: tx, tag: keys.TagEvent}
	return &tx.events
}

// Append adds an event with the next sequence number. Appends in aborted
// transactions leave no gap.
func (ev *Events) Append(typ string, payload []byte) (Event, error) {
	var e Event
	err := ev.h.do(true, func(t primitives.Txn) (err error) {
		e, err = primitives.AppendEvent(t, typ, payload)
		return err
	})
	return e, err
}

// Get returns the event at seq, or ErrNotFound.
func (ev *Events) Get(seq uint64) (Event, error) {
	var e Event
	err := ev.h.do(false, func(t primitives.Txn) (err error) {
		e, err = primitives.GetEvent(t, seq)
		return err
	})
	return e, err
}

// Range returns the events with from <= seq < to, in order.
func (ev *Events) Range(from, to uint64) ([]Event, error) {
	var es []Event
	err := ev.h.do(false, func(t primitives.Txn) (err error) {
		es, err = primitives.RangeEvents(t, from, to)
		return err
	})
	return es, err
}

// Len returns the number of events.
func (ev *Events) Len() (uint64, error) {
	var n uint64
	err := ev.h.do(false, func(t primitives.Txn) (err error) {
		n, err = primitives.EventLen(t)
		return err
	})
	return n, err
}

// ByType returns the events of one type, in order, from an index.
func (ev *Events) ByType(typ string) ([]Event, error) {
	var es []Event
	err := ev.h.do(false, func(t primitives.Txn) (err error) {
		es, err = primitives.EventsByType(t, typ)
		return err
	})
	return es, err
}

// Verify recomputes the hash chain and reports the first event that does
// not check out.
func (ev *Events) Verify() (ChainReport, error) {
	var rep ChainReport
	err := ev.h.do(false, func(t primitives.Txn) (err error) {
		rep, err = primitives.VerifyEvents(t)
		return err
	})
	return rep, err
}

// All returns the events with seq >= from, in seq order, as a sequence for
// range:
//
//	for e, err := range run.Events().All(0) {
//		if err != nil {
//			return err
//		}
//		use(e)
//	}
//
// Events are read one at a time from the snapshot taken when the loop
// starts, so the loop may stop early (break or return) without reading the
// rest, and a long loop keeps that snapshot's memory alive until it ends.
// An error (ErrClosed, a damaged event, ...) is yielded once, with a zero
// Event, and ends the sequence. Through Tx.Events the reads join the
// transaction and see its own appends, as Range does; appends the loop
// body makes are not seen by the rest of the loop.
func (ev *Events) All(from uint64) iter.Seq2[Event, error] {
	return scanSeq(ev.h, func(t primitives.Txn, fn func(Event) bool) error {
		return primitives.ScanEvents(t, from, fn)
	})
}

// AllByType is ByType as a sequence for range: the events of one type, in
// seq order, each read from the log when the loop reaches it. It reads
// from one snapshot, stops early and yields an error as All does.
func (ev *Events) AllByType(typ string) iter.Seq2[Event, error] {
	return scanSeq(ev.h, func(t primitives.Txn, fn func(Event) bool) error {
		return primitives.ScanEventsByType(t, typ, fn)
	})
}

// scanSeq turns a primitive's scan into a sequence read in one read-only
// transaction (or the handle's own transaction). The loop body runs inside
// the scan, but no lock is held then: the transaction only pins its
// snapshot.
func scanSeq[T any](h prim, scan func(t primitives.Txn, fn func(T) bool) error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		stopped := false
		var ended error
		err := h.do(false, func(t primitives.Txn) error {
			return scan(t, func(v T) bool {
				if !yield(v, nil) {
					stopped = true
					return false
				}
				if h.tx != nil && h.tx.done {
					// The loop body committed or discarded the transaction
					// the scan reads through, whose buffers are released.
					ended = ErrTxDone
					return false
				}
				return true
			})
		})
		if err == nil {
			err = ended
		}
		if err != nil && !stopped {
			var zero T
			yield(zero, err)
		}
	}
}
