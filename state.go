package inmem

import (
	"iter"

	"github.com/inmem-db/inmem/internal/keys"
	"github.com/inmem-db/inmem/primitives"
)

// Cell is a named state cell: Name, Value, Version (1 when created, +1 per
// write) and UpdatedAt.
type Cell = primitives.Cell

// Machine declares the states a cell may move between: Initial and, for
// each state, the states it may go to. A cell with a machine holds a state
// name as its value.
type Machine = primitives.Machine

// State holds the state cells of a run, shared scope or transaction.
type State struct{ h prim }

// State returns the run's state cells.
func (r *Run) State() *State { return &State{prim{run: r, tag: keys.TagState}} }

// State returns the state cells of the transaction's run.
func (tx *Tx) State() *State {
	tx.state.h = prim{tx: tx, tag: keys.TagState}
	return &tx.state
}

func (st *State) cell(write bool, fn func(t primitives.Txn) (Cell, error)) (Cell, error) {
	var c Cell
	err := st.h.do(write, func(t primitives.Txn) (err error) {
		c, err = fn(t)
		return err
	})
	return c, err
}

// Init creates a cell at version 1; ErrExists if it exists.
func (st *State) Init(name string, value []byte) (Cell, error) {
	return st.cell(true, func(t primitives.Txn) (Cell, error) { return primitives.InitCell(t, name, value) })
}

// Get returns a cell, or ErrNotFound.
func (st *State) Get(name string) (Cell, error) {
	return st.cell(false, func(t primitives.Txn) (Cell, error) { return primitives.GetCell(t, name) })
}

// CAS writes value if the cell is at version; otherwise ErrVersionMismatch,
// whose message gives the expected and the actual version.
func (st *State) CAS(name string, version uint64, value []byte) (Cell, error) {
	return st.cell(true, func(t primitives.Txn) (Cell, error) { return primitives.CASCell(t, name, version, value) })
}

// Set writes value whatever the version, creating the cell if needed.
func (st *State) Set(name string, value []byte) (Cell, error) {
	return st.cell(true, func(t primitives.Txn) (Cell, error) { return primitives.SetCell(t, name, value) })
}

// Transition computes the cell's next value from its current one and
// writes it atomically. Through a run it is retried on conflict, so fn may
// run more than once and must have no other effects.
func (st *State) Transition(name string, fn func(cur Cell) ([]byte, error)) (Cell, error) {
	return st.cell(true, func(t primitives.Txn) (Cell, error) { return primitives.TransitionCell(t, name, fn) })
}

// Define declares a state machine for a new cell and creates the cell in
// state m.Initial. From then on a write to a state the machine does not
// allow from the current one fails with ErrInvalidTransition.
func (st *State) Define(name string, m Machine) error {
	return st.h.do(true, func(t primitives.Txn) error { return primitives.DefineCell(t, name, m) })
}

// Machine returns the state machine declared for cell name (see Define),
// and false when the cell has none.
func (st *State) Machine(name string) (Machine, bool, error) {
	var m *Machine
	err := st.h.do(false, func(t primitives.Txn) (err error) {
		m, err = primitives.CellMachine(t, name)
		return err
	})
	if err != nil || m == nil {
		return Machine{}, false, err
	}
	return *m, true, nil
}

// Delete removes a cell (and its machine). An absent cell is not an error.
func (st *State) Delete(name string) error {
	return st.h.do(true, func(t primitives.Txn) error { return primitives.DeleteCell(t, name) })
}

// List returns every cell, by name.
func (st *State) List() ([]Cell, error) {
	var cs []Cell
	err := st.h.do(false, func(t primitives.Txn) (err error) {
		cs, err = primitives.ListCells(t)
		return err
	})
	return cs, err
}

// All returns every cell, by name, as a sequence for range:
//
//	for c, err := range run.State().All() {
//		if err != nil {
//			return err
//		}
//		use(c.Name, c.Value)
//	}
//
// Cells are read one at a time from the snapshot taken when the loop
// starts, so the loop may stop early without reading the rest. An error
// is yielded once, with a zero Cell, and ends the sequence. Through
// Tx.State the reads join the transaction and see its own writes, as List
// does; whether the rest of the loop sees what the loop body writes
// through the same transaction is unspecified.
func (st *State) All() iter.Seq2[Cell, error] {
	return scanSeq(st.h, primitives.ScanCells)
}
