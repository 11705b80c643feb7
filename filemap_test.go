package inmem

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFileMapNamesEveryFile: the map of the files in a package doc
// (inmem.go's for the root, doc.go's for the engine) names every file of
// the package and no file that is gone, so the map stays the architecture
// as it is. A path with a directory names a file of another package, which
// must exist.
func TestFileMapNamesEveryFile(t *testing.T) {
	for _, tc := range []struct{ dir, doc, pkg string }{
		{".", "inmem.go", "inmem"},
		{"internal/engine", "doc.go", "engine"},
	} {
		doc, err := os.ReadFile(filepath.Join(tc.dir, tc.doc))
		require.NoError(t, err)
		text := string(doc[:strings.Index(string(doc), "\npackage "+tc.pkg)])
		named := map[string]bool{}
		for _, m := range regexp.MustCompile(`[a-z_/]+\.go`).FindAllString(text, -1) {
			if strings.Contains(m, "/") {
				_, err := os.Stat(m)
				require.NoError(t, err, "%s's map names %s", tc.doc, m)
				continue
			}
			named[m] = true
		}
		files, err := filepath.Glob(filepath.Join(tc.dir, "*.go"))
		require.NoError(t, err)
		for _, f := range files {
			f = filepath.Base(f)
			if strings.HasSuffix(f, "_test.go") || f == "doc.go" {
				continue
			}
			require.True(t, named[f], "%s's map does not name %s", tc.doc, f)
			delete(named, f)
		}
		require.Empty(t, named, "%s's map names files that are not there", tc.doc)
	}
}
