package engine

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// SortWrites must order exactly as a full byte comparison does, whatever
// the keys: all under the scope or not, tails shorter than 8 bytes, tails
// that differ only past the sort word, zero bytes that look like padding.
func TestSortWritesMatchesByteOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	scope := []byte("\x00\x01ns\x00run-0123456789abcdef")
	alphabet := []byte{0, 1, 2, 'a', 'b', 0xff}
	tail := func() []byte {
		b := make([]byte, rng.IntN(14))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return b
	}
	for round := 0; round < 20000; round++ {
		n := 1 + rng.IntN(24) // past 16 too, the other sort
		ws := make([]Write, n)
		for i := range ws {
			var k []byte
			switch {
			case round%5 == 0 && i == 0:
				k = tail() // not under the scope
			case i > 0 && rng.IntN(3) == 0:
				// shares a long part with an earlier key
				base := ws[rng.IntN(i)].Key
				k = append(append([]byte(nil), base[:rng.IntN(len(base)+1)]...), tail()...)
			default:
				k = append(append([]byte(nil), scope...), tail()...)
			}
			ws[i] = Write{Key: k, Val: []byte{byte(i)}}
		}
		want := slices.Clone(ws)
		slices.SortStableFunc(want, func(a, b Write) int { return bytes.Compare(a.Key, b.Key) })
		SortWrites(ws, scope)
		for i := range ws {
			require.Equal(t, string(want[i].Key), string(ws[i].Key), "round %d, position %d", round, i)
		}
	}
}
