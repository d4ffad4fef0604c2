package promote_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/forge/githubforge"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/google/go-github/v60/github"
)

type call struct {
	Method, Path string
	Body         map[string]any
}

// fakeGitHub answers the pull request API the way GitHub does for a repo
// with no open PR, recording every call.
func fakeGitHub(t *testing.T) (*httptest.Server, func() []call) {
	t.Helper()
	var mu sync.Mutex
	var calls []call
	pr := map[string]any{"number": 41, "html_url": "https://github.com/acme/gitops/pull/41", "state": "open", "title": "t",
		"user": map[string]any{"login": "conveyor[bot]"}, "mergeable": true, "merged": false,
		"head": map[string]any{"ref": "conveyor/dev/web", "sha": "5b4e3d2c1b0a99887766554433221100ffeeddcc"}, "base": map[string]any{"ref": "main"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c := call{Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, "/api-v3")}
		_ = json.Unmarshal(b, &c.Body)
		mu.Lock()
		calls = append(calls, c)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && c.Path == "/repos/acme/gitops/pulls":
			fmt.Fprint(w, "[]")
		case r.Method == http.MethodPost && c.Path == "/repos/acme/gitops/pulls":
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(pr)
		case c.Path == "/repos/acme/gitops/issues/41/labels":
			fmt.Fprint(w, `[{"name":"conveyor"}]`)
		case c.Path == "/repos/acme/gitops/pulls/41/requested_reviewers":
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(pr)
		case r.Method == http.MethodGet && c.Path == "/repos/acme/gitops/pulls/41":
			_ = json.NewEncoder(w).Encode(pr)
		case r.Method == http.MethodPut && c.Path == "/repos/acme/gitops/pulls/41/merge":
			fmt.Fprint(w, `{"sha":"9a8b7c6d5e4f30211a2b3c4d5e6f708192a3b4c5","merged":true,"message":"Pull Request successfully merged"}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"message":"Not Found: %s %s"}`, r.Method, c.Path)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []call { mu.Lock(); defer mu.Unlock(); return append([]call(nil), calls...) }
}

// TestThroughGitHub: the promotion's pull request goes through the GitHub
// adapter with the right API calls — find, create with title/head/base/
// body, labels, reviewers split into users and teams — and, for release
// auto, the merge with the configured method.
func TestThroughGitHub(t *testing.T) {
	for _, tc := range []struct {
		release string
		want    []string
	}{
		{"manual", []string{"GET /repos/acme/gitops/pulls", "POST /repos/acme/gitops/pulls", "POST /repos/acme/gitops/issues/41/labels",
			"POST /repos/acme/gitops/pulls/41/requested_reviewers"}},
		{"auto", []string{"GET /repos/acme/gitops/pulls", "POST /repos/acme/gitops/pulls", "POST /repos/acme/gitops/issues/41/labels",
			"GET /repos/acme/gitops/pulls/41", "PUT /repos/acme/gitops/pulls/41/merge"}},
	} {
		t.Run(tc.release, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, "manual")
			srv, calls := fakeGitHub(t)
			client := github.NewClient(nil)
			client.BaseURL, _ = url.Parse(srv.URL + "/api-v3/")
			f.p.Forge = githubforge.New(client, "acme", "gitops")
			envLine := "{name: dev, path: envs/dev, release: manual, reviewers: [alice, acme/sre], mergeMethod: squash}"
			if tc.release == "auto" {
				envLine = "{name: dev, path: envs/dev, release: auto, mergeMethod: squash}"
			}
			cfg, err := config.Parse("conveyor.yaml", []byte(fmt.Sprintf("version: 1\napps:\n  - name: web\n    source: {repo: acme/web}\n    image: %s\n    environments:\n      - %s\n", image, envLine)))
			if err != nil {
				t.Fatal(err)
			}
			f.p.Config = func(context.Context) (*config.Config, error) { return cfg, nil }
			out, err := f.p.Promote(ctx, promotion(3, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range calls() {
				got = append(got, c.Method+" "+c.Path)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("GitHub calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			all := calls()
			create := all[1].Body
			if create["head"] != "conveyor/dev/web" || create["base"] != "main" || !strings.HasPrefix(create["title"].(string), "Promote web to dev") ||
				!strings.Contains(create["body"].(string), digest(3)) {
				t.Fatalf("create body %v", create)
			}
			if tc.release == "manual" {
				rr := all[3].Body
				if fmt.Sprint(rr["reviewers"]) != "[alice]" || fmt.Sprint(rr["team_reviewers"]) != "[sre]" {
					t.Fatalf("reviewers request %v, want user alice and team sre", rr)
				}
				if out.Action != promote.Opened {
					t.Fatalf("action %s", out.Action)
				}
			} else {
				if m := all[len(all)-1].Body; m["merge_method"] != "squash" {
					t.Fatalf("merge body %v, want squash", m)
				}
				if out.Action != promote.Merged {
					t.Fatalf("action %s, want merged", out.Action)
				}
			}
		})
	}
}
