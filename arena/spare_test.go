package arena

import (
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
	fillChunk = func(b []byte, rel func()) {
		filling <- struct{}{}
		<-release
		populate(b, rel)
	}
	defer func() { fillChunk = populate }()

	a := New(4096)
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
