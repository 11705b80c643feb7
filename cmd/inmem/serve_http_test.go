package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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

// TestMCPOverHTTP: the HTTP transport refuses a request with no token or
// a wrong one (401), one from a foreign browser origin even with the
// token (403), and an oversized body (413); a loopback origin and the
// SDK's client with the token get through and can call tools.
func TestMCPOverHTTP(t *testing.T) {
	checkNoLeak(t)
	db := memDB(t)
	ts := httptest.NewServer(newHTTPHandler(newMCPServer(db), "s3cret", []string{"https://app.example"}))
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
	require.Equal(t, http.StatusRequestEntityTooLarge, post(strings.Repeat(" ", maxBodyBytes+1), map[string]string{"Authorization": "Bearer s3cret"}))
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
