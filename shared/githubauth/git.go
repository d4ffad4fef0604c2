package githubauth

import (
	"context"
	"net/url"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// GitAuth returns a go-git credential function: HTTP basic auth with
// x-access-token and the source's token for https repositories on host
// (host[:port], the one the token belongs to), and no credentials for any
// other location nor over plain http, so the token never reaches another
// server nor the wire in clear. A nil ts gives no credentials anywhere.
func GitAuth(ts TokenSource, host string) func(ctx context.Context, repoURL string) (transport.AuthMethod, error) {
	return func(ctx context.Context, repoURL string) (transport.AuthMethod, error) {
		u, err := url.Parse(repoURL)
		if ts == nil || host == "" || err != nil || u.Scheme != "https" || !strings.EqualFold(u.Host, host) {
			return nil, nil
		}
		tok, err := ts.Token(ctx)
		if err != nil {
			return nil, err
		}
		return &githttp.BasicAuth{Username: "x-access-token", Password: tok}, nil
	}
}

// GitHost is the git host of a GitHub API: github.com for api.github.com,
// the same host for GitHub Enterprise's https://HOST/api/v3/. It is where
// "owner/name" sources live and the only host git credentials go to.
func GitHost(api string) string {
	u, err := url.Parse(api)
	if err != nil {
		return ""
	}
	if h, ok := strings.CutPrefix(u.Host, "api."); ok {
		return h
	}
	return u.Host
}
