package arena

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestGrowDoesNotWaitForFaulting: a writer that fills a chunk while the
// next one is still being faulted in takes it at once. Before, it waited
// for the whole chunk to be faulted in; here the faulting never ends until
// the writer is through, so waiting for it would hang.
func TestGrowDoesNotWaitForFaulting(t *testing.T) {
	release := make(chan struct{})
	filling := make(chan struct{}, 1)
	a := New(4096)
	a.fill = func(b []byte, rel func()) {
		filling <- struct{}{}
		<-release
		populate(b, rel)
	}
	// Past half of the first chunk: the next one is prepared.
	first, err := a.Alloc(3000)
	require.NoError(t, err)
	<-filling

	done := make(chan error, 1)
	var off uint64
	go func() {
		var err error
		off, err = a.Alloc(3000) // does not fit: takes the spare
		done <- err
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		close(release)
		t.Fatal("Alloc waited for the spare chunk to be faulted in")
	}
	require.Equal(t, 2, a.Stats().Chunks)
	require.NotEqual(t, first>>32, off>>32, "the allocation is in the second chunk")
	b := a.Bytes(off, 3000)
	require.Equal(t, make([]byte, 3000), b, "memory handed out before faulting is zeroed")
	fill(b, 5)

	close(release)
	a.Wait()
	require.True(t, check(b, 5), "faulting in a chunk in use keeps what was written")
}

// TestSpareTakenEarlyIsFollowedByTheNext: writers that take a spare before
// it is faulted in and fill half of it while it still is are the ones
// whose call for the next spare found a preparation running and did
// nothing; the preparation makes that call when it ends, so the chunk
// after is still prepared ahead instead of mapped and faulted in when a
// writer needs it.
func TestSpareTakenEarlyIsFollowedByTheNext(t *testing.T) {
	release := make(chan struct{})
	var held atomic.Bool
	a := New(4096)
	a.fill = func(b []byte, rel func()) {
		if held.CompareAndSwap(false, true) {
			<-release
		}
		populate(b, rel)
	}
	_, err := a.Alloc(3000) // past half: the second chunk is prepared
	require.NoError(t, err)
	require.Eventually(t, func() bool { return a.spare.Load() != nil }, 30*time.Second, time.Millisecond)
	// Into the second chunk, and past its half, while it is being faulted in.
	for a.Stats().Chunks < 2 || a.cur.Load().pos.Load() <= a.cur.Load().size/2 {
		_, err := a.Alloc(64 << 10)
		require.NoError(t, err)
	}
	require.Nil(t, a.spare.Load(), "no third chunk while the second is being faulted in")
	close(release)
	require.Eventually(t, func() bool { return a.spare.Load() != nil }, 30*time.Second, time.Millisecond,
		"the third chunk is prepared once the second is faulted in")
	a.Wait()
}

// TestSmallSpareIsUsed: an allocation too large for the spare gets a chunk
// of its own and leaves the spare; the next chunk takes that spare even
// though it is smaller than a next chunk would be. Left in place, it kept
// prepareNext from ever running again: every later chunk was mapped and
// faulted in by the writer that needed it (recovery spent half its time
// there).
func TestSmallSpareIsUsed(t *testing.T) {
	a := New(4096)
	_, err := a.Alloc(3000) // past half: a spare of MinChunkSize is prepared
	require.NoError(t, err)
	a.Wait()
	require.NotNil(t, a.spare.Load())
	big, err := a.Alloc(3 * MinChunkSize) // larger than the spare: a chunk of its own
	require.NoError(t, err)
	require.Equal(t, uint64(1), big>>32)
	require.NotNil(t, a.spare.Load(), "the spare is still there")

	off, err := a.Alloc(64) // the big chunk is full: the next chunk is the spare
	require.NoError(t, err)
	require.Equal(t, uint64(2), off>>32)
	require.Nil(t, a.spare.Load(), "the spare was taken")
	require.Equal(t, int64(4096+Slack+3*MinChunkSize+Slack+MinChunkSize+Slack), a.Stats().Reserved,
		"the third chunk is the spare's size, not a new one's")

	// Past half of it, the next chunk is prepared again.
	_, err = a.Alloc(MinChunkSize / 2)
	require.NoError(t, err)
	require.True(t, a.spare.Load() != nil || a.prep.Load() != nil, "a preparation follows")
	a.Wait()
}
