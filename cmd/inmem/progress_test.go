package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestProgressQuietWhenPiped: no bar on a pipe or a buffer, and a nil bar
// is safe to use.
func TestProgressQuietWhenPiped(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	require.Nil(t, newProgress(w, "x", 10))
	require.Nil(t, newProgress(&bytes.Buffer{}, "x", 10))
	var p *progress
	p.set(3)
	p.add(1)
	p.finish()
}

// TestProgressBar: the bar redraws only when its percent changes, ends at
// 100%, and is erased by finish; with no known total it shows a count.
func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	p := newBar(&buf, "export", 1000)
	for i := 0; i < 1000; i++ {
		p.add(1)
	}
	frames := strings.Split(buf.String(), "\r")[1:]
	require.Len(t, frames, 101, "one frame per percent (0 to 100), not per item")
	require.Equal(t, "export [###############...............]  50%", frames[50])
	require.Equal(t, "export [##############################] 100%", frames[100])
	p.finish()
	require.True(t, strings.HasSuffix(buf.String(), "\r\033[K"))

	buf.Reset()
	p = newBar(&buf, "import", 0)
	p.set(10)
	p.set(300)
	p.set(600)
	require.Equal(t, "\rimport 10\rimport 300\rimport 600", buf.String())

	buf.Reset()
	newBar(&buf, "verify", 5).finish()
	require.Empty(t, buf.String(), "nothing drawn, nothing to erase")
}
