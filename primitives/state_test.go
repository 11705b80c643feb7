package primitives

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// requireCell checks c field by field; UpdatedAt by instant, since a
// decoded time need not carry the writer's location.
func requireCell(t *testing.T, c Cell, name, value string, version uint64, updated time.Time) {
	t.Helper()
	require.Equal(t, name, c.Name)
	require.Equal(t, value, string(c.Value))
	require.Equal(t, version, c.Version)
	require.True(t, c.UpdatedAt.Equal(updated), "UpdatedAt %v, want %v", c.UpdatedAt, updated)
}

// requireStored checks what a later reader sees, not only what the writing
// call returned.
func requireStored(t *testing.T, m *memTxn, name, value string, version uint64, updated time.Time) {
	t.Helper()
	c, err := GetCell(m, name)
	require.NoError(t, err)
	requireCell(t, c, name, value, version, updated)
}

func TestInitCell(t *testing.T) {
	m := newMemTxn()
	c, err := InitCell(m, "lock", []byte("free"))
	require.NoError(t, err)
	requireCell(t, c, "lock", "free", 1, testEpoch)
	requireStored(t, m, "lock", "free", 1, testEpoch)

	m.advance(time.Second)
	snap, w := m.snapshot(), m.writes
	_, err = InitCell(m, "lock", []byte("taken"))
	require.ErrorIs(t, err, ErrExists)
	m.requireUnchanged(t, snap, w)
	requireStored(t, m, "lock", "free", 1, testEpoch)

	// A name that extends another is a different cell.
	c, err = InitCell(m, "lock2", nil)
	require.NoError(t, err)
	requireCell(t, c, "lock2", "", 1, m.now)
	requireStored(t, m, "lock2", "", 1, m.now)
}

func TestCellBadInput(t *testing.T) {
	m := newMemTxn()
	_, err := InitCell(m, "c", []byte("v"))
	require.NoError(t, err)
	long := strings.Repeat("n", MaxName+1)
	big := make([]byte, MaxPayload+1)

	for _, tc := range []struct {
		name string
		call func() error
		want error
	}{
		{"init empty name", func() error { _, err := InitCell(m, "", nil); return err }, ErrInvalidArgument},
		{"init long name", func() error { _, err := InitCell(m, long, nil); return err }, ErrTooLarge},
		{"init big value", func() error { _, err := InitCell(m, "d", big); return err }, ErrTooLarge},
		{"get empty name", func() error { _, err := GetCell(m, ""); return err }, ErrInvalidArgument},
		{"get long name", func() error { _, err := GetCell(m, long); return err }, ErrTooLarge},
		{"set empty name", func() error { _, err := SetCell(m, "", nil); return err }, ErrInvalidArgument},
		{"set long name", func() error { _, err := SetCell(m, long, nil); return err }, ErrTooLarge},
		{"set big value", func() error { _, err := SetCell(m, "c", big); return err }, ErrTooLarge},
		{"cas empty name", func() error { _, err := CASCell(m, "", 1, nil); return err }, ErrInvalidArgument},
		{"cas big value", func() error { _, err := CASCell(m, "c", 1, big); return err }, ErrTooLarge},
		{"transition nil fn", func() error { _, err := TransitionCell(m, "c", nil); return err }, ErrInvalidArgument},
		{"transition big value", func() error {
			_, err := TransitionCell(m, "c", func(Cell) ([]byte, error) { return big, nil })
			return err
		}, ErrTooLarge},
		{"delete empty name", func() error { return DeleteCell(m, "") }, ErrInvalidArgument},
		{"delete long name", func() error { return DeleteCell(m, long) }, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap, w := m.snapshot(), m.writes
			require.ErrorIs(t, tc.call(), tc.want)
			m.requireUnchanged(t, snap, w)
		})
	}
	requireStored(t, m, "c", "v", 1, testEpoch)

	// A name of exactly MaxName is allowed; see TestLimitsAreInclusive
	// for values.
	_, err = InitCell(m, strings.Repeat("n", MaxName), []byte("v"))
	require.NoError(t, err)
}

func TestGetCellNotFound(t *testing.T) {
	m := newMemTxn()
	_, err := GetCell(m, "nope")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = InitCell(m, "nope2", nil)
	require.NoError(t, err)
	_, err = GetCell(m, "nope")
	require.ErrorIs(t, err, ErrNotFound, "a longer name must not satisfy a lookup")
}

func TestCASCell(t *testing.T) {
	m := newMemTxn()
	_, err := CASCell(m, "ctr", 1, []byte("x"))
	require.ErrorIs(t, err, ErrNotFound, "CAS does not create")

	_, err = InitCell(m, "ctr", []byte("v1"))
	require.NoError(t, err)
	for v := uint64(1); v < 12; v++ {
		m.advance(time.Second)
		c, err := CASCell(m, "ctr", v, []byte("v"+strconv.FormatUint(v+1, 10)))
		require.NoError(t, err)
		requireCell(t, c, "ctr", "v"+strconv.FormatUint(v+1, 10), v+1, m.now)
	}
	requireStored(t, m, "ctr", "v12", 12, m.now)

	// The versions are chosen so that neither is a substring of the
	// other or of the cell name, so the message must really name both.
	snap, w := m.snapshot(), m.writes
	_, err = CASCell(m, "ctr", 7, []byte("stale"))
	require.ErrorIs(t, err, ErrVersionMismatch)
	require.Contains(t, err.Error(), "7")
	require.Contains(t, err.Error(), "12")
	m.requireUnchanged(t, snap, w)

	_, err = CASCell(m, "ctr", 13, []byte("future"))
	require.ErrorIs(t, err, ErrVersionMismatch)
	require.Contains(t, err.Error(), "13")
	require.Contains(t, err.Error(), "12")
	_, err = CASCell(m, "ctr", 0, []byte("zero"))
	require.ErrorIs(t, err, ErrVersionMismatch)
	m.requireUnchanged(t, snap, w)
	requireStored(t, m, "ctr", "v12", 12, m.now)
}

func TestSetCell(t *testing.T) {
	m := newMemTxn()
	c, err := SetCell(m, "s", []byte("a"))
	require.NoError(t, err)
	requireCell(t, c, "s", "a", 1, testEpoch)

	for i, v := range []string{"b", "", "c"} {
		m.advance(time.Minute)
		c, err = SetCell(m, "s", []byte(v))
		require.NoError(t, err)
		requireCell(t, c, "s", v, uint64(i+2), m.now)
		requireStored(t, m, "s", v, uint64(i+2), m.now)
	}

	// Set on a cell made by Init continues its versions.
	_, err = InitCell(m, "i", []byte("x"))
	require.NoError(t, err)
	c, err = SetCell(m, "i", []byte("y"))
	require.NoError(t, err)
	require.Equal(t, uint64(2), c.Version)
}

func TestTransitionCell(t *testing.T) {
	m := newMemTxn()
	called := false
	_, err := TransitionCell(m, "n", func(Cell) ([]byte, error) { called = true; return nil, nil })
	require.ErrorIs(t, err, ErrNotFound)
	require.False(t, called, "fn must not run without a cell")

	_, err = InitCell(m, "n", []byte("0"))
	require.NoError(t, err)
	for i := 1; i <= 5; i++ {
		m.advance(time.Second)
		c, err := TransitionCell(m, "n", func(cur Cell) ([]byte, error) {
			require.Equal(t, uint64(i), cur.Version, "fn sees the current version")
			n, err := strconv.Atoi(string(cur.Value))
			require.NoError(t, err)
			return []byte(strconv.Itoa(n + 10)), nil
		})
		require.NoError(t, err)
		requireCell(t, c, "n", strconv.Itoa(i*10), uint64(i+1), m.now)
	}
	requireStored(t, m, "n", "50", 6, m.now)

	errBoom := errors.New("boom")
	snap, w := m.snapshot(), m.writes
	_, err = TransitionCell(m, "n", func(Cell) ([]byte, error) { return []byte("999"), errBoom })
	require.ErrorIs(t, err, errBoom)
	m.requireUnchanged(t, snap, w)
	requireStored(t, m, "n", "50", 6, m.now)
}

// Mutating what was handed in or handed out must not reach the store.
func TestCellValuesAreCopies(t *testing.T) {
	m := newMemTxn()
	buf := []byte("value")
	c, err := InitCell(m, "c", buf)
	require.NoError(t, err)
	copy(buf, "XXXXX")
	require.Equal(t, "value", string(c.Value))

	got, err := GetCell(m, "c")
	require.NoError(t, err)
	got.Value[0] = 'Z'
	list, err := ListCells(m)
	require.NoError(t, err)
	require.Equal(t, "value", string(list[0].Value))
	list[0].Value[0] = 'Z'
	requireStored(t, m, "c", "value", 1, testEpoch)
}

func jobMachine() Machine {
	return Machine{
		Initial: "queued",
		Allow: map[string][]string{
			"queued":  {"running", "cancelled"},
			"running": {"done", "failed", "queued"},
		},
	}
}

func TestDefineCellMachine(t *testing.T) {
	m := newMemTxn()
	require.NoError(t, DefineCell(m, "job", jobMachine()))
	requireStored(t, m, "job", "queued", 1, testEpoch)

	forbidden := func(write func() error) {
		t.Helper()
		snap, w := m.snapshot(), m.writes
		require.ErrorIs(t, write(), ErrInvalidTransition)
		m.requireUnchanged(t, snap, w)
	}
	// Every write path is held to the machine.
	forbidden(func() error { _, err := CASCell(m, "job", 1, []byte("done")); return err })
	forbidden(func() error { _, err := SetCell(m, "job", []byte("done")); return err })
	forbidden(func() error { _, err := SetCell(m, "job", []byte("queued")); return err }) // no self-loop declared
	forbidden(func() error {
		_, err := TransitionCell(m, "job", func(Cell) ([]byte, error) { return []byte("unknown"), nil })
		return err
	})

	m.advance(time.Second)
	c, err := CASCell(m, "job", 1, []byte("running"))
	require.NoError(t, err)
	requireCell(t, c, "job", "running", 2, m.now)
	c, err = SetCell(m, "job", []byte("queued"))
	require.NoError(t, err)
	require.Equal(t, uint64(3), c.Version)
	c, err = TransitionCell(m, "job", func(cur Cell) ([]byte, error) {
		require.Equal(t, "queued", string(cur.Value))
		return []byte("running"), nil
	})
	require.NoError(t, err)
	require.Equal(t, uint64(4), c.Version)
	_, err = SetCell(m, "job", []byte("done"))
	require.NoError(t, err)
	// "done" has no outgoing transitions.
	forbidden(func() error { _, err := SetCell(m, "job", []byte("running")); return err })
	forbidden(func() error { _, err := SetCell(m, "job", []byte("done")); return err })
	requireStored(t, m, "job", "done", 5, m.now)

	// The machine belongs to its cell only, not to names sharing a prefix.
	_, err = SetCell(m, "job2", []byte("anything"))
	require.NoError(t, err)
	_, err = SetCell(m, "jo", []byte("anything"))
	require.NoError(t, err)
}

func TestDefineCellErrors(t *testing.T) {
	m := newMemTxn()
	require.NoError(t, DefineCell(m, "job", jobMachine()))
	_, err := InitCell(m, "plain", []byte("x"))
	require.NoError(t, err)
	long := strings.Repeat("s", MaxName+1)

	for _, tc := range []struct {
		name string
		cell string
		mach Machine
		want error
	}{
		{"existing machine cell", "job", jobMachine(), ErrExists},
		{"existing plain cell", "plain", jobMachine(), ErrExists},
		{"empty initial", "new", Machine{Allow: map[string][]string{"a": {"b"}}}, ErrInvalidArgument},
		{"empty name", "", jobMachine(), ErrInvalidArgument},
		{"long name", long, jobMachine(), ErrTooLarge},
		{"long initial", "new", Machine{Initial: long}, ErrTooLarge},
		{"empty from state", "new", Machine{Initial: "a", Allow: map[string][]string{"": {"a"}}}, ErrInvalidArgument},
		{"empty to state", "new", Machine{Initial: "a", Allow: map[string][]string{"a": {"b", ""}}}, ErrInvalidArgument},
		{"long to state", "new", Machine{Initial: "a", Allow: map[string][]string{"a": {long}}}, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap, w := m.snapshot(), m.writes
			require.ErrorIs(t, DefineCell(m, tc.cell, tc.mach), tc.want)
			m.requireUnchanged(t, snap, w)
		})
	}
	requireStored(t, m, "plain", "x", 1, testEpoch)
	requireStored(t, m, "job", "queued", 1, testEpoch)

	// A machine with no transitions at all is legal and freezes the cell.
	require.NoError(t, DefineCell(m, "frozen", Machine{Initial: "ice"}))
	_, err = SetCell(m, "frozen", []byte("water"))
	require.ErrorIs(t, err, ErrInvalidTransition)
}

func TestDeleteCell(t *testing.T) {
	m := newMemTxn()
	require.NoError(t, DeleteCell(m, "absent"))

	_, err := InitCell(m, "a", []byte("1"))
	require.NoError(t, err)
	_, err = InitCell(m, "ab", []byte("2"))
	require.NoError(t, err)
	require.NoError(t, DeleteCell(m, "a"))
	_, err = GetCell(m, "a")
	require.ErrorIs(t, err, ErrNotFound)
	requireStored(t, m, "ab", "2", 1, testEpoch)
	require.NoError(t, DeleteCell(m, "a"), "deleting twice is fine")

	// Re-creating starts over at version 1.
	c, err := InitCell(m, "a", []byte("again"))
	require.NoError(t, err)
	require.Equal(t, uint64(1), c.Version)

	// Deleting a machine cell drops the machine too, so the name is free
	// for a plain cell, or for a different machine.
	require.NoError(t, DefineCell(m, "job", jobMachine()))
	require.NoError(t, DeleteCell(m, "job"))
	_, ok := m.Get(key(cellMachine, []byte("job")))
	require.False(t, ok, "machine left behind")
	c, err = InitCell(m, "job", []byte("done"))
	require.NoError(t, err)
	requireCell(t, c, "job", "done", 1, testEpoch)
	_, err = SetCell(m, "job", []byte("anything"))
	require.NoError(t, err)
	require.NoError(t, DeleteCell(m, "job"))
	require.NoError(t, DefineCell(m, "job", Machine{Initial: "x", Allow: map[string][]string{"x": {"y"}}}))
	_, err = SetCell(m, "job", []byte("queued"))
	require.ErrorIs(t, err, ErrInvalidTransition, "the old machine must not linger")
	_, err = SetCell(m, "job", []byte("y"))
	require.NoError(t, err)

	m.readOnly = true
	require.ErrorIs(t, DeleteCell(m, "ab"), ErrReadOnly)
	require.NoError(t, DeleteCell(m, "absent"), "a no-op delete needs no write")
}

func TestListCells(t *testing.T) {
	m := newMemTxn()
	list, err := ListCells(m)
	require.NoError(t, err)
	require.Empty(t, list)

	names := []string{"b", "a", "ab", "a\x00", "B", "é", "aa"}
	for i, n := range names {
		m.advance(time.Second)
		_, err := SetCell(m, n, []byte(strconv.Itoa(i)))
		require.NoError(t, err)
	}
	require.NoError(t, DefineCell(m, "m", Machine{Initial: "s"}))
	_, err = SetCell(m, "aa", []byte("again"))
	require.NoError(t, err)

	list, err = ListCells(m)
	require.NoError(t, err)
	var got []string
	for _, c := range list {
		got = append(got, c.Name)
		stored, err := GetCell(m, c.Name)
		require.NoError(t, err)
		require.Equal(t, stored, c)
	}
	// Byte order of the names; machines are not cells of their own.
	require.Equal(t, []string{"B", "a", "a\x00", "aa", "ab", "b", "m", "é"}, got)
	require.Equal(t, uint64(2), list[3].Version)
	require.Equal(t, "again", string(list[3].Value))

	require.NoError(t, DeleteCell(m, "ab"))
	list, err = ListCells(m)
	require.NoError(t, err)
	require.Len(t, list, 7)
}

func TestCellCorruption(t *testing.T) {
	m := newMemTxn()
	_, err := InitCell(m, "short", []byte("v"))
	require.NoError(t, err)
	_, err = InitCell(m, "zero", []byte("v"))
	require.NoError(t, err)
	m.data[string(key(cellEntry, []byte("short")))] = []byte{0, 0, 0, 1}
	m.data[string(key(cellEntry, []byte("zero")))] = encodeCell(0, testEpoch, []byte("v"))

	for _, name := range []string{"short", "zero"} {
		snap, w := m.snapshot(), m.writes
		_, err = GetCell(m, name)
		require.ErrorIs(t, err, ErrCorruption, name)
		_, err = InitCell(m, name, []byte("x"))
		require.ErrorIs(t, err, ErrCorruption, name)
		_, err = SetCell(m, name, []byte("x"))
		require.ErrorIs(t, err, ErrCorruption, name)
		_, err = CASCell(m, name, 1, []byte("x"))
		require.ErrorIs(t, err, ErrCorruption, name)
		require.ErrorIs(t, DefineCell(m, name, Machine{Initial: "a"}), ErrCorruption, name)
		require.ErrorIs(t, DeleteCell(m, name), ErrCorruption, name)
		m.requireUnchanged(t, snap, w)
	}
	_, err = ListCells(m)
	require.ErrorIs(t, err, ErrCorruption)

	// A damaged machine blocks writes rather than letting them through.
	require.NoError(t, DefineCell(m, "job", jobMachine()))
	m.data[string(key(cellMachine, []byte("job")))] = []byte{0x05, 'a'}
	_, err = SetCell(m, "job", []byte("running"))
	require.ErrorIs(t, err, ErrCorruption)
	_, err = GetCell(m, "job")
	require.NoError(t, err, "reading the value does not need the machine")
}

// Reads must not write: an engine serves them from read-only transactions.
func TestCellReadOnlyTxn(t *testing.T) {
	m := newMemTxn()
	require.NoError(t, DefineCell(m, "job", jobMachine()))
	_, err := InitCell(m, "c", []byte("v"))
	require.NoError(t, err)
	m.readOnly = true

	_, err = GetCell(m, "c")
	require.NoError(t, err)
	list, err := ListCells(m)
	require.NoError(t, err)
	require.Len(t, list, 2)

	_, err = InitCell(m, "d", nil)
	require.ErrorIs(t, err, ErrReadOnly)
	_, err = SetCell(m, "c", nil)
	require.ErrorIs(t, err, ErrReadOnly)
	_, err = CASCell(m, "c", 1, nil)
	require.ErrorIs(t, err, ErrReadOnly)
	_, err = TransitionCell(m, "job", func(Cell) ([]byte, error) { return []byte("running"), nil })
	require.ErrorIs(t, err, ErrReadOnly)
	require.ErrorIs(t, DefineCell(m, "new", jobMachine()), ErrReadOnly)
}
