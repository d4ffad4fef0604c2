package giteaforge

import (
	"context"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/conveyor-gitops/conveyor/shared/forge"
)

// GitUser is the user name sent with the token for git over HTTP. Gitea
// authenticates the token given as the password and ignores the name.
const GitUser = "conveyor"

// GitAuth returns a go-git credential function for the Gitea at baseURL:
// GitUser and the token, to baseURL's host only (forge.TokenGitAuth).
func GitAuth(baseURL string, token func(context.Context) (string, error)) func(ctx context.Context, repoURL string) (transport.AuthMethod, error) {
	return forge.TokenGitAuth(baseURL, GitUser, token)
}
