package uitest

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

const (
	chromiumPath = "/usr/bin/chromium"
	viewW, viewH = 1280, 900
	waitDefault  = 15 * time.Second // for the page to show what a test waits for
)

// server is an inmem subprocess serving the inspector.
type server struct {
	base  string // http://127.0.0.1:PORT
	token string
	out   *outputLog
}

// outputLog keeps a subprocess's output and hands over the inspector's
// URL from the line `inmem ui: http://...` as soon as it is whole.
type outputLog struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	url  chan string // receives the URL once
	sent bool
}

var uiLine = regexp.MustCompile(`(?m)^inmem ui: (http://\S+)\r?\n`)

func (l *outputLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if !l.sent {
		if m := uiLine.FindSubmatch(l.buf.Bytes()); m != nil {
			l.sent = true
			l.url <- string(m[1])
		}
	}
	return len(p), nil
}

func (l *outputLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startInmem runs `inmem args...`, waits for the inspector's URL on its
// stderr, and stops it (SIGTERM, then SIGKILL) when the test ends.
func startInmem(t *testing.T, args ...string) *server {
	t.Helper()
	out := &outputLog{url: make(chan string, 1)}
	cmd := exec.Command(inmemBin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
			if waitErr != nil {
				t.Errorf("inmem %s: %v", strings.Join(args, " "), waitErr)
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("inmem %s did not stop on SIGTERM", strings.Join(args, " "))
		}
		if t.Failed() {
			t.Logf("inmem %s printed:\n%s", strings.Join(args, " "), out)
		}
	})
	var raw string
	select {
	case raw = <-out.url:
	case <-done:
		t.Fatalf("inmem %s exited before serving (%v):\n%s", strings.Join(args, " "), waitErr, out)
	case <-time.After(60 * time.Second):
		t.Fatalf("inmem %s printed no `inmem ui:` line in 60s:\n%s", strings.Join(args, " "), out)
	}
	u, err := url.Parse(raw)
	require.NoError(t, err, raw)
	tok := u.Query().Get("token")
	require.NotEmpty(t, tok, "the printed URL carries the token: %s", raw)
	return &server{base: u.Scheme + "://" + u.Host, token: tok, out: out}
}

// startUI runs `inmem ui DIR` on a free loopback port.
func startUI(t *testing.T, dir string) *server {
	t.Helper()
	return startInmem(t, "ui", dir, "--http", "127.0.0.1:0")
}

// newBrowser starts a headless chromium for the test, closed when it
// ends. An uncaught exception or console error in the page fails the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser tests need Debian's chromium at %s (%v): apt-get install chromium", chromiumPath, err)
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(viewW, viewH),
	)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(viewW, viewH)); err != nil { // starts the browser
		cancel()
		acancel()
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	var (
		mu     sync.Mutex
		errs   []string
		done   = make(chan struct{})
		events = chromedp.Console(ctx)
	)
	go func() {
		defer close(done)
		for m, err := range events {
			if err != nil {
				return // the context ended
			}
			if m.IsException() || m.Type == "error" {
				mu.Lock()
				errs = append(errs, m.String())
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		acancel()
		<-done
		if len(errs) > 0 {
			t.Errorf("the page reported errors:\n%s", strings.Join(errs, "\n"))
		}
	})
	return ctx
}

// open loads the inspector at hash (#/runs, #/run/ID, ...) the way a user
// does: from the printed URL, which trades the token for a cookie; the
// redirect keeps the fragment.
func open(t *testing.T, ctx context.Context, srv *server, hash string) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.base+"/?token="+url.QueryEscape(srv.token)+hash)))
}

// goHash moves the open page to another route without reloading it.
func goHash(t *testing.T, ctx context.Context, hash string) {
	t.Helper()
	evalJS[chromedp.Void](t, ctx, fmt.Sprintf(`location.hash = %s`, jsString(hash)))
}

// evalJS evaluates js in the page and decodes its value.
func evalJS[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	require.NoError(t, err, "evaluating %s", js)
	return v
}

// waitJS polls js, a boolean expression, until it is true; after timeout
// the test fails, showing what the page shows.
func waitJS(t *testing.T, ctx context.Context, what, js string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!(`+js+`)`))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s (last error: %v); the page shows:\n%s", timeout, what, err, pageText(ctx))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// pageText is the text of the page's main area, for failure messages.
func pageText(ctx context.Context) string {
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('#app') || document.body).innerText.slice(0, 3000)`))
	if err != nil {
		return err.Error()
	}
	return s
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// screenshot saves a full-page PNG of what the browser shows to
// $UI_SCREENSHOTS/name; without UI_SCREENSHOTS it writes nothing.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("UI_SCREENSHOTS")
	if dir == "" {
		return
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
	t.Logf("screenshot %s", filepath.Join(dir, name))
}
