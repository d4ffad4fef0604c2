package local_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
)

// TestBoardSharesTheIngressPort mounts a board: it answers /, while the
// webhooks, /healthz and /readyz keep their handlers.
func TestBoardSharesTheIngressPort(t *testing.T) {
	rt, err := local.Open(context.Background(), local.Options{DataDir: t.TempDir(), GitHubSecret: []byte("s"), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	rt.ServeBoard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "board "+r.URL.Path) }))
	srv := httptest.NewServer(rt.Handler())
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{http.MethodGet, "/", 200, "board /"},
		{http.MethodGet, "/apps/web", 200, "board /apps/web"},
		{http.MethodPost, webhook.PathGitHub, 401, ""},
		{http.MethodGet, webhook.PathHealth, 200, `"status"`},
		{http.MethodGet, local.PathReady, 503, `"status"`},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.body) {
			t.Errorf("%s %s: %d %q, want %d with %q", tc.method, tc.path, resp.StatusCode, b, tc.code, tc.body)
		}
	}
}
