package forge

import (
	"context"
	"net/url"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// TokenGitAuth returns a go-git credential function for a self-hosted
// forge at baseURL: basic auth user and the token for repositories on
// baseURL's host and scheme, over https or over plain http to a loopback
// host; no credentials for any other host or scheme, so the token never
// reaches another server nor a network in clear. A nil token, or a
// baseURL itself unsafe for credentials, gives none anywhere.
func TokenGitAuth(baseURL, user string, token func(context.Context) (string, error)) func(ctx context.Context, repoURL string) (transport.AuthMethod, error) {
	base, err := url.Parse(baseURL)
	if err != nil || !SafeForCredentials(base) {
		token = nil
	}
	return func(ctx context.Context, repoURL string) (transport.AuthMethod, error) {
		u, err := url.Parse(repoURL)
		if token == nil || err != nil || u.Scheme != base.Scheme || !strings.EqualFold(u.Host, base.Host) || !SafeForCredentials(u) {
			return nil, nil
		}
		tok, err := token(ctx)
		if err != nil || tok == "" {
			return nil, err
		}
		return &githttp.BasicAuth{Username: user, Password: tok}, nil
	}
}
