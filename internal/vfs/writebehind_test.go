package vfs

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// spanFile records the ranges handed to WriteBack.
type spanFile struct {
	File
	spans [][2]int64
}

func (f *spanFile) WriteBack(off, n int64) error {
	f.spans = append(f.spans, [2]int64{off, n})
	return f.File.WriteBack(off, n)
}

// TestWriteBehind: every Span bytes written, the range written since the
// last call is handed to WriteBack, back to back from the file's start,
// and every byte reaches the file.
func TestWriteBehind(t *testing.T) {
	fs := NewMemFS(1)
	f, err := fs.Create("snap")
	require.NoError(t, err)
	sf := &spanFile{File: f}
	w := &WriteBehind{F: sf, Span: 1000}
	var want []byte
	for _, n := range []int{10, 990, 1, 2500, 400, 300, 299, 5} {
		p := bytes.Repeat([]byte{byte(n)}, n)
		got, err := w.Write(p)
		require.NoError(t, err)
		require.Equal(t, n, got)
		want = append(want, p...)
	}
	require.Equal(t, [][2]int64{{0, 1000}, {1000, 2501}, {3501, 1004}}, sf.spans)
	require.NoError(t, f.Sync())
	got := make([]byte, len(want)+1)
	n, _ := f.ReadAt(got, 0)
	require.Equal(t, want, got[:n])
}

// TestWriteBack: on the OS, writeback of a range written and not synced
// returns at once and changes nothing a reader sees; a range the kernel
// refuses is an error; an empty one is nothing.
func TestWriteBack(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	f, err := OS.Create(p)
	require.NoError(t, err)
	defer f.Close()
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	_, err = f.Write(data)
	require.NoError(t, err)
	require.NoError(t, f.WriteBack(0, int64(len(data))))
	require.NoError(t, f.WriteBack(0, 0))
	require.Equal(t, int64(len(data)), must(f.Size()))
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, data, got)
	if runtime.GOOS == "linux" {
		require.Error(t, f.WriteBack(-1, 10), "a negative offset is EINVAL")
	}

	m, err := NewMemFS(1).Create("f")
	require.NoError(t, err)
	require.NoError(t, m.WriteBack(0, 10))
	require.Error(t, m.WriteBack(-1, 10))
}
