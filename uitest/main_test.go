package uitest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Set by TestMain.
var (
	inmemBin string // the inmem command, built from ../cmd/inmem
	tmpRoot  string // fixtures shared by the tests live under it
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	base := runtime.NumGoroutine()
	dir, err := os.MkdirTemp("", "inmem-uitest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	tmpRoot = dir
	inmemBin = filepath.Join(dir, "inmem")
	// Built in the library's own module (..), with its go.mod: this
	// module does not require what the command imports.
	build := exec.Command("go", "build", "-o", inmemBin, "./cmd/inmem")
	build.Dir = ".."
	build.Env = append(os.Environ(), "GOWORK=off")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "uitest: go build ./cmd/inmem:", err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if err := checkGoroutines(base); err != nil {
			fmt.Fprintln(os.Stderr, "uitest:", err)
			code = 1
		}
	}
	return code
}

// checkGoroutines fails when goroutines started by the tests (chromedp's
// readers, subprocess pipes) are still running once every test's cleanup
// has run. Some end a moment after their context: they get a few seconds.
func checkGoroutines(base int) error {
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Errorf("%d goroutines left after the tests (%d before):\n%s",
				runtime.NumGoroutine(), base, strings.TrimSpace(string(buf)))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}
