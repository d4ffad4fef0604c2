package local

import (
	"context"
	"strings"
	"testing"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/google/go-cmp/cmp"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/forge/giteaforge"
	"github.com/conveyor-gitops/conveyor/shared/forge/githubforge"
	"github.com/conveyor-gitops/conveyor/shared/githubauth"
)

func TestSelectForge(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		location string
		spec     ForgeSpec
		want     forgeTarget
		wantErr  []string // substrings the error must hold
	}{
		{name: "a path is local", location: dir, want: forgeTarget{kind: ForgeLocal}},
		{name: "a file URL is local", location: "file://" + dir, want: forgeTarget{kind: ForgeLocal}},
		{name: "github.com is GitHub", location: "https://github.com/acme/gitops.git",
			want: forgeTarget{kind: ForgeGitHub, api: githubauth.DefaultAPI, loc: forge.Location{Base: "https://github.com", Host: "github.com", Owner: "acme", Name: "gitops"}}},
		{name: "any other URL names the flag", location: "https://gitea.example.com/acme/gitops",
			wantErr: []string{"--forge gitea", "$CONVEYOR_FORGE=gitea", "--forge-url"}},
		{name: "github.com is not guessed from a look-alike", location: "https://github.com.example.com/acme/gitops", wantErr: []string{"--forge gitea"}},
		{name: "gitea at the host's root", location: "https://gitea.example.com/acme/gitops.git", spec: ForgeSpec{Kind: "gitea"},
			want: forgeTarget{kind: ForgeGitea, api: "https://gitea.example.com", loc: forge.Location{Base: "https://gitea.example.com", Host: "gitea.example.com", Owner: "acme", Name: "gitops"}}},
		{name: "gitea under a sub-path", location: "https://example.com/git/acme/gitops", spec: ForgeSpec{Kind: "Gitea"},
			want: forgeTarget{kind: ForgeGitea, api: "https://example.com/git", loc: forge.Location{Base: "https://example.com/git", Host: "example.com", Owner: "acme", Name: "gitops"}}},
		{name: "gitea with its API elsewhere", location: "https://git.example.com/acme/gitops", spec: ForgeSpec{Kind: "gitea", URL: "https://api.example.com/gitea"},
			want: forgeTarget{kind: ForgeGitea, api: "https://api.example.com/gitea", loc: forge.Location{Base: "https://git.example.com", Host: "git.example.com", Owner: "acme", Name: "gitops"}}},
		{name: "gitea on loopback over http", location: "http://127.0.0.1:3000/acme/gitops", spec: ForgeSpec{Kind: "gitea"},
			want: forgeTarget{kind: ForgeGitea, api: "http://127.0.0.1:3000", loc: forge.Location{Base: "http://127.0.0.1:3000", Host: "127.0.0.1:3000", Owner: "acme", Name: "gitops"}}},
		{name: "gitea over plain http elsewhere", location: "http://gitea.example.com/acme/gitops", spec: ForgeSpec{Kind: "gitea"}, wantErr: []string{"--forge-url", "https"}},
		{name: "a plain http API elsewhere", location: "https://gitea.example.com/acme/gitops", spec: ForgeSpec{Kind: "gitea", URL: "http://gitea.example.com"}, wantErr: []string{"--forge-url http://gitea.example.com"}},
		{name: "gitlab with nested groups", location: "https://gitlab.example.com/acme/platform/gitops.git", spec: ForgeSpec{Kind: "gitlab"},
			want: forgeTarget{kind: ForgeGitLab, api: "https://gitlab.example.com", project: "acme/platform/gitops",
				loc: forge.Location{Base: "https://gitlab.example.com/acme", Host: "gitlab.example.com", Owner: "platform", Name: "gitops"}}},
		{name: "gitlab under a relative root", location: "https://example.com/gitlab/acme/gitops", spec: ForgeSpec{Kind: "gitlab", URL: "https://example.com/gitlab/api/v4"},
			want: forgeTarget{kind: ForgeGitLab, api: "https://example.com/gitlab/api/v4", project: "acme/gitops",
				loc: forge.Location{Base: "https://example.com/gitlab", Host: "example.com", Owner: "acme", Name: "gitops"}}},
		{name: "gitlab repository outside its root", location: "https://example.com/other/acme/gitops", spec: ForgeSpec{Kind: "gitlab", URL: "https://example.com/gitlab"},
			wantErr: []string{"not under the GitLab at https://example.com/gitlab"}},
		{name: "gitlab over plain http elsewhere", location: "http://gitlab.example.com/acme/gitops", spec: ForgeSpec{Kind: "gitlab"}, wantErr: []string{"--forge-url", "https"}},
		{name: "gitea needs owner and repository", location: "https://gitea.example.com/acme", spec: ForgeSpec{Kind: "gitea"}, wantErr: []string{"OWNER/REPO"}},
		{name: "gitea needs a URL", location: dir, spec: ForgeSpec{Kind: "gitea"}, wantErr: []string{"--forge gitea", "http(s)"}},
		{name: "GitHub Enterprise needs its API", location: "https://ghe.example.com/acme/gitops", spec: ForgeSpec{Kind: "github"}, wantErr: []string{"--forge-url https://ghe.example.com/api/v3/"}},
		{name: "GitHub Enterprise", location: "https://ghe.example.com/acme/gitops", spec: ForgeSpec{Kind: "github", URL: "https://ghe.example.com/api/v3/"},
			want: forgeTarget{kind: ForgeGitHub, api: "https://ghe.example.com/api/v3/", loc: forge.Location{Base: "https://ghe.example.com", Host: "ghe.example.com", Owner: "acme", Name: "gitops"}}},
		{name: "GitHub has no sub-path", location: "https://github.com/x/acme/gitops", spec: ForgeSpec{Kind: "github"}, wantErr: []string{"OWNER/REPO"}},
		{name: "local needs a path", location: "https://github.com/acme/gitops", spec: ForgeSpec{Kind: "local"}, wantErr: []string{"--forge local|github|gitea|gitlab"}},
		{name: "local has no API", location: dir, spec: ForgeSpec{Kind: "local", URL: "https://x"}, wantErr: []string{"--forge-url"}},
		{name: "an unknown kind", location: "https://gitlab.example.com/acme/gitops", spec: ForgeSpec{Kind: "bitbucket"}, wantErr: []string{`--forge "bitbucket"`, "--forge local|github|gitea|gitlab"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := selectForge(tc.location, tc.spec)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("selectForge = %+v, want an error", got)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(forgeTarget{})); diff != "" {
				t.Errorf("selectForge (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGiteaGitAuth checks which credentials git gets for a GitOps
// repository on Gitea: its token for its host only, $CONVEYOR_GIT_TOKEN for
// its own host; that they reach only the server they are meant for is
// giteaforge's TestGitAuthSendsTheTokenOnlyToTheForgeHost.
func TestGiteaGitAuth(t *testing.T) {
	t.Setenv(EnvGiteaToken, "gitea_tok")
	t.Setenv("CONVEYOR_GIT_TOKEN", "ghs_tok")
	t.Setenv("CONVEYOR_GIT_TOKEN_HOST", "")
	gitea := &githttp.BasicAuth{Username: giteaforge.GitUser, Password: "gitea_tok"}
	github := &githttp.BasicAuth{Username: "x-access-token", Password: "ghs_tok"}
	for _, tc := range []struct {
		name, location, url string
		want                *githttp.BasicAuth
	}{
		{"the GitOps repository", "https://gitea.example.com/acme/gitops", "https://gitea.example.com/acme/gitops", gitea},
		{"a source on the same Gitea", "https://gitea.example.com/acme/gitops", "https://gitea.example.com/acme/web.git", gitea},
		{"a loopback Gitea over http", "http://127.0.0.1:3000/acme/gitops", "http://127.0.0.1:3000/acme/gitops", gitea},
		{"another host", "https://gitea.example.com/acme/gitops", "https://evil.example.com/acme/gitops", nil},
		{"the same host over http", "https://gitea.example.com/acme/gitops", "http://gitea.example.com/acme/gitops", nil},
		{"github.com keeps its own token", "https://gitea.example.com/acme/gitops", "https://github.com/acme/web", github},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, err := selectForge(tc.location, ForgeSpec{Kind: ForgeGitea})
			if err != nil {
				t.Fatal(err)
			}
			auth, err := target.gitAuth()(context.Background(), tc.url)
			if err != nil {
				t.Fatal(err)
			}
			var got *githttp.BasicAuth
			if auth != nil {
				got = auth.(*githttp.BasicAuth)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("credentials for %s (-want +got):\n%s", tc.url, diff)
			}
		})
	}
}

// TestOpenGitOpsSelectsTheForge opens a runtime on remote GitOps
// repositories and checks which adapter, name and history each gets.
func TestOpenGitOpsSelectsTheForge(t *testing.T) {
	cfg := func(context.Context) (*config.Config, error) { return &config.Config{}, nil }
	for _, tc := range []struct {
		name, location string
		spec           ForgeSpec
		env            map[string]string
		wantRepo       string
		wantGitea      bool
		wantErr        string
	}{
		{name: "github", location: "https://github.com/acme/gitops", env: map[string]string{EnvGitHubToken: "t"}, wantRepo: "acme/gitops"},
		{name: "github without a token", location: "https://github.com/acme/gitops", wantErr: "set CONVEYOR_GITHUB_TOKEN"},
		{name: "gitea", location: "https://example.com/git/acme/gitops.git", spec: ForgeSpec{Kind: ForgeGitea}, env: map[string]string{EnvGiteaToken: "t"}, wantRepo: "acme/gitops", wantGitea: true},
		{name: "gitea without a token", location: "https://gitea.example.com/acme/gitops", spec: ForgeSpec{Kind: ForgeGitea}, wantErr: "set CONVEYOR_GITEA_TOKEN"},
		{name: "no forge named", location: "https://gitea.example.com/acme/gitops", wantErr: "--forge gitea"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvGitHubToken, "")
			t.Setenv(EnvGiteaToken, "")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var r Runtime // a remote forge needs nothing of the runtime's own
			g, err := r.OpenGitOps(context.Background(), tc.location, cfg, WithForge(tc.spec))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("OpenGitOps error = %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g.Repository != tc.wantRepo || g.Local != nil {
				t.Errorf("Repository = %q (local %v), want %q on a remote forge", g.Repository, g.Local != nil, tc.wantRepo)
			}
			switch g.Teams.(type) {
			case *giteaforge.Forge:
				if !tc.wantGitea {
					t.Errorf("teams from Gitea, want GitHub")
				}
			case *githubforge.Forge:
				if tc.wantGitea {
					t.Errorf("teams from GitHub, want Gitea")
				}
			default:
				t.Errorf("teams from %T", g.Teams)
			}
			if (g.Ancestry.Gitea != nil) != tc.wantGitea {
				t.Errorf("source history on Gitea = %v, want %v", g.Ancestry.Gitea != nil, tc.wantGitea)
			}
		})
	}
}
