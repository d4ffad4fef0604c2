package local

import (
	"context"
	"testing"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/google/go-cmp/cmp"
)

// TestEnvGitAuth checks which credentials the local runtime's environment
// gives; that they reach only the server they are meant for is
// githubauth's TestGitAuthSendsTheTokenOnlyToItsHostOverHTTPS.
func TestEnvGitAuth(t *testing.T) {
	const token = "ghs_s3cret_token"
	basic := &githttp.BasicAuth{Username: "x-access-token", Password: token}
	for _, tc := range []struct {
		name, token, host, url string
		want                   *githttp.BasicAuth
	}{
		{"github.com by default", token, "", "https://github.com/acme/web.git", basic},
		{"its host", token, "git.example.com:8443", "https://git.example.com:8443/acme/web.git", basic},
		{"another host", token, "git.example.com:8443", "https://github.com/acme/web.git", nil},
		{"plain http", token, "git.example.com", "http://git.example.com/acme/web.git", nil},
		{"a local repository", token, "", "/srv/git/web", nil},
		{"no token", "", "", "https://github.com/acme/web.git", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CONVEYOR_GIT_TOKEN", tc.token)
			t.Setenv("CONVEYOR_GIT_TOKEN_HOST", tc.host)
			auth, err := EnvGitAuth(context.Background(), tc.url)
			if err != nil {
				t.Fatal(err)
			}
			var got *githttp.BasicAuth
			if auth != nil {
				got = auth.(*githttp.BasicAuth)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("EnvGitAuth(%s) (-want +got):\n%s", tc.url, diff)
			}
		})
	}
}
