package awsenv

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/google/go-github/v60/github"
)

// TokenSource returns a GitHub token valid for at least a few minutes.
// *GitHubApp is one; StaticToken is the plain-token stand-in.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// StaticToken is a fixed token (CONVEYOR_GITHUB_TOKEN): for local runs and
// tests, not for production, where installation tokens expire by design.
type StaticToken string

// Token implements TokenSource.
func (t StaticToken) Token(context.Context) (string, error) { return string(t), nil }

// Transport returns an http.RoundTripper that adds the source's token to
// requests for the API's host (only: a redirect elsewhere gets no token),
// for go-github.
func Transport(ts TokenSource, api string, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	u, _ := url.Parse(api)
	host := ""
	if u != nil {
		host = u.Host
	}
	return &tokenTransport{ts: ts, host: host, base: base}
}

type tokenTransport struct {
	ts   TokenSource
	host string
	base http.RoundTripper
}

func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.host {
		return t.base.RoundTrip(req)
	}
	tok, err := t.ts.Token(req.Context())
	if err != nil {
		return nil, err
	}
	// RoundTrip must not modify the caller's request.
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "token "+tok)
	return t.base.RoundTrip(r)
}

// NewGitHubClient returns a go-github client on api authenticated by ts.
func NewGitHubClient(ts TokenSource, api string, base http.RoundTripper) (*github.Client, error) {
	u, err := url.Parse(api)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("parsing the GitHub API URL %q: not an absolute URL", api)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	c := github.NewClient(&http.Client{Transport: Transport(ts, u.String(), base)})
	c.BaseURL = u
	return c, nil
}

// GitAuth returns a go-git credential function: HTTP basic auth with
// x-access-token and the source's token for https repositories on the
// GitHub host that serves api (GitHost), and no credentials for any other
// location nor over plain http, so the token never reaches another server
// nor the wire in clear.
func GitAuth(ts TokenSource, api string) func(ctx context.Context, repoURL string) (transport.AuthMethod, error) {
	host := GitHost(api)
	return func(ctx context.Context, repoURL string) (transport.AuthMethod, error) {
		u, err := url.Parse(repoURL)
		if ts == nil || err != nil || u.Scheme != "https" || !strings.EqualFold(u.Host, host) {
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
