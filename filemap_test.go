package inmem

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFileMapNamesEveryFile: the map of the files in inmem.go's package
// doc names every file of the package and no file that is gone, so the map
// stays the architecture as it is.
func TestFileMapNamesEveryFile(t *testing.T) {
	doc, err := os.ReadFile("inmem.go")
	require.NoError(t, err)
	text := string(doc[:strings.Index(string(doc), "\npackage inmem")])
	named := map[string]bool{}
	for _, m := range regexp.MustCompile(`[a-z_]+\.go`).FindAllString(text, -1) {
		named[m] = true
	}
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		require.True(t, named[f], "inmem.go's map does not name %s", f)
		delete(named, f)
	}
	require.Empty(t, named, "inmem.go's map names files that are not there")
}
