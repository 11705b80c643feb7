package primitives

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func evKey(seq uint64) string { return string(key(evEntry, be64(seq))) }

// appendLog appends n events of type "step" with distinct, non-empty
// payloads, moving the clock between them so every event's time differs.
func appendLog(t *testing.T, m *memTxn, n int) []Event {
	t.Helper()
	var out []Event
	for i := range n {
		m.advance(time.Millisecond + 7*time.Nanosecond)
		e, err := AppendEvent(m, "step", fmt.Appendf(nil, "payload-%d", i))
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

func TestAppendEventChain(t *testing.T) {
	m := newMemTxn()
	n, err := EventLen(m)
	require.NoError(t, err)
	require.Zero(t, n)

	types := []string{"start", "llm", "tool", "llm", "end"}
	var prev [32]byte
	seen := map[[32]byte]bool{}
	for i, typ := range types {
		m.advance(time.Duration(i+1) * time.Second)
		payload := []byte(typ + "-payload")
		e, err := AppendEvent(m, typ, payload)
		require.NoError(t, err)

		require.Equal(t, uint64(i), e.Seq, "sequence numbers must be 0-based and gapless")
		require.Equal(t, typ, e.Type)
		require.Equal(t, payload, e.Payload)
		require.True(t, e.Time.Equal(m.now), "event time is the txn clock: got %v want %v", e.Time, m.now)
		require.Equal(t, prev, e.PrevHash, "each event links to the previous one's hash")
		require.Equal(t, EventHash(uint64(i), typ, payload, m.now, prev), e.Hash)
		require.False(t, seen[e.Hash])
		seen[e.Hash] = true
		prev = e.Hash

		n, err := EventLen(m)
		require.NoError(t, err)
		require.Equal(t, uint64(i+1), n)

		// What Append returns is exactly what a reader decodes later.
		got, err := GetEvent(m, uint64(i))
		require.NoError(t, err)
		require.Equal(t, e, got)
	}
}

// The hash must commit to every field and to the boundary between type and
// payload; otherwise Verify could not see those fields being altered.
func TestEventHashCoversEveryField(t *testing.T) {
	prev := [32]byte{1, 2, 3}
	base := EventHash(4, "ab", []byte("c"), testEpoch, prev)
	require.Equal(t, base, EventHash(4, "ab", []byte("c"), testEpoch, prev))

	var prev2 [32]byte
	prev2[31] = 1
	for name, h := range map[string][32]byte{
		"seq":      EventHash(5, "ab", []byte("c"), testEpoch, prev),
		"type":     EventHash(4, "ax", []byte("c"), testEpoch, prev),
		"payload":  EventHash(4, "ab", []byte("d"), testEpoch, prev),
		"time":     EventHash(4, "ab", []byte("c"), testEpoch.Add(time.Nanosecond), prev),
		"prev":     EventHash(4, "ab", []byte("c"), testEpoch, prev2),
		"boundary": EventHash(4, "a", []byte("bc"), testEpoch, prev),
	} {
		require.NotEqual(t, base, h, "hash ignores %s", name)
	}
	// Without the type's length these two would hash the same bytes: the
	// second type absorbs the first payload's length prefix.
	require.NotEqual(t,
		EventHash(0, "a", make([]byte, 8), testEpoch, prev),
		EventHash(0, "a\x00\x00\x00\x00\x00\x00\x00\x08", nil, testEpoch, prev))
	// Only the instant counts, not the location it is expressed in.
	require.Equal(t, base, EventHash(4, "ab", []byte("c"), testEpoch.In(time.FixedZone("x", 3600)), prev))
}

// Stored chains are checked against this layout, so it must not drift: a
// change would make every existing log fail Verify.
func TestEventHashLayout(t *testing.T) {
	prev := [32]byte{9: 9}
	at := time.Unix(1700000000, 123456789)
	var b []byte
	b = binary.BigEndian.AppendUint64(b, 42)
	b = binary.BigEndian.AppendUint64(b, 3)
	b = append(b, "llm"...)
	b = binary.BigEndian.AppendUint64(b, 2)
	b = append(b, "hi"...)
	b = binary.BigEndian.AppendUint64(b, uint64(at.UnixNano()))
	b = append(b, prev[:]...)
	require.Equal(t, sha256.Sum256(b), EventHash(42, "llm", []byte("hi"), at, prev))

	// The zero time hashes as 0 nanoseconds.
	b = binary.BigEndian.AppendUint64(nil, 0)
	b = binary.BigEndian.AppendUint64(b, 1)
	b = append(b, 't')
	b = binary.BigEndian.AppendUint64(b, 0)
	b = binary.BigEndian.AppendUint64(b, 0)
	b = append(b, make([]byte, 32)...)
	require.Equal(t, sha256.Sum256(b), EventHash(0, "t", nil, time.Time{}, [32]byte{}))
}

// Callers may reuse their buffers and may scribble on what they get back;
// neither may reach the stored log.
func TestEventPayloadsAreCopies(t *testing.T) {
	m := newMemTxn()
	buf := []byte("original")
	e, err := AppendEvent(m, "t", buf)
	require.NoError(t, err)
	copy(buf, "XXXXXXXX")
	require.Equal(t, []byte("original"), e.Payload)

	got, err := GetEvent(m, 0)
	require.NoError(t, err)
	require.Equal(t, []byte("original"), got.Payload)
	got.Payload[0] = 'Z'

	r, err := RangeEvents(m, 0, 1)
	require.NoError(t, err)
	require.Equal(t, []byte("original"), r[0].Payload)
	r[0].Payload[0] = 'Z'

	bt, err := EventsByType(m, "t")
	require.NoError(t, err)
	require.Equal(t, []byte("original"), bt[0].Payload)

	rep, err := VerifyEvents(m)
	require.NoError(t, err)
	require.True(t, rep.OK, rep.Reason)
}

func TestAppendEventEmptyPayload(t *testing.T) {
	m := newMemTxn()
	for _, p := range [][]byte{nil, {}} {
		e, err := AppendEvent(m, "empty", p)
		require.NoError(t, err)
		require.Nil(t, e.Payload)
		got, err := GetEvent(m, e.Seq)
		require.NoError(t, err)
		require.Equal(t, e, got)
	}
	rep, err := VerifyEvents(m)
	require.NoError(t, err)
	require.True(t, rep.OK, rep.Reason)
	require.Equal(t, uint64(2), rep.Len)
}

func TestGetEventNotFound(t *testing.T) {
	m := newMemTxn()
	_, err := GetEvent(m, 0)
	require.ErrorIs(t, err, ErrNotFound)
	appendLog(t, m, 3)
	_, err = GetEvent(m, 3)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = GetEvent(m, ^uint64(0))
	require.ErrorIs(t, err, ErrNotFound)
}

func TestRangeEvents(t *testing.T) {
	m := newMemTxn()
	all := appendLog(t, m, 6)

	for _, tc := range []struct {
		from, to uint64
		want     []Event
	}{
		{0, 6, all},
		{0, 100, all},
		{2, 4, all[2:4]},
		{4, 100, all[4:]},
		{5, 6, all[5:]},
		{0, 0, nil},
		{3, 3, nil},
		{6, 6, nil},
		{6, 10, nil},
		{10, 20, nil},
		{0, ^uint64(0), all},
	} {
		got, err := RangeEvents(m, tc.from, tc.to)
		require.NoError(t, err, "[%d, %d)", tc.from, tc.to)
		if tc.want == nil {
			require.Empty(t, got, "[%d, %d)", tc.from, tc.to)
			continue
		}
		require.Equal(t, tc.want, got, "[%d, %d)", tc.from, tc.to)
	}

	_, err := RangeEvents(m, 4, 3)
	require.ErrorIs(t, err, ErrInvalidArgument)
	_, err = RangeEvents(m, 1, 0)
	require.ErrorIs(t, err, ErrInvalidArgument)

	got, err := RangeEvents(newMemTxn(), 0, 10)
	require.NoError(t, err)
	require.Empty(t, got)
}

// Types that are prefixes of one another, and types long enough for a
// multi-byte length prefix, must each see only their own events.
func TestEventsByType(t *testing.T) {
	m := newMemTxn()
	long127 := strings.Repeat("x", 127)
	long128 := strings.Repeat("x", 128)
	seq := []string{"a", "ab", "a", "b", "ab", "abc", long127, "a", long128, "", "b"}
	want := map[string][]uint64{}
	n := uint64(0)
	for _, typ := range seq {
		if typ == "" {
			continue
		}
		_, err := AppendEvent(m, typ, []byte(typ))
		require.NoError(t, err)
		want[typ] = append(want[typ], n)
		n++
	}
	for typ, seqs := range want {
		got, err := EventsByType(m, typ)
		require.NoError(t, err)
		var gotSeqs []uint64
		for _, e := range got {
			require.Equal(t, typ, e.Type)
			require.Equal(t, []byte(typ), e.Payload)
			gotSeqs = append(gotSeqs, e.Seq)
		}
		require.Equal(t, seqs, gotSeqs, "type %.10q", typ)
	}

	got, err := EventsByType(m, "abcd")
	require.NoError(t, err)
	require.Empty(t, got)
	got, err = EventsByType(m, "x")
	require.NoError(t, err)
	require.Empty(t, got)

	_, err = EventsByType(m, "")
	require.ErrorIs(t, err, ErrInvalidArgument)
	_, err = EventsByType(m, strings.Repeat("t", MaxName+1))
	require.ErrorIs(t, err, ErrTooLarge)
}

func TestVerifyEventsGoodLog(t *testing.T) {
	rep, err := VerifyEvents(newMemTxn())
	require.NoError(t, err)
	require.Equal(t, ChainReport{OK: true}, rep)

	m := newMemTxn()
	appendLog(t, m, 6)
	rep, err = VerifyEvents(m)
	require.NoError(t, err)
	require.Equal(t, ChainReport{OK: true, Len: 6}, rep)
}

// Each damage is applied to a fresh, good log of 6 events; Verify must name
// the first event at which the log stops being trustworthy.
func TestVerifyEventsNamesFirstBad(t *testing.T) {
	// reseal re-encodes event seq with its hash recomputed, so the event is
	// self-consistent and only the chain link can give it away.
	reseal := func(m *memTxn, seq uint64, edit func(e *Event)) {
		e, err := GetEvent(m, seq)
		require.NoError(t, err)
		edit(&e)
		e.Hash = EventHash(e.Seq, e.Type, e.Payload, e.Time, e.PrevHash)
		m.data[evKey(seq)] = encodeEvent(&e)
	}
	for _, tc := range []struct {
		name     string
		damage   func(m *memTxn)
		firstBad uint64
		len      uint64 // events that checked out before the verdict
	}{
		{"flip payload byte of event 3", func(m *memTxn) {
			v := m.data[evKey(3)]
			v[len(v)-1] ^= 1
		}, 3, 3},
		{"flip stored hash of event 3", func(m *memTxn) {
			m.data[evKey(3)][8+32] ^= 0x80
		}, 3, 3},
		{"flip time of event 3", func(m *memTxn) {
			m.data[evKey(3)][7] ^= 1
		}, 3, 3},
		{"flip type of event 0", func(m *memTxn) {
			m.data[evKey(0)][8+64+1] ^= 1
		}, 0, 0},
		{"truncate event 1 so it cannot be decoded", func(m *memTxn) {
			m.data[evKey(1)] = m.data[evKey(1)][:10]
		}, 1, 1},
		{"delete event 2", func(m *memTxn) {
			require.NoError(t, m.Delete([]byte(evKey(2))))
		}, 2, 2},
		{"delete event 0", func(m *memTxn) {
			require.NoError(t, m.Delete([]byte(evKey(0))))
		}, 0, 0},
		{"delete last event", func(m *memTxn) {
			require.NoError(t, m.Delete([]byte(evKey(5))))
		}, 5, 5},
		{"rewrite event 3 with a valid hash", func(m *memTxn) {
			reseal(m, 3, func(e *Event) { e.Payload = []byte("forged") })
		}, 4, 4},
		{"rewrite event 3 with a wrong prev hash", func(m *memTxn) {
			reseal(m, 3, func(e *Event) { e.PrevHash[0] ^= 1 })
		}, 3, 3},
		{"rewrite last event with a valid hash", func(m *memTxn) {
			reseal(m, 5, func(e *Event) { e.Payload = []byte("forged") })
		}, 5, 6},
		{"change head hash", func(m *memTxn) {
			m.data[string([]byte{evHead})][39] ^= 1
		}, 5, 6},
		{"raise head count", func(m *memTxn) {
			binary.BigEndian.PutUint64(m.data[string([]byte{evHead})], 7)
		}, 6, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemTxn()
			appendLog(t, m, 6)
			tc.damage(m)
			rep, err := VerifyEvents(m)
			require.NoError(t, err, "damage to events is a report, not an error")
			require.False(t, rep.OK)
			require.Equal(t, tc.firstBad, rep.FirstBad, rep.Reason)
			require.NotEmpty(t, rep.Reason)
			require.Equal(t, tc.len, rep.Len)
		})
	}
}

// A head that counts fewer events than the log holds: the first event the
// head does not account for (seq = the head's count) is the first bad one.
// A seq past the end of the log would name no event at all.
func TestVerifyEventsHeadBehindLog(t *testing.T) {
	t.Run("head count lowered", func(t *testing.T) {
		m := newMemTxn()
		evs := appendLog(t, m, 6)
		head := binary.BigEndian.AppendUint64(nil, 5)
		m.data[string([]byte{evHead})] = append(head, evs[4].Hash[:]...)
		rep, err := VerifyEvents(m)
		require.NoError(t, err)
		require.False(t, rep.OK)
		require.Equal(t, uint64(5), rep.FirstBad, rep.Reason)
	})
	t.Run("head missing", func(t *testing.T) {
		m := newMemTxn()
		appendLog(t, m, 3)
		require.NoError(t, m.Delete([]byte{evHead}))
		rep, err := VerifyEvents(m)
		require.NoError(t, err)
		require.False(t, rep.OK)
		require.Equal(t, uint64(0), rep.FirstBad, rep.Reason)
	})
}

func TestEventHeadCorrupt(t *testing.T) {
	m := newMemTxn()
	appendLog(t, m, 2)
	m.data[string([]byte{evHead})] = m.data[string([]byte{evHead})][:39]

	_, err := EventLen(m)
	require.ErrorIs(t, err, ErrCorruption)
	_, err = VerifyEvents(m)
	require.ErrorIs(t, err, ErrCorruption)
	snap, w := m.snapshot(), m.writes
	_, err = AppendEvent(m, "t", nil)
	require.ErrorIs(t, err, ErrCorruption)
	m.requireUnchanged(t, snap, w)
}

func TestReadsReportDamagedEvent(t *testing.T) {
	m := newMemTxn()
	appendLog(t, m, 4)
	m.data[evKey(2)] = m.data[evKey(2)][:20]

	_, err := GetEvent(m, 2)
	require.ErrorIs(t, err, ErrCorruption)
	_, err = RangeEvents(m, 0, 4)
	require.ErrorIs(t, err, ErrCorruption)
	_, err = EventsByType(m, "step")
	require.ErrorIs(t, err, ErrCorruption)
	// Events before the damage still read.
	got, err := RangeEvents(m, 0, 2)
	require.NoError(t, err)
	require.Len(t, got, 2)
}

// A rejected append must leave no trace, so the next one still gets the
// next sequence number and the chain stays intact.
func TestAppendEventBadInput(t *testing.T) {
	m := newMemTxn()
	appendLog(t, m, 2)

	for _, tc := range []struct {
		name    string
		typ     string
		payload []byte
		want    error
	}{
		{"empty type", "", []byte("p"), ErrInvalidArgument},
		{"type over MaxName", strings.Repeat("t", MaxName+1), nil, ErrTooLarge},
		{"payload over MaxPayload", "t", make([]byte, MaxPayload+1), ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap, w := m.snapshot(), m.writes
			_, err := AppendEvent(m, tc.typ, tc.payload)
			require.ErrorIs(t, err, tc.want)
			m.requireUnchanged(t, snap, w)
		})
	}

	m.readOnly = true
	snap, w := m.snapshot(), m.writes
	_, err := AppendEvent(m, "t", []byte("p"))
	require.ErrorIs(t, err, ErrReadOnly)
	m.requireUnchanged(t, snap, w)
	m.readOnly = false

	// A type of exactly MaxName is allowed. (Payloads at the limit are
	// covered by TestLimitsAreInclusive: storing 16 MiB is too slow under
	// the race detector.)
	e, err := AppendEvent(m, strings.Repeat("t", MaxName), []byte("p"))
	require.NoError(t, err)
	require.Equal(t, uint64(2), e.Seq)
	rep, err := VerifyEvents(m)
	require.NoError(t, err)
	require.Equal(t, ChainReport{OK: true, Len: 3}, rep)
}

// Reads must not write: an engine serves them from read-only transactions.
func TestEventReadsOnReadOnlyTxn(t *testing.T) {
	m := newMemTxn()
	evs := appendLog(t, m, 3)
	m.readOnly = true

	n, err := EventLen(m)
	require.NoError(t, err)
	require.Equal(t, uint64(3), n)
	e, err := GetEvent(m, 1)
	require.NoError(t, err)
	require.Equal(t, evs[1], e)
	r, err := RangeEvents(m, 0, 3)
	require.NoError(t, err)
	require.Equal(t, evs, r)
	bt, err := EventsByType(m, "step")
	require.NoError(t, err)
	require.Equal(t, evs, bt)
	rep, err := VerifyEvents(m)
	require.NoError(t, err)
	require.True(t, rep.OK)
}

// Events recorded at instants that lose nothing in Unix nanoseconds, in
// any zone and before 1970, read back as the same instant.
func TestEventTimes(t *testing.T) {
	m := newMemTxn()
	for _, at := range []time.Time{
		time.Date(1969, 7, 20, 20, 17, 40, 123, time.UTC),
		time.Date(2030, 1, 1, 0, 0, 0, 1, time.FixedZone("x", -5*3600)),
	} {
		m.now = at
		e, err := AppendEvent(m, "t", nil)
		require.NoError(t, err)
		require.True(t, e.Time.Equal(at))
		got, err := GetEvent(m, e.Seq)
		require.NoError(t, err)
		require.True(t, got.Time.Equal(at))
		require.Equal(t, e, got)
	}
	rep, err := VerifyEvents(m)
	require.NoError(t, err)
	require.True(t, rep.OK, rep.Reason)
}

// The limits are inclusive. Checked on the shared helpers rather than by
// storing 16 MiB through every primitive, which is slow under the race
// detector; each primitive's tests check the over-limit side.
func TestLimitsAreInclusive(t *testing.T) {
	require.NoError(t, checkName("x", strings.Repeat("n", MaxName)))
	require.ErrorIs(t, checkName("x", strings.Repeat("n", MaxName+1)), ErrTooLarge)
	require.ErrorIs(t, checkName("x", ""), ErrInvalidArgument)
	big := make([]byte, MaxPayload+1)
	require.NoError(t, checkPayload("x", big[:MaxPayload]))
	require.ErrorIs(t, checkPayload("x", big), ErrTooLarge)
	require.NoError(t, checkPayload("x", nil))
}
