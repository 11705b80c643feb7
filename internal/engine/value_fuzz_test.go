package engine

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzDecodeValue: DecodeValue never panics, asks the clock only about a
// value with an expiry, and a live value's user bytes are the end of its
// input; its header re-encodes (EncodeHeader) to the same bytes, unless
// the flags byte has bits the package does not write, which are ignored.
// A malformed value reads as absent, so there is no error to check.
func FuzzDecodeValue(f *testing.F) {
	var h [MaxValueHeader]byte
	now := time.Unix(1_700_000_000, 0).UnixNano()
	f.Add(append(EncodeHeader(&h, false, 0), "value"...), now)
	f.Add(append(EncodeHeader(&h, false, now+1), "value"...), now)
	f.Add(append(EncodeHeader(&h, false, now), "value"...), now)
	f.Add(EncodeHeader(&h, true, 0), now)
	f.Add([]byte{FlagExpires, 1, 2}, now)
	f.Add([]byte{0x80, 'x'}, now)
	f.Add([]byte{}, now)
	f.Fuzz(func(t *testing.T, b []byte, now int64) {
		asked := false
		clock := func() time.Time { asked = true; return time.Unix(0, now) }
		user, live := DecodeValue(b, clock)
		expires := len(b) > 0 && b[0]&(FlagTombstone|FlagExpires) == FlagExpires
		require.Equal(t, expires && len(b) >= 9, asked, "the clock is asked about values with an expiry only")
		if !live {
			require.Nil(t, user)
			return
		}
		var exp int64
		header := 1
		if expires {
			exp, header = int64(binary.BigEndian.Uint64(b[1:9])), 9
			require.Greater(t, exp, now, "a live value has not expired")
		}
		require.Equal(t, b[header:], user)
		re := append(EncodeHeader(&h, false, exp), user...)
		if b[0]&^(FlagTombstone|FlagExpires) == 0 {
			require.Equal(t, b, re, "a live value re-encodes to the same bytes")
		}
		again, live := DecodeValue(re, clock)
		require.True(t, live)
		require.Equal(t, user, again)
	})
}
