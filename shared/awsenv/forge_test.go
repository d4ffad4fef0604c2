package awsenv

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/google/go-cmp/cmp"

	"github.com/conveyor-gitops/conveyor/shared/forge/giteaforge"
	"github.com/conveyor-gitops/conveyor/shared/forge/githubforge"
	"github.com/conveyor-gitops/conveyor/shared/forge/gitlabforge"
)

func TestLoadForge(t *testing.T) {
	const gitops = "https://gitea.example.com/git/acme/gitops.git"
	for _, tc := range []struct {
		name     string
		env      map[string]string
		want     ForgeConfig
		problems map[string]string
	}{
		{name: "github by default", env: map[string]string{"CONVEYOR_GITOPS_REPO": "https://github.com/acme/gitops", "CONVEYOR_GITHUB_TOKEN": "t"},
			want: ForgeConfig{Kind: ForgeGitHub}},
		{name: "gitea under a sub-path", env: map[string]string{"CONVEYOR_GITOPS_REPO": gitops, "CONVEYOR_FORGE": "gitea", "CONVEYOR_GITEA_TOKEN_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:g"},
			want: ForgeConfig{Kind: ForgeGitea, URL: "https://gitea.example.com/git", Owner: "acme", Repo: "gitops",
				GiteaToken: Secret{Name: VarGiteaToken, ARN: "arn:aws:secretsmanager:us-east-1:1:secret:g"}}},
		{name: "gitea with its URL given", env: map[string]string{"CONVEYOR_GITOPS_REPO": gitops, "CONVEYOR_FORGE": "Gitea", "CONVEYOR_GITEA_TOKEN": "t",
			"CONVEYOR_FORGE_URL": "https://gitea.example.com/git/"},
			want: ForgeConfig{Kind: ForgeGitea, URL: "https://gitea.example.com/git", Owner: "acme", Repo: "gitops", GiteaToken: PlainSecret(VarGiteaToken, "t")}},
		{name: "gitea needs its token", env: map[string]string{"CONVEYOR_GITOPS_REPO": gitops, "CONVEYOR_FORGE": "gitea"},
			problems: map[string]string{"CONVEYOR_GITEA_TOKEN_ARN": "is not set (or CONVEYOR_GITEA_TOKEN for local runs)"}},
		{name: "gitea needs OWNER/REPO", env: map[string]string{"CONVEYOR_GITOPS_REPO": "https://gitea.example.com/acme", "CONVEYOR_FORGE": "gitea", "CONVEYOR_GITEA_TOKEN": "t"},
			problems: map[string]string{"CONVEYOR_GITOPS_REPO": "is not an https://HOST[/SUB-PATH]/OWNER/REPO URL, which CONVEYOR_FORGE=gitea needs"}},
		{name: "no token in clear", env: map[string]string{"CONVEYOR_GITOPS_REPO": gitops, "CONVEYOR_FORGE": "gitea", "CONVEYOR_GITEA_TOKEN": "t",
			"CONVEYOR_FORGE_URL": "http://gitea.example.com"},
			problems: map[string]string{"CONVEYOR_FORGE_URL": "must be https (plain http only to 127.0.0.1, ::1 or localhost): the Gitea token goes there"}},
		{name: "a loopback Gitea over http", env: map[string]string{"CONVEYOR_GITOPS_REPO": "http://127.0.0.1:3000/acme/gitops", "CONVEYOR_FORGE": "gitea", "CONVEYOR_GITEA_TOKEN": "t"},
			want: ForgeConfig{Kind: ForgeGitea, URL: "http://127.0.0.1:3000", Owner: "acme", Repo: "gitops", GiteaToken: PlainSecret(VarGiteaToken, "t")}},
		{name: "an unknown forge", env: map[string]string{"CONVEYOR_GITOPS_REPO": gitops, "CONVEYOR_FORGE": "svn"},
			problems: map[string]string{"CONVEYOR_FORGE": "is not github, gitea or gitlab"}},
		{name: "gitlab with nested groups", env: map[string]string{"CONVEYOR_GITOPS_REPO": "https://gitlab.example.com/acme/platform/gitops.git", "CONVEYOR_FORGE": "gitlab", "CONVEYOR_GITLAB_TOKEN": "t"},
			want: ForgeConfig{Kind: ForgeGitLab, URL: "https://gitlab.example.com", Project: "acme/platform/gitops", GitLabToken: PlainSecret(VarGitLabToken, "t")}},
		{name: "gitlab under a relative root", env: map[string]string{"CONVEYOR_GITOPS_REPO": "https://example.com/gitlab/acme/gitops", "CONVEYOR_FORGE": "gitlab", "CONVEYOR_GITLAB_TOKEN": "t",
			"CONVEYOR_FORGE_URL": "https://example.com/gitlab"},
			want: ForgeConfig{Kind: ForgeGitLab, URL: "https://example.com/gitlab", Project: "acme/gitops", GitLabToken: PlainSecret(VarGitLabToken, "t")}},
		{name: "gitlab needs its token", env: map[string]string{"CONVEYOR_GITOPS_REPO": "https://gitlab.example.com/acme/gitops", "CONVEYOR_FORGE": "gitlab"},
			problems: map[string]string{"CONVEYOR_GITLAB_TOKEN_ARN": "is not set (or CONVEYOR_GITLAB_TOKEN for local runs)"}},
		{name: "gitlab needs a group", env: map[string]string{"CONVEYOR_GITOPS_REPO": "https://gitlab.example.com/gitops", "CONVEYOR_FORGE": "gitlab", "CONVEYOR_GITLAB_TOKEN": "t"},
			problems: map[string]string{"CONVEYOR_GITOPS_REPO": "is not an https://HOST/GROUP[/SUBGROUP…]/PROJECT URL, which CONVEYOR_FORGE=gitlab needs"}},
		{name: "no gitlab token in clear", env: map[string]string{"CONVEYOR_GITOPS_REPO": "http://gitlab.example.com/acme/gitops", "CONVEYOR_FORGE": "gitlab", "CONVEYOR_GITLAB_TOKEN": "t"},
			problems: map[string]string{"CONVEYOR_FORGE_URL": "must be https (plain http only to 127.0.0.1, ::1 or localhost): the GitLab token goes there"}},
		{name: "GitHub's API has its own variable", env: map[string]string{"CONVEYOR_GITOPS_REPO": "https://github.com/acme/gitops", "CONVEYOR_GITHUB_TOKEN": "t",
			"CONVEYOR_FORGE_URL": "https://api.github.com/"},
			problems: map[string]string{"CONVEYOR_FORGE_URL": "is for a self-hosted forge: GitHub's API is CONVEYOR_GITHUB_API_URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(env(tc.env), Forge)
			var ce *ConfigError
			switch {
			case errors.As(err, &ce):
				if diff := cmp.Diff(tc.problems, ce.Problems); diff != "" {
					t.Fatalf("problems (-want +got):\n%s", diff)
				}
				return
			case err != nil:
				t.Fatal(err)
			case tc.problems != nil:
				t.Fatalf("Load accepted %v, want problems %v", tc.env, tc.problems)
			}
			if diff := cmp.Diff(tc.want, c.Forge, cmp.AllowUnexported(Secret{})); diff != "" {
				t.Errorf("forge (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEnvGiteaForge opens the Gitea forge of a configuration and checks
// that its API calls carry the token from the secret, and git gets it for
// the Gitea's host only.
func TestEnvGiteaForge(t *testing.T) {
	var mu sync.Mutex
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Write([]byte(`[]`))
	}))
	t.Cleanup(srv.Close)
	cfg, err := Load(env(map[string]string{"CONVEYOR_GITOPS_REPO": srv.URL + "/git/acme/gitops", "CONVEYOR_FORGE": "gitea",
		"CONVEYOR_GITEA_TOKEN_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:g", "CONVEYOR_GITHUB_TOKEN": "ghs"}), Forge)
	if err != nil {
		t.Fatal(err)
	}
	e := New(aws.Config{}, cfg, nil)
	e.secrets.api = &fakeSecrets{value: "gitea-tok"} // the secrets cache the token source reads through
	if !e.HasForge() || e.Repository() != "acme/gitops" {
		t.Fatalf("HasForge %v, Repository %q; want the Gitea repository acme/gitops", e.HasForge(), e.Repository())
	}
	f, err := e.Forge()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.(*giteaforge.Forge); !ok {
		t.Fatalf("Forge is %T, want *giteaforge.Forge", f)
	}
	if _, err := f.ListMerged(context.Background(), "conveyor", 5); err != nil {
		t.Fatal(err)
	}
	h, err := e.History()
	if err != nil || h.Gitea == nil || h.GitHub == nil {
		t.Fatalf("History = %+v, %v; want Gitea and GitHub", h, err)
	}
	want := "/git/api/v1/repos/acme/gitops/pulls token gitea-tok@arn:aws:secretsmanager:us-east-1:1:secret:g"
	if len(auth) != 1 || auth[0] != want {
		t.Fatalf("Gitea received %q, want %q", auth, want)
	}

	for _, tc := range []struct {
		url, user string
	}{
		{srv.URL + "/git/acme/web.git", giteaforge.GitUser},
		{"https://github.com/acme/web.git", "x-access-token"},
		{strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/git/acme/web.git", ""},
		{"https://gitea.example.com/acme/web.git", ""},
	} {
		a, err := e.GitAuth()(context.Background(), tc.url)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if a != nil {
			got = a.(*githttp.BasicAuth).Username
		}
		if got != tc.user {
			t.Errorf("git credentials for %s: user %q, want %q", tc.url, got, tc.user)
		}
	}
}

func TestEnvGitHubForge(t *testing.T) {
	cfg, err := Load(env(map[string]string{"CONVEYOR_GITOPS_REPO": "https://github.com/acme/gitops", "CONVEYOR_GITHUB_TOKEN": "t"}), Forge)
	if err != nil {
		t.Fatal(err)
	}
	e := New(aws.Config{}, cfg, nil)
	f, err := e.Forge()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.(*githubforge.Forge); !ok || e.Repository() != "acme/gitops" || !e.HasForge() {
		t.Fatalf("Forge %T, Repository %q; want GitHub's acme/gitops", f, e.Repository())
	}
	if h, err := e.History(); err != nil || h.GitHub == nil || h.Gitea != nil {
		t.Fatalf("History = %+v, %v; want GitHub only", h, err)
	}
}

// TestEnvGitLabForge: a GitLab stack opens the GitLab adapter on the
// project's full path, sends the token read through the secrets cache as
// PRIVATE-TOKEN, and orders sources without a GitHub history.
func TestEnvGitLabForge(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.EscapedPath()+" "+r.Header.Get("PRIVATE-TOKEN"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`[]`))
	}))
	t.Cleanup(srv.Close)
	cfg, err := Load(env(map[string]string{"CONVEYOR_GITOPS_REPO": srv.URL + "/acme/platform/gitops", "CONVEYOR_FORGE": "gitlab",
		"CONVEYOR_GITLAB_TOKEN_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:gl"}), Forge)
	if err != nil {
		t.Fatal(err)
	}
	e := New(aws.Config{}, cfg, nil)
	e.secrets.api = &fakeSecrets{value: "glpat"}
	if !e.HasForge() || e.Repository() != "acme/platform/gitops" {
		t.Fatalf("HasForge %v, Repository %q; want the GitLab project acme/platform/gitops", e.HasForge(), e.Repository())
	}
	f, err := e.Forge()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.(*gitlabforge.Forge); !ok {
		t.Fatalf("Forge is %T, want *gitlabforge.Forge", f)
	}
	if _, err := f.ListMerged(context.Background(), "conveyor", 5); err != nil {
		t.Fatal(err)
	}
	if h, err := e.History(); err != nil || h.GitHub != nil || h.Gitea != nil {
		t.Fatalf("History = %+v, %v; want none, without error", h, err)
	}
	want := "/api/v4/projects/acme%2Fplatform%2Fgitops/merge_requests glpat@arn:aws:secretsmanager:us-east-1:1:secret:gl"
	if len(seen) == 0 || seen[0] != want {
		t.Fatalf("GitLab received %q, want first %q", seen, want)
	}
}
