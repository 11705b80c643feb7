package arena

import (
	"encoding/binary"
	"errors"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// fill writes a pattern derived from tag into b.
func fill(b []byte, tag uint64) {
	for i := range b {
		b[i] = byte(tag*31 + uint64(i)*7 + tag>>8)
	}
}

// check reports whether b still holds the pattern fill(b, tag) wrote.
func check(b []byte, tag uint64) bool {
	for i := range b {
		if b[i] != byte(tag*31+uint64(i)*7+tag>>8) {
			return false
		}
	}
	return true
}

func roundUp(n int) int {
	if n == 0 {
		return Align
	}
	return (n + Align - 1) &^ (Align - 1)
}

type region struct {
	off uint64
	n   int
	tag uint64
}

// requireDisjoint checks that no two regions overlap, in offset space and in
// address space (the latter catches chunk-base bookkeeping errors).
func requireDisjoint(t *testing.T, a *Arena, rs []region) {
	t.Helper()
	sorted := append([]region(nil), rs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].off < sorted[j].off })
	for i := 1; i < len(sorted); i++ {
		p, c := sorted[i-1], sorted[i]
		if p.off == c.off || (p.off>>32 == c.off>>32 && p.off+uint64(roundUp(p.n)) > c.off) {
			require.Failf(t, "overlap", "regions %#x+%d and %#x overlap", p.off, p.n, c.off)
		}
	}
	addr := make([]region, len(rs))
	for i, r := range rs {
		addr[i] = region{off: uint64(uintptr(a.Pointer(r.off))), n: r.n}
	}
	sort.Slice(addr, func(i, j int) bool { return addr[i].off < addr[j].off })
	for i := 1; i < len(addr); i++ {
		if addr[i-1].off+uint64(addr[i-1].n) > addr[i].off {
			require.Failf(t, "overlap", "regions overlap in memory at %#x", addr[i].off)
		}
	}
}

func TestAlignmentAndNonZeroOffset(t *testing.T) {
	a := New(4096) // small, so the loop crosses several chunks
	for i := 0; i < 20000; i++ {
		n := i % 77 // includes 0 and every residue mod 8
		off, err := a.Alloc(n)
		require.NoError(t, err)
		if off == 0 || off%Align != 0 || uintptr(a.Pointer(off))%Align != 0 {
			require.Failf(t, "bad offset", "Alloc(%d) = %#x (address %p): zero or not %d-aligned",
				n, off, a.Pointer(off), Align)
		}
	}
	require.Greater(t, a.Stats().Chunks, 1, "test meant to cross chunks")
}

func TestFirstOffsetIsNotZero(t *testing.T) {
	a := New(0)
	off, err := a.Alloc(0)
	require.NoError(t, err)
	require.NotZero(t, off)
	off2, err := a.Alloc(1)
	require.NoError(t, err)
	require.NotZero(t, off2)
	require.NotEqual(t, off, off2, "zero-byte allocation must still reserve space")
}

func TestMemoryIsZeroed(t *testing.T) {
	var zero [100]byte
	a := New(4096)
	for i := 0; i < 2000; i++ {
		off, err := a.Alloc(100)
		require.NoError(t, err)
		require.Equal(t, zero[:], a.Bytes(off, 100), "allocation %d at %#x not zeroed", i, off)
		fill(a.Bytes(off, 100), uint64(i)) // dirty it so a reuse would show
	}
}

func TestDataSurvivesLaterAllocations(t *testing.T) {
	a := New(4096)
	var rs []region
	for i := 0; i < 5000; i++ {
		n := 1 + (i*37)%300
		off, err := a.Alloc(n)
		require.NoError(t, err)
		fill(a.Bytes(off, n), uint64(i))
		rs = append(rs, region{off: off, n: n, tag: uint64(i)})
	}
	require.Greater(t, a.Stats().Chunks, 1)
	for _, r := range rs {
		if !check(a.Bytes(r.off, r.n), r.tag) {
			require.Failf(t, "overwritten", "allocation %d at %#x overwritten", r.tag, r.off)
		}
	}
	requireDisjoint(t, a, rs)
}

func TestConcurrentAllocDisjoint(t *testing.T) {
	const (
		workers = 8
		perG    = 3000
	)
	a := New(4096) // forces many concurrent chunk installations
	results := make([][]region, workers)
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rs := make([]region, 0, perG)
			for i := 0; i < perG; i++ {
				n := 8 + (i*13+g*5)%120
				off, err := a.Alloc(n)
				if err != nil {
					t.Errorf("alloc: %v", err)
					return
				}
				tag := uint64(g)<<32 | uint64(i)
				b := a.Bytes(off, n)
				binary.LittleEndian.PutUint64(b, tag)
				fill(b[8:], tag)
				rs = append(rs, region{off: off, n: n, tag: tag})
			}
			results[g] = rs
		}(g)
	}
	wg.Wait()

	var all []region
	for g, rs := range results {
		require.Len(t, rs, perG, "worker %d", g)
		all = append(all, rs...)
	}
	for _, r := range all {
		b := a.Bytes(r.off, r.n)
		if r.off == 0 || r.off%Align != 0 || binary.LittleEndian.Uint64(b) != r.tag || !check(b[8:], r.tag) {
			require.Failf(t, "clobbered", "allocation %#x (tag %#x, %d bytes) bad or overwritten", r.off, r.tag, r.n)
		}
	}
	requireDisjoint(t, a, all)

	st := a.Stats()
	require.Greater(t, st.Chunks, 1)
	var sum int64
	for _, r := range all {
		sum += int64(roundUp(r.n))
	}
	require.GreaterOrEqual(t, st.Used, sum)
	require.LessOrEqual(t, st.Used, st.Reserved)
	// Racing overflows install one chunk, not one each: with doubling
	// chunks, what is reserved stays within about twice what is used.
	require.LessOrEqual(t, st.Reserved, 2*st.Used+2*MinChunkSize+int64(st.Chunks*Slack),
		"chunks: %d, reserved %d for %d used", st.Chunks, st.Reserved, st.Used)
}

func TestGrowth(t *testing.T) {
	a := New(4096)
	st := a.Stats()
	require.Equal(t, 1, st.Chunks)
	require.Equal(t, int64(4096+Slack), st.Reserved)

	// Fill the first chunk, then spill into the second.
	var rs []region
	for i := 0; i < 4096/64+1; i++ {
		off, err := a.Alloc(64)
		require.NoError(t, err)
		fill(a.Bytes(off, 64), uint64(i))
		rs = append(rs, region{off: off, n: 64, tag: uint64(i)})
	}
	st = a.Stats()
	require.Equal(t, 2, st.Chunks)
	// The second chunk doubles the first but is at least MinChunkSize.
	require.Equal(t, int64(4096+Slack+MinChunkSize+Slack), st.Reserved)
	require.Equal(t, uint64(1), rs[len(rs)-1].off>>32, "last allocation should be in chunk 1")
	for _, r := range rs {
		require.True(t, check(a.Bytes(r.off, r.n), r.tag))
	}

	// Later chunks double, up to MaxChunkSize: 1 MiB, 2 MiB, 4 MiB.
	for _, want := range []int{2 * MinChunkSize, 4 * MinChunkSize} {
		before := a.Stats()
		for a.Stats().Chunks == before.Chunks {
			_, err := a.Alloc(64 << 10)
			require.NoError(t, err)
		}
		after := a.Stats()
		require.Equal(t, before.Chunks+1, after.Chunks)
		require.Equal(t, int64(want+Slack), after.Reserved-before.Reserved)
	}
}

func TestAllocLargerThanNextChunkGetsOwnChunk(t *testing.T) {
	// Scaled-down version of "an allocation larger than MaxChunkSize gets a
	// chunk of its own": a request larger than the size the next chunk would
	// have is served from a chunk of exactly its size.
	a := New(4096)
	const big = 3 * MinChunkSize
	off, err := a.Alloc(big)
	require.NoError(t, err)
	require.Equal(t, uint64(1)<<32, off, "big allocation should start chunk 1")
	b := a.Bytes(off, big)
	fill(b, 99)

	st := a.Stats()
	require.Equal(t, 2, st.Chunks)
	require.Equal(t, int64(4096+Slack+big+Slack), st.Reserved)

	// The next allocation cannot fit in the exactly-sized chunk and goes to
	// a fresh one; the big region is left intact.
	off2, err := a.Alloc(16)
	require.NoError(t, err)
	require.Equal(t, uint64(2), off2>>32)
	fill(a.Bytes(off2, 16), 7)
	require.True(t, check(b, 99))
	require.Equal(t, 3, a.Stats().Chunks)
}

func TestAllocTooLarge(t *testing.T) {
	a := New(4096)
	before := a.Stats()

	for _, n := range []int{-1, -1 << 40, MaxAlloc + 1, 1 << 33, 1 << 62} {
		off, err := a.Alloc(n)
		require.Error(t, err, "n=%d", n)
		require.True(t, errors.Is(err, ErrTooLarge), "n=%d: %v", n, err)
		require.Zero(t, off)
	}
	// Rejections reserve nothing.
	require.Equal(t, before, a.Stats())

	// MaxAlloc itself is accepted by the check; it is not exercised here
	// because it would reserve 4 GiB. MaxAlloc must still fit the 32-bit
	// in-chunk position with the slack that follows it.
	require.LessOrEqual(t, uint64(MaxAlloc)+Slack+Align, uint64(1)<<32)
	require.Greater(t, uint64(MaxAlloc), uint64(MaxChunkSize))
}

func TestStats(t *testing.T) {
	a := New(1 << 16)
	st := a.Stats()
	require.Equal(t, 1, st.Chunks)
	require.Equal(t, int64(1<<16+Slack), st.Reserved)
	require.LessOrEqual(t, st.Used, int64(Align), "fresh arena: only the burnt offset-0 bytes")

	base := st.Used
	var want int64
	for _, n := range []int{1, 7, 8, 9, 100, 0, 4000} {
		_, err := a.Alloc(n)
		require.NoError(t, err)
		want += int64(roundUp(n))
		st = a.Stats()
		require.Equal(t, base+want, st.Used, "after Alloc(%d)", n)
		require.Equal(t, 1, st.Chunks)
	}

	// Force growth: Used keeps growing, never exceeds Reserved, and Chunks
	// counts the new chunk. Once the first chunk is abandoned, Used may count
	// its unusable tail, but nothing more than what was handed out.
	prev := a.Stats()
	handedOut := prev.Used
	var tail int64
	for i := 0; i < 200; i++ {
		_, err := a.Alloc(1000)
		require.NoError(t, err)
		handedOut += 1000
		st = a.Stats()
		if st.Chunks > prev.Chunks && tail == 0 {
			tail = 1<<16 - prev.Used // what the first chunk could not fit
		}
		require.GreaterOrEqual(t, st.Used, handedOut)
		require.LessOrEqual(t, st.Used, handedOut+tail, "Used counts more than was handed out")
		require.LessOrEqual(t, st.Used, st.Reserved)
		require.GreaterOrEqual(t, st.Chunks, prev.Chunks)
		prev = st
	}
	require.Equal(t, 2, prev.Chunks)
	require.Positive(t, tail)
	require.Equal(t, int64(1<<16+Slack+MinChunkSize+Slack), prev.Reserved)
}

func TestStatsConcurrentWithAlloc(t *testing.T) {
	a := New(4096)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				if _, err := a.Alloc(64); err != nil {
					t.Errorf("alloc: %v", err)
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	var last Stats
	for {
		select {
		case <-done:
			st := a.Stats()
			require.GreaterOrEqual(t, st.Used, int64(4*5000*64))
			require.LessOrEqual(t, st.Used, st.Reserved)
			return
		default:
		}
		st := a.Stats()
		require.GreaterOrEqual(t, st.Used, last.Used)
		require.GreaterOrEqual(t, st.Reserved, last.Reserved)
		require.LessOrEqual(t, st.Used, st.Reserved)
		last = st
	}
}

func TestSlackAfterEveryAllocation(t *testing.T) {
	// A header of up to Slack bytes viewed at any offset must stay inside
	// the chunk's buffer, including the last allocation of a chunk.
	a := New(4096)
	for i := 0; i < 3000; i++ {
		off, err := a.Alloc(1 + i%50)
		require.NoError(t, err)
		c := a.chunks[off>>32]
		if int(off&0xffffffff)+Slack > len(c.buf) {
			require.Failf(t, "no slack", "offset %#x: header would run past chunk of %d bytes", off, len(c.buf))
		}
		_ = a.Bytes(off, Slack) // under -race, checkptr validates this view
	}
}
