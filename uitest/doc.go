// Package uitest drives the run inspector of inmem, the page that
// `inmem ui DIR` and `inmem serve DIR --mcp --http ADDR --ui` serve, in a
// real browser, and checks what it shows against what the inmem library
// reads from the same database.
//
// It is a module of its own (github.com/inmem-db/inmem/uitest) so that
// the library's go.mod stays free of chromedp; it uses the library
// through a replace of ../, and builds the inmem command from
// ../cmd/inmem with go build once per test binary (TestMain).
//
// Invariants of the tests:
//   - The inspector runs as a subprocess, exactly as a user starts it,
//     and the tests read its URL and token from the line it prints on
//     stderr ("inmem ui: http://127.0.0.1:PORT/?token=T").
//   - Expected values come from the library (a read-only open of the
//     same directory), never from the API the page reads: the page is
//     checked against run.AsOf, db.Diff and Traces, not against itself.
//   - The tests select elements only by the ids and data attributes of
//     the contract in the page's design (#step-label, data-run-id,
//     data-key, data-span-id, data-diff-key, ...), not by layout.
//   - Nothing is skipped: a missing /usr/bin/chromium fails the test
//     with the command that installs it (apt-get install chromium).
//   - Every subprocess (inmem, chromium) is stopped in t.Cleanup, and
//     TestMain fails the run when goroutines outlive the tests.
//   - Wall-clock times are reported (t.Logf), never asserted: the
//     machines that run this are shared and noisy.
//   - Screenshots are written only when UI_SCREENSHOTS=DIR is set.
package uitest
