package arena

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Writers allocating through Locals of their own, beside one allocating
// straight from the arena, get disjoint, aligned, zeroed memory that keeps
// what they wrote, across many chunks.
func TestLocalAllocDisjointFromOthers(t *testing.T) {
	a := New(64 << 10)
	const writers, per = 4, 3000
	regions := make([][]region, writers+1)
	var wg sync.WaitGroup
	for g := 0; g <= writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var l Local
			for i := range per {
				n := 1 + (i*37+g*11)%300
				if i%500 == 0 {
					n = 20 << 10 // larger than a quarter block: straight from the arena
				}
				var off uint64
				var err error
				if g == writers {
					off, err = a.Alloc(n)
				} else {
					off, err = a.AllocLocal(&l, n)
				}
				if err != nil {
					t.Error(err)
					return
				}
				if off%Align != 0 {
					t.Errorf("offset %#x not aligned", off)
					return
				}
				b := a.Bytes(off, n)
				for _, c := range b {
					if c != 0 {
						t.Errorf("memory at %#x not zeroed", off)
						return
					}
				}
				tag := uint64(g)<<32 | uint64(i)
				fill(b, tag)
				regions[g] = append(regions[g], region{off: off, n: n, tag: tag})
			}
		}()
	}
	wg.Wait()
	require.False(t, t.Failed())
	var all []region
	for _, rs := range regions {
		all = append(all, rs...)
	}
	requireDisjoint(t, a, all)
	for _, r := range all {
		require.True(t, check(a.Bytes(r.off, r.n), r.tag), "region %#x", r.off)
	}
	require.Greater(t, a.Stats().Chunks, 1, "test meant to cross chunks")
}

// A Local wastes at most the unused end of its current block, an eighth
// of what it allocated or localMin, and nothing for a writer that never
// allocated localStart bytes.
func TestLocalWasteIsBounded(t *testing.T) {
	for _, total := range []int{localStart - 64, 100 << 10, 3 << 20} {
		a := New(1 << 20)
		before := a.Stats().Used
		var l Local
		asked := 0
		for i := 0; ; i++ {
			n := roundUp(24 + i%200)
			if asked+n > total {
				break
			}
			_, err := a.AllocLocal(&l, n)
			require.NoError(t, err)
			asked += n
		}
		used := int(a.Stats().Used - before)
		require.GreaterOrEqual(t, used, asked)
		if total < localStart {
			require.Equal(t, asked, used, "a small writer takes no block")
		} else {
			require.LessOrEqual(t, used-asked, max(asked/8, localMin), "total %d", total)
		}
	}
}

// Allocations through a Local sit back to back in its block, and one too
// large for the block comes from the arena without giving the block up.
func TestLocalBumpsWithinItsBlock(t *testing.T) {
	a := New(1 << 20)
	var l Local
	for l.used < localStart {
		_, err := a.AllocLocal(&l, 64)
		require.NoError(t, err)
	}
	first, err := a.AllocLocal(&l, 64)
	require.NoError(t, err)
	second, err := a.AllocLocal(&l, 40)
	require.NoError(t, err)
	require.Equal(t, first+64, second)
	_, err = a.AllocLocal(&l, localMax)
	require.NoError(t, err)
	third, err := a.AllocLocal(&l, 8)
	require.NoError(t, err)
	require.Equal(t, second+40, third)

	l.Reset()
	require.Equal(t, Local{}, l)
}

func TestLocalAllocTooLarge(t *testing.T) {
	a := New(4096)
	var l Local
	for _, n := range []int{-1, MaxAlloc + 1} {
		_, err := a.AllocLocal(&l, n)
		require.True(t, errors.Is(err, ErrTooLarge), "n=%d: %v", n, err)
	}
}
