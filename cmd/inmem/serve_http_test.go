package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

// bearer adds a token to every request of an HTTP client.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// documentedMaxBody is the body limit the README states ("a body over 4
// MiB (413)"), written out rather than taken from maxBodyBytes so that a
// change of the constant fails the test instead of moving with it.
const documentedMaxBody = 4 << 20

// TestMCPOverHTTP: the HTTP transport refuses a request with no token or
// a wrong one (401), one from a foreign browser origin even with the
// token (403), and a body over 4 MiB (413), but not one of exactly 4 MiB;
// a loopback origin and the SDK's client with the token get through and
// can call tools.
func TestMCPOverHTTP(t *testing.T) {
	checkNoLeak(t)
	db := memDB(t)
	ts := httptest.NewServer(newHTTPHandler(newMCPServer(db, inmem.Namespace{}), "s3cret", []string{"https://app.example"}, bodyReadTimeout, nil))
	defer ts.Close()
	url := ts.URL + mcpPath

	post := func(body string, header map[string]string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := ts.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		if id := resp.Header.Get("Mcp-Session-Id"); id != "" {
			// End the session this request began, so none outlives the test.
			del, err := http.NewRequest(http.MethodDelete, url, nil)
			require.NoError(t, err)
			del.Header.Set("Authorization", "Bearer s3cret")
			del.Header.Set("Mcp-Session-Id", id)
			dresp, err := ts.Client().Do(del)
			require.NoError(t, err)
			dresp.Body.Close()
			require.Equal(t, http.StatusNoContent, dresp.StatusCode)
		}
		return resp.StatusCode
	}
	require.Equal(t, http.StatusUnauthorized, post(initBody, nil))
	require.Equal(t, http.StatusUnauthorized, post(initBody, map[string]string{"Authorization": "Bearer wrong"}))
	require.Equal(t, http.StatusUnauthorized, post(initBody, map[string]string{"Authorization": "s3cret"}), "the scheme is required")
	require.Equal(t, http.StatusForbidden, post(initBody, map[string]string{"Authorization": "Bearer s3cret", "Origin": "https://evil.example"}))
	require.Equal(t, http.StatusForbidden, post(initBody, map[string]string{"Authorization": "Bearer s3cret", "Origin": "null"}))
	auth := map[string]string{"Authorization": "Bearer s3cret"}
	require.Equal(t, http.StatusRequestEntityTooLarge, post(strings.Repeat(" ", documentedMaxBody+1), auth))
	// Leading whitespace keeps the message valid JSON, so a body at the
	// limit is served like any other.
	atLimit := strings.Repeat(" ", documentedMaxBody-len(initBody)) + initBody
	require.Len(t, atLimit, documentedMaxBody)
	require.Equal(t, http.StatusOK, post(atLimit, auth), "a body of exactly 4 MiB is not refused for size")
	require.Equal(t, http.StatusOK, post(initBody, map[string]string{"Authorization": "Bearer s3cret", "Origin": "http://localhost:5173"}))
	require.Equal(t, http.StatusOK, post(initBody, map[string]string{"Authorization": "Bearer s3cret", "Origin": "https://app.example"}), "--allow-origin")

	ctx := context.Background()
	tr := &mcp.StreamableClientTransport{Endpoint: url, DisableStandaloneSSE: true, MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearer{"s3cret", ts.Client().Transport}}}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, tr, nil)
	require.NoError(t, err)
	defer cs.Close()
	tools, err := cs.ListTools(ctx, nil)
	require.NoError(t, err)
	require.NotEmpty(t, tools.Tools)
	run := callTool[runOut](t, cs, "runs_begin", anyMap{"name": "over http"})
	callTool[okOut](t, cs, "kv_put", anyMap{"run": run.ID, "key": "k", "value": "v"})
	require.Equal(t, "v", callTool[entryOut](t, cs, "kv_get", anyMap{"run": run.ID, "key": "k"}).Value)
	require.NoError(t, cs.Close())

	// Without the token the SDK's client cannot even connect.
	bad := &mcp.StreamableClientTransport{Endpoint: url, DisableStandaloneSSE: true, MaxRetries: -1, HTTPClient: ts.Client()}
	_, err = mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, bad, nil)
	require.Error(t, err)
}

// TestMCPBodyDeadline: a client that sends the headers and half a body,
// then stalls, gets 408 once the body timeout passes instead of holding
// the handler forever.
func TestMCPBodyDeadline(t *testing.T) {
	checkNoLeak(t)
	db := memDB(t)
	ts := httptest.NewServer(newHTTPHandler(newMCPServer(db, inmem.Namespace{}), "s3cret", nil, 100*time.Millisecond, nil))
	defer ts.Close()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close() // also ends the handler if it never gave up
	_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer s3cret\r\n"+
		"Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"+
		"Content-Length: %d\r\n\r\n%s", mcpPath, ts.Listener.Addr(), len(initBody), initBody[:len(initBody)/2])
	require.NoError(t, err)
	// A bound on a server that never cuts the request, not a speed check.
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "the server did not cut the stalled body")
	resp.Body.Close()
	require.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
}

func TestCheckListenAddr(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:8765", "localhost:0", "[::1]:9000", "127.0.0.2:1"} {
		require.NoError(t, checkListenAddr(ok, false), ok)
	}
	for _, bad := range []string{":8765", "0.0.0.0:8765", "192.168.1.2:80", "example.com:80"} {
		require.Error(t, checkListenAddr(bad, false), bad)
		require.NoError(t, checkListenAddr(bad, true), bad)
	}
	require.Error(t, checkListenAddr("8765", true), "no port")
}

func TestOriginAllowed(t *testing.T) {
	allowed := map[string]bool{"https://app.example": true}
	for _, ok := range []string{"", "http://localhost", "http://127.0.0.1:3000", "http://[::1]:8080", "https://app.example"} {
		require.True(t, originAllowed(ok, allowed), ok)
	}
	for _, bad := range []string{"null", "https://evil.example", "http://localhost.evil.example", "file://", "https://app.example:444"} {
		require.False(t, originAllowed(bad, allowed), bad)
	}
}
