package primitives

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Cell is a named, versioned value for coordination by compare-and-swap.
type Cell struct {
	Name      string
	Value     []byte
	Version   uint64 // 1 when created, +1 per write
	UpdatedAt time.Time
}

// Machine declares a cell's allowed transitions between named states. A
// cell's value is the name of its state.
type Machine struct {
	Initial string
	Allow   map[string][]string // from state -> states it may move to
}

const (
	cellEntry   = 'c' // + name -> version (8) | updated (8) | value
	cellMachine = 'm' // + name -> encoded Machine
)

func encodeCell(version uint64, updated time.Time, value []byte) []byte {
	return appendCell(make([]byte, 0, 16+len(value)), version, updated, value)
}

// appendCell appends a cell encoded as encodeCell does.
func appendCell(b []byte, version uint64, updated time.Time, value []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, version)
	b = binary.BigEndian.AppendUint64(b, uint64(unixNano(updated)))
	return append(b, value...)
}

// DecodeCell decodes a stored cell value.
func DecodeCell(name string, v []byte) (Cell, error) {
	d := decoder{b: v}
	c := Cell{Name: name, Version: d.u64(), UpdatedAt: fromUnixNano(int64(d.u64()))}
	if d.err != nil || c.Version == 0 {
		return Cell{}, fmt.Errorf("cell %q: malformed: %w", name, ErrCorruption)
	}
	c.Value = cloneNonEmpty(d.b)
	return c, nil
}

func encodeMachine(m Machine) []byte {
	b := appendString(nil, m.Initial)
	from := make([]string, 0, len(m.Allow))
	for f := range m.Allow {
		from = append(from, f)
	}
	sort.Strings(from)
	b = binary.AppendUvarint(b, uint64(len(from)))
	for _, f := range from {
		b = appendString(b, f)
		b = binary.AppendUvarint(b, uint64(len(m.Allow[f])))
		for _, to := range m.Allow[f] {
			b = appendString(b, to)
		}
	}
	return b
}

// DecodeMachine decodes a stored machine.
func DecodeMachine(v []byte) (Machine, error) {
	d := decoder{b: v}
	m := Machine{Initial: string(d.bytes()), Allow: map[string][]string{}}
	n := d.uvarint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		from := string(d.bytes())
		k := d.uvarint()
		if k > uint64(len(d.b)) {
			d.fail()
			break
		}
		tos := make([]string, 0, k)
		for j := uint64(0); j < k && d.err == nil; j++ {
			tos = append(tos, string(d.bytes()))
		}
		m.Allow[from] = tos
	}
	if err := d.done(); err != nil {
		return Machine{}, fmt.Errorf("state machine: %w", err)
	}
	return m, nil
}

// cellKey is the key of a cell's entry or machine, in scratch memory.
func cellKey(t Txn, kind byte, name string) []byte {
	return append(append(scratch(t, 1+len(name)), kind), name...)
}

func readCell(t Txn, name string) (Cell, bool, error) {
	v, ok := t.Get(cellKey(t, cellEntry, name))
	if !ok {
		return Cell{}, false, nil
	}
	c, err := DecodeCell(name, v)
	return c, err == nil, err
}

// CellMachine returns the machine declared for cell name, nil if none.
func CellMachine(t Txn, name string) (*Machine, error) { return readMachine(t, name) }

func readMachine(t Txn, name string) (*Machine, error) {
	v, ok := t.Get(cellKey(t, cellMachine, name))
	if !ok {
		return nil, nil
	}
	m, err := DecodeMachine(v)
	if err != nil {
		return nil, fmt.Errorf("cell %q: %w", name, err)
	}
	return &m, nil
}

func checkCellValue(v []byte) error { return checkPayload("cell value", v) }

// writeCell stores the next version of a cell after checking its machine.
func writeCell(t Txn, name string, cur *Cell, value []byte) (Cell, error) {
	m, err := readMachine(t, name)
	if err != nil {
		return Cell{}, err
	}
	if m != nil {
		from, to := "", string(value)
		if cur != nil {
			from = string(cur.Value)
		}
		if !slices.Contains(m.Allow[from], to) {
			return Cell{}, fmt.Errorf("cell %q: %q -> %q: %w", name, from, to, ErrInvalidTransition)
		}
	}
	c := Cell{Name: name, Value: cloneNonEmpty(value), Version: 1, UpdatedAt: fromUnixNano(t.Now().UnixNano())}
	if cur != nil {
		c.Version = cur.Version + 1
	}
	enc := appendCell(scratch(t, 16+len(value)), c.Version, c.UpdatedAt, value)
	if err := t.Put(cellKey(t, cellEntry, name), enc); err != nil {
		return Cell{}, err
	}
	return c, nil
}

// InitCell creates a cell at version 1, or fails with ErrExists.
func InitCell(t Txn, name string, value []byte) (Cell, error) {
	if err := checkName("cell name", name); err != nil {
		return Cell{}, err
	}
	if err := checkCellValue(value); err != nil {
		return Cell{}, err
	}
	_, ok, err := readCell(t, name)
	if err != nil {
		return Cell{}, err
	}
	if ok {
		return Cell{}, fmt.Errorf("cell %q: %w", name, ErrExists)
	}
	return writeCell(t, name, nil, value)
}

// GetCell returns a cell, or ErrNotFound.
func GetCell(t Txn, name string) (Cell, error) {
	if err := checkName("cell name", name); err != nil {
		return Cell{}, err
	}
	c, ok, err := readCell(t, name)
	if err != nil {
		return Cell{}, err
	}
	if !ok {
		return Cell{}, fmt.Errorf("cell %q: %w", name, ErrNotFound)
	}
	return c, nil
}

// CASCell writes value if the cell is at version, else fails with
// ErrVersionMismatch naming both versions.
func CASCell(t Txn, name string, version uint64, value []byte) (Cell, error) {
	if err := checkCellValue(value); err != nil {
		return Cell{}, err
	}
	cur, err := GetCell(t, name)
	if err != nil {
		return Cell{}, err
	}
	if cur.Version != version {
		return Cell{}, fmt.Errorf("cell %q: expected version %d, actual %d: %w", name, version, cur.Version, ErrVersionMismatch)
	}
	return writeCell(t, name, &cur, value)
}

// SetCell writes value whatever the cell's version, creating the cell if
// needed.
func SetCell(t Txn, name string, value []byte) (Cell, error) {
	if err := checkName("cell name", name); err != nil {
		return Cell{}, err
	}
	if err := checkCellValue(value); err != nil {
		return Cell{}, err
	}
	cur, ok, err := readCell(t, name)
	if err != nil {
		return Cell{}, err
	}
	if !ok {
		return writeCell(t, name, nil, value)
	}
	return writeCell(t, name, &cur, value)
}

// TransitionCell reads the cell, computes its next value with fn and writes
// it. The caller's transaction makes this atomic; its retry on conflict
// re-runs fn on the newer value.
func TransitionCell(t Txn, name string, fn func(cur Cell) ([]byte, error)) (Cell, error) {
	if fn == nil {
		return Cell{}, fmt.Errorf("transition: nil function: %w", ErrInvalidArgument)
	}
	cur, err := GetCell(t, name)
	if err != nil {
		return Cell{}, err
	}
	next, err := fn(cur)
	if err != nil {
		return Cell{}, err
	}
	if err := checkCellValue(next); err != nil {
		return Cell{}, err
	}
	return writeCell(t, name, &cur, next)
}

// DefineCell declares a state machine for a new cell and creates the cell
// in the machine's initial state.
func DefineCell(t Txn, name string, m Machine) error {
	if err := checkName("cell name", name); err != nil {
		return err
	}
	if err := checkName("initial state", m.Initial); err != nil {
		return err
	}
	for from, tos := range m.Allow {
		if err := checkName("state", from); err != nil {
			return err
		}
		for _, to := range tos {
			if err := checkName("state", to); err != nil {
				return err
			}
		}
	}
	if _, ok, err := readCell(t, name); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("cell %q: %w", name, ErrExists)
	}
	if err := t.Put(key(cellMachine, []byte(name)), encodeMachine(m)); err != nil {
		return err
	}
	c := Cell{Name: name, Value: []byte(m.Initial), Version: 1, UpdatedAt: fromUnixNano(t.Now().UnixNano())}
	return t.Put(key(cellEntry, []byte(name)), encodeCell(c.Version, c.UpdatedAt, c.Value))
}

// DeleteCell removes a cell and its machine. Deleting an absent cell is
// not an error, as for KV.
func DeleteCell(t Txn, name string) error {
	if err := checkName("cell name", name); err != nil {
		return err
	}
	if _, ok, err := readCell(t, name); err != nil || !ok {
		return err
	}
	if err := t.Delete(key(cellEntry, []byte(name))); err != nil {
		return err
	}
	if m, err := readMachine(t, name); err != nil {
		return err
	} else if m != nil {
		return t.Delete(key(cellMachine, []byte(name)))
	}
	return nil
}

// ListCells returns every cell, by name.
func ListCells(t Txn) ([]Cell, error) {
	var out []Cell
	var err error
	t.Scan([]byte{cellEntry}, nil, func(k, v []byte) bool {
		var c Cell
		if c, err = DecodeCell(string(k[1:]), v); err != nil {
			return false
		}
		out = append(out, c)
		return true
	})
	return out, err
}

// ScanCells calls fn with each cell, by name, until fn returns false. Each
// cell is decoded as the scan reaches it; fn may use t.
func ScanCells(t Txn, fn func(Cell) bool) error {
	var err error
	t.Scan([]byte{cellEntry}, nil, func(k, v []byte) bool {
		var c Cell
		if c, err = DecodeCell(string(k[1:]), v); err != nil {
			return false
		}
		return fn(c)
	})
	return err
}
