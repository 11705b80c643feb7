package wal

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/stretchr/testify/require"
)

// TestBlockBufFrames: records framed into blocks read back, in order, as
// the frames AppendRecord makes; no record straddles two blocks; written
// blocks are reused and a record larger than a block gets its own.
func TestBlockBufFrames(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var b blockBuf
	var free [][]byte
	var want []byte
	for i := range 40000 {
		n := r.IntN(2000)
		if i%5000 == 7 {
			n = blockSize + r.IntN(blockSize) // larger than a block
		}
		p := make([]byte, n)
		for j := range p {
			p[j] = byte(i + j)
		}
		b.appendRecord(&free, TypeUser, p)
		want = AppendRecord(want, TypeUser, p)
	}
	require.Equal(t, len(want), b.n)
	var got []byte
	for _, blk := range b.blocks {
		// Each block holds whole records.
		for rest := blk; len(rest) > 0; {
			_, _, n, err := DecodeRecord(rest)
			require.NoError(t, err)
			rest = rest[n:]
		}
		got = append(got, blk...)
	}
	require.True(t, bytes.Equal(want, got))

	standard := 0
	for _, blk := range b.blocks {
		if cap(blk) == blockSize {
			standard++
		}
	}
	require.Greater(t, standard, keepBlocks)
	giveBlocks(&free, b.blocks)
	require.Len(t, free, keepBlocks, "standard blocks kept up to the bound, big ones dropped")
	var c blockBuf
	c.appendRecord(&free, TypeUser, []byte("x"))
	require.Len(t, free, keepBlocks-1, "a kept block is reused")
	require.Equal(t, blockSize, cap(c.blocks[0]))
}

// TestBlocksAcrossRotations: one Async round holding many blocks, large
// records and several rotations is written in order, and each rotation
// starts its segment exactly at its cut.
func TestBlocksAcrossRotations(t *testing.T) {
	dir := t.TempDir()
	o := Options{FS: vfs.OS, Dir: dir, Mode: Async, Interval: time.Hour}
	l, err := Create(o, 1)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(5, 6))
	var all [][]byte
	var cuts []*Cut
	var cutAt []int
	for i := range 400 {
		n := 1 + r.IntN(40000)
		if i%97 == 5 {
			n = blockSize + 1000
		}
		p := make([]byte, n)
		p[0] = byte(i)
		for j := 1; j < len(p); j += 97 {
			p[j] = byte(r.Uint32())
		}
		_, err := l.Append(TypeUser, p)
		require.NoError(t, err)
		all = append(all, p)
		if i%113 == 50 {
			c, err := l.Rotate()
			require.NoError(t, err)
			cuts, cutAt = append(cuts, c), append(cutAt, len(all))
		}
	}
	require.NoError(t, l.Close())
	got, _ := readAll(t, dir)
	require.Equal(t, len(all), len(got))
	for i := range all {
		require.True(t, bytes.Equal(all[i], got[i]), "record %d", i)
	}
	for k, c := range cuts {
		seg, err := c.Wait()
		require.NoError(t, err)
		var after int
		_, err = Recover(vfs.OS, dir, seg, nil, func(byte, []byte) error { after++; return nil })
		require.NoError(t, err)
		require.Equal(t, len(all)-cutAt[k], after, "records from cut %d's segment on", k)
	}
}

// TestBlockFilledExactly: records fill a block to its last byte before the
// next block is taken, and a block never grows past its size.
func TestBlockFilledExactly(t *testing.T) {
	var b blockBuf
	var free [][]byte
	p := make([]byte, blockSize/4-HeaderSize)
	for range 4 {
		b.appendRecord(&free, TypeUser, p)
	}
	require.Len(t, b.blocks, 1, "four records of a quarter block fill one block")
	require.Equal(t, blockSize, len(b.blocks[0]))
	b.appendRecord(&free, TypeUser, []byte("x"))
	require.Len(t, b.blocks, 2)
	for _, blk := range b.blocks {
		require.Equal(t, blockSize, cap(blk), "no block grew")
	}
	// A record that fills a whole block takes a kept one.
	free = [][]byte{make([]byte, 0, blockSize)}
	var c blockBuf
	c.appendRecord(&free, TypeUser, make([]byte, blockSize-HeaderSize))
	require.Empty(t, free)
	require.Equal(t, blockSize, len(c.blocks[0]))
}

// TestTopUpTarget: after a round that wrote n blocks, the syncer readies
// room for twice that backlog, up to keepBlocks.
func TestTopUpTarget(t *testing.T) {
	for _, c := range [][2]int{{0, 0}, {1, 2}, {5, 10}, {keepBlocks / 2, keepBlocks}, {keepBlocks, keepBlocks}, {100, keepBlocks}} {
		require.Equal(t, c[1], topUpTarget(c[0]), "after %d blocks", c[0])
	}
}
