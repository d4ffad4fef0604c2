package gitlabforge_test

import (
	"context"
	"testing"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/conveyor-gitops/conveyor/shared/forge/gitlabforge"
)

// TestGitAuth: the token goes, as oauth2's password, to the GitLab's own
// host only (the host and scheme rules themselves are forge.TokenGitAuth's,
// proven against real servers in giteaforge).
func TestGitAuth(t *testing.T) {
	token := func(context.Context) (string, error) { return "glpat-s3cret", nil }
	auth := gitlabforge.GitAuth("https://gitlab.example.com", token)
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"https://gitlab.example.com/acme/platform/gitops.git", true},
		{"https://GITLAB.example.com/acme/gitops.git", true},
		{"http://gitlab.example.com/acme/gitops.git", false},
		{"https://gitlab.example.com.evil.test/acme/gitops.git", false},
		{"https://github.com/acme/gitops.git", false},
	} {
		a, err := auth(context.Background(), tc.url)
		if err != nil {
			t.Fatal(err)
		}
		if (a != nil) != tc.want {
			t.Fatalf("GitAuth for %s = %v, want credentials %v", tc.url, a, tc.want)
		}
		if b, ok := a.(*githttp.BasicAuth); tc.want && (!ok || b.Username != "oauth2" || b.Password != "glpat-s3cret") {
			t.Fatalf("GitAuth for %s = %+v, want oauth2 and the token", tc.url, a)
		}
	}
}
