package gitlabforge

import (
	"context"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/conveyor-gitops/conveyor/shared/forge"
)

// GitUser is the user name sent with an access token for git over HTTP:
// GitLab takes any name with a personal, project or group access token
// and needs "oauth2" with an OAuth token, so "oauth2" serves both.
const GitUser = "oauth2"

// GitAuth returns a go-git credential function for the GitLab at baseURL:
// GitUser and the token, to baseURL's host only (forge.TokenGitAuth).
func GitAuth(baseURL string, token func(context.Context) (string, error)) func(ctx context.Context, repoURL string) (transport.AuthMethod, error) {
	return forge.TokenGitAuth(baseURL, GitUser, token)
}
