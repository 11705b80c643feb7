package keys

import (
	"bytes"
	"cmp"
	"testing"

	"github.com/stretchr/testify/require"
)

func compareTuples(a, b Tuple) int {
	if c := cmp.Compare(a.Tenant, b.Tenant); c != 0 {
		return c
	}
	if c := cmp.Compare(a.App, b.App); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Agent, b.Agent); c != 0 {
		return c
	}
	if c := bytes.Compare(a.Run[:], b.Run[:]); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Tag, b.Tag); c != 0 {
		return c
	}
	return bytes.Compare(a.User, b.User)
}

func tupleFrom(tenant, app, agent string, run []byte, tag byte, user []byte) Tuple {
	t := Tuple{Tenant: tenant, App: app, Agent: agent, Tag: tag, User: user}
	copy(t.Run[:], run)
	return t
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []Tuple{
		{},
		tupleFrom("t", "a", "g", []byte{1, 2, 3}, TagKV, []byte("k")),
		tupleFrom("\x00", "\x00\x01", "\xff\x00", nil, TagState, []byte{0, 0, 1}),
		tupleFrom("", "", "", bytes.Repeat([]byte{0xff}, 16), 0xff, nil),
	} {
		enc := Encode(nil, tc)
		got, err := Decode(enc)
		require.NoError(t, err)
		require.Equal(t, 0, compareTuples(tc, got), "%q", enc)
	}
}

func TestOrderAcrossFieldBoundaries(t *testing.T) {
	// "a" then "b" must not collide with "a\x00" then "" or "ab" then "".
	ts := []Tuple{
		tupleFrom("a", "b", "", nil, TagKV, nil),
		tupleFrom("a\x00", "", "", nil, TagKV, nil),
		tupleFrom("ab", "", "", nil, TagKV, nil),
		tupleFrom("a", "", "b", nil, TagKV, nil),
	}
	for i := range ts {
		for j := range ts {
			ei, ej := Encode(nil, ts[i]), Encode(nil, ts[j])
			require.Equal(t, compareTuples(ts[i], ts[j]), bytes.Compare(ei, ej), "%d vs %d", i, j)
		}
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	for _, b := range [][]byte{nil, {0}, {0, 2}, []byte("abc"), {0, 1, 0, 1, 0, 1, 1}} {
		_, err := Decode(b)
		require.ErrorIs(t, err, ErrMalformed, "%q", b)
	}
}

func TestUserPrefixIsBytePrefix(t *testing.T) {
	scope := AppendScope(nil, "t", "a", "g", [16]byte{9})
	full := AppendKey(nil, scope, TagKV, []byte("user/123"))
	pre := AppendKey(nil, scope, TagKV, []byte("user/"))
	require.True(t, bytes.HasPrefix(full, pre))
	other := AppendKey(nil, AppendScope(nil, "t", "a", "g2", [16]byte{9}), TagKV, []byte("user/123"))
	require.False(t, bytes.HasPrefix(other, pre))
}

// FuzzEncoding checks the two properties everything above relies on:
// equal encodings only for equal tuples (injective) and byte order equal to
// tuple order, plus that Decode inverts Encode.
func FuzzEncoding(f *testing.F) {
	f.Add("t", "a", "g", []byte("run"), byte(1), []byte("k"), "t", "a", "g", []byte("run"), byte(1), []byte("k2"))
	f.Add("a\x00", "", "", []byte{}, byte(1), []byte{}, "a", "\x00", "", []byte{}, byte(1), []byte{})
	f.Add("", "", "", []byte{0xff}, byte(0), []byte{0}, "", "", "", []byte{0xff}, byte(0), []byte{})
	f.Fuzz(func(t *testing.T, t1, a1, g1 string, r1 []byte, tag1 byte, u1 []byte,
		t2, a2, g2 string, r2 []byte, tag2 byte, u2 []byte) {
		x := tupleFrom(t1, a1, g1, r1, tag1, u1)
		y := tupleFrom(t2, a2, g2, r2, tag2, u2)
		ex, ey := Encode(nil, x), Encode(nil, y)
		require.Equal(t, compareTuples(x, y), bytes.Compare(ex, ey))
		dx, err := Decode(ex)
		require.NoError(t, err)
		require.Equal(t, 0, compareTuples(x, dx))
		require.Equal(t, len(AppendScope(nil, x.Tenant, x.App, x.Agent, x.Run)), ScopeLen(ex))
	})
}

// FuzzDecode feeds arbitrary bytes to Decode: it must not panic, and what it
// accepts must re-encode to the same bytes.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 1, 'k'})
	f.Add([]byte{0, 0xff, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		n := ScopeLen(b) // never panics, whatever b holds
		tu, err := Decode(b)
		if err != nil {
			return
		}
		require.Equal(t, b, Encode(nil, tu))
		require.Equal(t, len(b)-len(tu.User)-1, n)
	})
}

// TestEveryPrefixOfAKey: of all the prefixes of an encoded key, ScopeLen
// finds the scope in exactly those that hold it whole (and says -1, not
// some other negative, for the rest), and Decode accepts exactly those
// that hold the tag as well. Escaped zero bytes in every field make the
// cuts fall between an escape's two bytes too.
func TestEveryPrefixOfAKey(t *testing.T) {
	run := [RunLen]byte{1, 0, 2, 0xff}
	scope := AppendScope(nil, "t\x00", "\x00a", "g\x00\x00", run)
	key := AppendKey(nil, scope, TagKV, []byte("u\x00"))
	for cut := 0; cut <= len(key); cut++ {
		b := key[:cut]
		if cut < len(scope) {
			require.Equal(t, -1, ScopeLen(b), "cut %d", cut)
		} else {
			require.Equal(t, len(scope), ScopeLen(b), "cut %d", cut)
		}
		tup, err := Decode(b)
		if cut <= len(scope) {
			require.ErrorIs(t, err, ErrMalformed, "cut %d", cut)
			continue
		}
		require.NoError(t, err, "cut %d", cut)
		require.Equal(t, run, tup.Run)
		require.Equal(t, byte(TagKV), tup.Tag)
		require.Equal(t, key[len(scope)+1:cut], tup.User)
	}
}
