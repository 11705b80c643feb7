package occ

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A commit acknowledged before it is visible (an earlier version still in
// flight) holds back every new reader until it is: Visible, Begin and Stats
// return only once the earlier version is Done, and then cover it.
func TestAckedCommitHoldsReaders(t *testing.T) {
	for name, read := range map[string]func(o *Oracle) uint64{
		"Visible": (*Oracle).Visible,
		"Begin":   func(o *Oracle) uint64 { s := o.Begin(); o.End(s); return s },
		"Stats":   func(o *Oracle) uint64 { return o.Stats().Visible },
	} {
		t.Run(name, func(t *testing.T) {
			o := New(0)
			v1, err := o.CommitBlind(w(1, "a"), nil, nil)
			require.NoError(t, err)
			v2, err := o.CommitBlind(w(2, "b"), nil, nil)
			require.NoError(t, err)
			require.Equal(t, v1+1, v2)
			o.Done(v2)
			o.Ack(v2)
			require.Equal(t, uint64(0), o.visible.Load(), "v1 is in flight")
			require.Equal(t, v2, o.acked.Load())

			got := make(chan uint64, 1)
			go func() { got <- read(o) }()
			// A reader that returned now would read without v2's write,
			// which its writer has been told is committed.
			select {
			case s := <-got:
				t.Fatalf("read at %d while the acknowledged %d was not visible", s, v2)
			case <-time.After(20 * time.Millisecond):
			}
			o.Done(v1)
			require.Equal(t, v2, <-got)
		})
	}
}

// Ack of a version already visible records nothing: a lone writer's
// commits never write acked's line, which every reader reads.
func TestAckOfVisibleRecordsNothing(t *testing.T) {
	o := New(0)
	for range 3 {
		v, err := o.CommitBlind(w(1, "a"), nil, nil)
		require.NoError(t, err)
		o.Done(v)
		o.Ack(v)
	}
	require.Zero(t, o.acked.Load())
	require.Equal(t, uint64(3), o.Visible())

	// acked only grows: an older acknowledgement after a newer one
	// leaves it.
	v4, _ := o.CommitBlind(w(1, "a"), nil, nil)
	v5, _ := o.CommitBlind(w(1, "a"), nil, nil)
	v6, _ := o.CommitBlind(w(1, "a"), nil, nil)
	o.Done(v6)
	o.Ack(v6)
	o.Done(v5)
	o.Ack(v5)
	require.Equal(t, v6, o.acked.Load())
	o.Done(v4)
	require.Equal(t, v6, o.Visible())
}
