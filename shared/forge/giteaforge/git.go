package giteaforge

import (
	"context"
	"net/url"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/conveyor-gitops/conveyor/shared/forge"
)

// GitUser is the user name sent with the token for git over HTTP. Gitea
// authenticates the token given as the password and ignores the name.
const GitUser = "conveyor"

// GitAuth returns a go-git credential function for the Gitea at baseURL:
// basic auth GitUser and the token for repositories on baseURL's host,
// over https or over plain http to a loopback host (a Gitea on the same
// machine); no credentials for any other host or scheme, so the token
// never reaches another server nor a network in clear. A nil token, or a
// baseURL itself unsafe for credentials, gives none anywhere.
func GitAuth(baseURL string, token func(context.Context) (string, error)) func(ctx context.Context, repoURL string) (transport.AuthMethod, error) {
	base, err := url.Parse(baseURL)
	if err != nil || !forge.SafeForCredentials(base) {
		token = nil
	}
	return func(ctx context.Context, repoURL string) (transport.AuthMethod, error) {
		u, err := url.Parse(repoURL)
		if token == nil || err != nil || u.Scheme != base.Scheme || !strings.EqualFold(u.Host, base.Host) || !forge.SafeForCredentials(u) {
			return nil, nil
		}
		tok, err := token(ctx)
		if err != nil || tok == "" {
			return nil, err
		}
		return &githttp.BasicAuth{Username: GitUser, Password: tok}, nil
	}
}
