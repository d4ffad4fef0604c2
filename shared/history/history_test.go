package history_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/google/go-github/v60/github"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/history"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// forkedRepo returns a repository whose main went first → second, then was
// force-pushed to first → rewritten, with the commits' names.
func forkedRepo(t *testing.T) (string, map[string]string) {
	t.Helper()
	repo, err := demo.InitRepo(filepath.Join(t.TempDir(), "web"))
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	first, err := repo.Commit(map[string]string{"a": "1"}, "first", when)
	if err != nil {
		t.Fatal(err)
	}
	second, err := repo.Commit(map[string]string{"a": "2"}, "second", when.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	g, err := git.PlainOpen(repo.Dir)
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := g.Worktree()
	if err := wt.Reset(&git.ResetOptions{Commit: first.Hash, Mode: git.HardReset}); err != nil {
		t.Fatal(err)
	}
	rewritten, err := repo.Commit(map[string]string{"a": "3"}, "rewritten", when.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(rewritten.ParentHashes) != 1 || rewritten.ParentHashes[0] != first.Hash {
		t.Fatalf("rewritten's parents %v, want %s", rewritten.ParentHashes, first.Hash)
	}
	return repo.Dir, map[string]string{"first": first.Hash.String(), "second": second.Hash.String(),
		"rewritten": rewritten.Hash.String(), "unknown": strings.Repeat("ab", 20)}
}

func TestLocal(t *testing.T) {
	dir, c := forkedRepo(t)
	ctx := context.Background()
	for _, tc := range []struct {
		ancestor, descendant string
		want                 bool
	}{
		{"first", "second", true},
		{"second", "first", false},
		{"second", "second", true},
		{"second", "rewritten", false},
		{"rewritten", "second", false},
		{"first", "rewritten", true},
		{"unknown", "second", false},
		{"second", "unknown", false},
	} {
		for _, loc := range []string{dir, (&url.URL{Scheme: "file", Path: dir}).String()} {
			t.Run(fmt.Sprintf("%s-%s-%s", tc.ancestor, tc.descendant, loc[:4]), func(t *testing.T) {
				got, err := history.Local{}.IsAncestor(ctx, loc, c[tc.ancestor], c[tc.descendant])
				if err != nil || got != tc.want {
					t.Fatalf("IsAncestor(%s, %s) = %v, %v; want %v", tc.ancestor, tc.descendant, got, err, tc.want)
				}
			})
		}
	}
	if _, err := (history.Local{}).IsAncestor(ctx, "https://github.com/acme/web", c["first"], c["second"]); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("remote repository: %v, want ErrUnsupported", err)
	}
	if _, err := (history.Local{}).IsAncestor(ctx, filepath.Join(dir, "missing"), c["first"], c["second"]); err == nil || !retry.IsPermanent(err) {
		t.Fatalf("missing repository: %v, want a permanent error", err)
	}
}

// fakeCompare speaks GitHub's compare API under /api-v3/, answering status
// with code and body, and records the paths asked.
func fakeCompare(t *testing.T, code int, body string, header map[string]string) (*github.Client, *[]string) {
	t.Helper()
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := strings.CutPrefix(r.URL.EscapedPath(), "/api-v3")
		if !ok {
			t.Errorf("request outside the API base URL: %s", r.URL)
		}
		paths = append(paths, r.Method+" "+p+"?"+r.URL.RawQuery)
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(code)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c := github.NewClient(srv.Client())
	u, _ := url.Parse(srv.URL + "/api-v3/")
	c.BaseURL = u
	return c, &paths
}

func TestGitHub(t *testing.T) {
	ctx := context.Background()
	a, d := strings.Repeat("a", 40), strings.Repeat("d", 40)
	for _, tc := range []struct {
		name      string
		code      int
		body      string
		header    map[string]string
		want      bool
		permanent bool
		retryable bool
	}{
		{name: "ahead", code: 200, body: `{"status":"ahead","ahead_by":3}`, want: true},
		{name: "identical", code: 200, body: `{"status":"identical"}`, want: true},
		{name: "behind", code: 200, body: `{"status":"behind","behind_by":2}`},
		{name: "diverged", code: 200, body: `{"status":"diverged","ahead_by":1,"behind_by":1}`},
		{name: "unknown commit", code: 404, body: `{"message":"Not Found"}`},
		{name: "bad credentials", code: 401, body: `{"message":"Bad credentials"}`, permanent: true},
		{name: "server error", code: 502, body: `{"message":"Bad Gateway"}`, retryable: true},
		{name: "rate limited", code: 429, body: `{"message":"slow down"}`, retryable: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, paths := fakeCompare(t, tc.code, tc.body, tc.header)
			got, err := history.NewGitHub(c, "github.com").IsAncestor(ctx, "https://github.com/Acme/Web.git", a, d)
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
			if want := "GET /repos/acme/web/compare/" + a + "..." + d + "?per_page=1"; len(*paths) != 1 || (*paths)[0] != want {
				t.Fatalf("requests %q, want %q", *paths, want)
			}
		})
	}
	c, paths := fakeCompare(t, 200, `{"status":"ahead"}`, nil)
	for _, repo := range []string{"https://gitea.example.com/acme/web", "/src/web"} {
		if _, err := history.NewGitHub(c, "github.com").IsAncestor(ctx, repo, a, d); !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("%s: %v, want ErrUnsupported", repo, err)
		}
	}
	if len(*paths) != 0 {
		t.Fatalf("asked GitHub about another host's repository: %q", *paths)
	}
}

func TestReposRoutes(t *testing.T) {
	ctx := context.Background()
	dir, c := forkedRepo(t)
	gh, paths := fakeCompare(t, 200, `{"status":"behind"}`, nil)
	r := history.Repos{GitHub: history.NewGitHub(gh, "github.com")}
	if ok, err := r.IsAncestor(ctx, dir, c["first"], c["second"]); err != nil || !ok {
		t.Fatalf("local repository: %v, %v; want true from go-git", ok, err)
	}
	if ok, err := r.IsAncestor(ctx, "acme/web", c["first"], c["second"]); err != nil || ok {
		t.Fatalf("GitHub repository: %v, %v; want GitHub's behind", ok, err)
	}
	if len(*paths) != 1 {
		t.Fatalf("GitHub asked %d times, want once", len(*paths))
	}
	if _, err := (history.Repos{}).IsAncestor(ctx, "acme/web", c["first"], c["second"]); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("no GitHub access: %v, want ErrUnsupported", err)
	}
}
