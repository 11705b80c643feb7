package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/inmem-db/inmem"
)

// uiFollowEvery is how often inmem ui looks for commits of another process.
const uiFollowEvery = 500 * time.Millisecond

// runUI serves the run inspector over a database: inmem ui DIR.
//
// It opens DIR read-only, so it works beside the process that holds the
// database (an agent, inmem serve) and writes nothing, and opens it again
// when its files change, so new steps appear in an open page. It listens
// on a loopback address unless --allow-remote, and prints the URL to open,
// which carries the token (--token, $INMEM_UI_TOKEN, else generated).
func runUI(args []string, _, errOut io.Writer) error {
	fs := flag.NewFlagSet("ui", flag.ContinueOnError)
	addr := fs.String("http", "127.0.0.1:0", "the address to serve on (port 0: any free port)")
	token := fs.String("token", "", "the token a browser or client must present (default $INMEM_UI_TOKEN, else generated)")
	allowRemote := fs.Bool("allow-remote", false, "allow an address other than loopback")
	origins := fs.String("allow-origin", "", "comma-separated browser origins allowed besides loopback ones")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	dir := pos[0]
	if err := checkListenAddr(*addr, *allowRemote); err != nil {
		return errUsage{err}
	}
	tok, _, err := tokenOr(*token, "INMEM_UI_TOKEN")
	if err != nil {
		return err
	}
	src, err := openFollow(dir, uiFollowEvery, func() (*inmem.DB, error) { return openReadOnly(dir, io.Discard) })
	if err != nil {
		return lockedMessage(dir, err)
	}
	defer src.close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serveUI(ctx, newUIHandler(src, dir, tok, splitOrigins(*origins)), *addr, tok, errOut)
}

// serveUI serves h on addr until ctx is done, after printing the URL.
func serveUI(ctx context.Context, h http.Handler, addr, token string, errOut io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	printUIURL(errOut, ln.Addr(), token)
	return serveOn(ctx, ln, h, log.New(errOut, "inmem ui: ", 0))
}

// printUIURL prints the line a user (or a test) opens the inspector from.
func printUIURL(w io.Writer, addr net.Addr, token string) {
	fmt.Fprintf(w, "inmem ui: http://%s/?token=%s\n", addr, token)
}

// tokenOr is the token given, else the one in the environment variable
// env, else a new random one (generated true).
func tokenOr(given, env string) (token string, generated bool, err error) {
	if given != "" {
		return given, false, nil
	}
	if t := os.Getenv(env); t != "" {
		return t, false, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", false, err
	}
	return hex.EncodeToString(b), true, nil
}

func splitOrigins(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
