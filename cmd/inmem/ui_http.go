package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/inmem-db/inmem"
)

// The inspector's page: plain HTML, JavaScript and CSS, in the binary, so
// it needs no network and no build step.
//
//go:embed ui
var uiFiles embed.FS

// uiCookie carries the token once the browser opened the URL printed at
// start: the page's own requests send it, no script ever sees it.
const uiCookie = "inmem_ui"

// uiWatchEvery is how often /api/watch looks at the database's version.
const uiWatchEvery = 200 * time.Millisecond

// newUIHandler serves the inspector over src: the page, a JSON API of GETs
// only, and an event stream of the database's version. Every request
// passes the checks of the MCP endpoint: a foreign browser origin is
// refused (403), then a request without the token (401), as the header
// the MCP clients send or the cookie set when the browser opened
// /?token=T.
func newUIHandler(src uiSource, dir, token string, origins []string) http.Handler {
	want := sha256.Sum256([]byte(token))
	allowed := map[string]bool{}
	for _, o := range origins {
		allowed[strings.TrimRight(strings.TrimSpace(o), "/")] = true
	}
	valid := func(got string) bool {
		sum := sha256.Sum256([]byte(got))
		return subtle.ConstantTimeCompare(sum[:], want[:]) == 1
	}
	api := &uiAPI{src: src, dir: dir}
	assets, _ := fs.Sub(uiFiles, "ui") // a static path: fails in every test if wrong
	files := http.FileServerFS(assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if !originAllowed(r.Header.Get("Origin"), allowed) {
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the inspector only reads", http.StatusMethodNotAllowed)
			return
		}
		// The URL printed at start: trade its token for a cookie and drop
		// it from the address bar (and from the history).
		if t := r.URL.Query().Get("token"); t != "" && r.URL.Path == "/" {
			if !valid(t) {
				http.Error(w, "wrong token", http.StatusUnauthorized)
				return
			}
			http.SetCookie(w, &http.Cookie{Name: uiCookie, Value: t, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			if c, err := r.Cookie(uiCookie); err == nil {
				got, ok = c.Value, true
			}
		}
		if !ok || !valid(got) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="inmem"`)
			http.Error(w, "missing or wrong token: open the URL inmem printed at start, which carries it", http.StatusUnauthorized)
			return
		}
		switch {
		case r.URL.Path == "/api/watch":
			api.watch(w, r)
		case strings.HasPrefix(r.URL.Path, "/api/"):
			api.serve(w, r)
		default:
			w.Header().Set("Cache-Control", "no-cache")
			files.ServeHTTP(w, r)
		}
	})
}

// watch streams the database's version whenever it changes, and once at
// the start, as server-sent events.
func (a *uiAPI) watch(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	var last uint64
	first := true
	t := time.NewTicker(uiWatchEvery)
	defer t.Stop()
	beat := time.Now()
	for {
		db, release := a.src.acquire()
		v := db.Stats().Version
		release()
		if first || v != last {
			first, last = false, v
			if _, err := fmt.Fprintf(w, "event: version\ndata: {\"version\":%d}\n\n", v); err != nil {
				return
			}
			beat = time.Now()
		} else if time.Since(beat) > 15*time.Second {
			if _, err := fmt.Fprint(w, ": still here\n\n"); err != nil { // keeps proxies from closing an idle stream
				return
			}
			beat = time.Now()
		}
		if rc.Flush() != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client went away: nothing to tell it
}

// writeError answers err as {"error": text}, with the status its kind
// calls for.
func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, inmem.ErrNotFound), errors.Is(err, inmem.ErrRunNotFound):
		code = http.StatusNotFound
	case errors.Is(err, inmem.ErrInvalidArgument), errors.Is(err, inmem.ErrHistory):
		code = http.StatusBadRequest
	case errors.Is(err, context.Canceled):
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}
