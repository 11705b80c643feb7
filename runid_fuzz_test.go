package inmem

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParseRunID: ParseRunID (and UnmarshalText, which run records on disk
// go through) never panics, fails only with ErrInvalidArgument (a caller's
// id as often as a stored one; loadRuns makes a stored one's failure
// ErrCorruption), and what it parses is the id String writes, which is in
// lower case: hex digits are read in either.
func FuzzParseRunID(f *testing.F) {
	f.Add("0190a8b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b")
	f.Add("0190A8B2-7C3D-7E4F-8A1B-2C3D4E5F6A7B")
	f.Add("0190a8b2-7c3d-7e4f-8a1b-2c3d4e5f6a7")
	f.Add("0190a8b2x7c3d-7e4f-8a1b-2c3d4e5f6a7b")
	f.Add("0190a8b2-7c3d-7e4f-8a1b-2c3d4e5f6a7g")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseRunID(s)
		var u RunID
		uerr := u.UnmarshalText([]byte(s))
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidArgument)
			require.Error(t, uerr)
			return
		}
		require.NoError(t, uerr)
		require.Equal(t, id, u)
		require.Equal(t, strings.ToLower(s), id.String())
		text, err := id.MarshalText()
		require.NoError(t, err)
		again, err := ParseRunID(string(text))
		require.NoError(t, err)
		require.Equal(t, id, again)
	})
}
