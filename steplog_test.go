package inmem

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStepLog(t *testing.T) {
	var l stepLog
	_, ok := l.last()
	require.False(t, ok)
	require.Equal(t, 0, l.visible(100))
	const n = 5*stepBlockSize + 7
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a reader racing the appends sees a consistent prefix
		defer wg.Done()
		for l.len() < n {
			k := l.len()
			for i := 0; i < k; i++ {
				if st := l.at(i); st.version != uint64(2*i+2) || st.time != int64(i) {
					t.Errorf("step %d: %+v", i, st)
					return
				}
			}
		}
	}()
	for i := range n {
		l.add(uint64(2*i+2), int64(i))
	}
	wg.Wait()
	require.Equal(t, n, l.len())
	last, ok := l.last()
	require.True(t, ok)
	require.Equal(t, uint64(2*n), last.version)
	require.Equal(t, 0, l.visible(1))
	require.Equal(t, 1, l.visible(2))
	require.Equal(t, 1, l.visible(3))
	require.Equal(t, n, l.visible(1<<40))
	all := l.all()
	require.Len(t, all, n)
	require.Equal(t, stepRec{version: 4, time: 1}, all[1])
}
