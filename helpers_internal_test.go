package inmem

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// The helpers the package's internal tests share. External tests (package
// inmem_test) have theirs in helpers_test.go.

// dirState is every file under dir (the lock included) with its size,
// modification time and a hash of its bytes: equal states mean nothing was
// created, removed or written.
func dirState(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if info.IsDir() {
			out = append(out, rel+"/")
			return nil
		}
		b, err := os.ReadFile(p)
		out = append(out, fmt.Sprintf("%s %d %d %x", rel, info.Size(), info.ModTime().UnixNano(), sha256.Sum256(b)))
		return err
	}))
	sort.Strings(out)
	return out
}
