package history_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/history"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// giteaServer answers Gitea's compare and commit API as Gitea 1.26 does:
// compare with the given status and body, and a commit lookup 404 for the
// commits in missing. It records each request and its Authorization.
func giteaServer(t *testing.T, code int, body string, missing ...string) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(r.URL.Path, "/git/commits/") {
			for _, m := range missing {
				if strings.HasSuffix(r.URL.Path, "/"+m) {
					http.Error(w, `{"message":"commit doesn't exist"}`, http.StatusNotFound)
					return
				}
			}
			w.Write([]byte(`{"sha":"x"}`))
			return
		}
		w.WriteHeader(code)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got...) }
}

func TestGitea(t *testing.T) {
	ctx := context.Background()
	a, d := strings.Repeat("a", 40), strings.Repeat("d", 40)
	for _, tc := range []struct {
		name      string
		code      int
		body      string
		missing   []string
		want      bool
		permanent bool
		retryable bool
	}{
		{name: "ancestor", code: 200, body: `{"total_commits":0,"commits":[]}`, want: true},
		{name: "not an ancestor", code: 200, body: `{"total_commits":2,"commits":[{},{}]}`},
		{name: "unknown repository", code: 404, body: `{"message":"Not Found"}`},
		{name: "unknown commit", code: 500, body: `{"message":""}`, missing: []string{a}},
		{name: "server error", code: 500, body: `{"message":""}`, retryable: true},
		{name: "bad token", code: 401, body: `{"message":"token is required"}`, permanent: true},
		{name: "no access", code: 403, body: `{"message":"token does not have required scope"}`, permanent: true},
		{name: "rate limited", code: 429, body: `{"message":"slow down"}`, retryable: true},
		{name: "not a compare answer", code: 200, body: `{}`, permanent: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, requests := giteaServer(t, tc.code, tc.body, tc.missing...)
			g, err := history.NewGitea(srv.URL+"/git/", "tok", nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := g.IsAncestor(ctx, srv.URL+"/git/Acme/Web.git", a, d)
			switch {
			case tc.permanent:
				if err == nil || !retry.IsPermanent(err) {
					t.Fatalf("IsAncestor = %v, %v; want a permanent error", got, err)
				}
			case tc.retryable:
				if err == nil || retry.IsPermanent(err) {
					t.Fatalf("IsAncestor = %v, %v; want a retryable error", got, err)
				}
			case err != nil || got != tc.want:
				t.Fatalf("IsAncestor = %v, %v; want %v", got, err, tc.want)
			}
			// descendant...ancestor: the commits of ancestor that
			// descendant lacks.
			want := "GET /git/api/v1/repos/acme/web/compare/" + d + "..." + a + "?verification=false&files=false token tok"
			if r := requests(); len(r) == 0 || r[0] != want {
				t.Fatalf("requests %q, want first %q", r, want)
			}
		})
	}
}

func TestGiteaRefusesOtherRepositories(t *testing.T) {
	srv, requests := giteaServer(t, 200, `{"total_commits":0}`)
	g, err := history.NewGitea(srv.URL+"/git", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	a, d := strings.Repeat("a", 40), strings.Repeat("d", 40)
	for _, repo := range []string{"acme/web", "https://github.com/acme/web", srv.URL + "/acme/web", srv.URL + "/git/a/b/c", "/src/web"} {
		if _, err := g.IsAncestor(context.Background(), repo, a, d); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", repo, err)
		}
	}
	if r := requests(); len(r) != 0 {
		t.Fatalf("asked Gitea about another repository: %q", r)
	}
	for _, bad := range []string{"", "gitea.example.com", "ftp://gitea.example.com"} {
		if _, err := history.NewGitea(bad, "", nil); err == nil {
			t.Errorf("NewGitea(%q) accepted", bad)
		}
	}
}

func TestReposRoutesGitea(t *testing.T) {
	srv, requests := giteaServer(t, 200, `{"total_commits":0}`)
	g, err := history.NewGitea(srv.URL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	gh, paths := fakeCompare(t, 200, `{"status":"behind"}`, nil)
	r := history.Repos{GitHub: history.NewGitHub(gh, "github.com"), Gitea: g}
	a, d := strings.Repeat("a", 40), strings.Repeat("d", 40)
	if ok, err := r.IsAncestor(context.Background(), srv.URL+"/acme/web", a, d); err != nil || !ok {
		t.Fatalf("Gitea repository: %v, %v; want Gitea's answer", ok, err)
	}
	if ok, err := r.IsAncestor(context.Background(), "acme/web", a, d); err != nil || ok {
		t.Fatalf("GitHub repository: %v, %v; want GitHub's behind", ok, err)
	}
	if len(requests()) != 1 || len(*paths) != 1 {
		t.Fatalf("Gitea asked %d times, GitHub %d; want once each", len(requests()), len(*paths))
	}
}
