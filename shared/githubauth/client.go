package githubauth

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/conveyor-gitops/conveyor/shared/forge"
)

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

// NewClient returns a go-github client on api authenticated by ts (a nil
// ts: anonymous, with GitHub's lower rate limit).
func NewClient(ts TokenSource, api string, base http.RoundTripper) (*github.Client, error) {
	u, err := url.Parse(api)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("parsing the GitHub API URL %q: not an absolute URL", api)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	// Each API call is reported to the runtime's forge.Observer.
	rt := forge.Instrument("github", base)
	if ts != nil {
		rt = Transport(ts, u.String(), rt)
	}
	c := github.NewClient(&http.Client{Transport: rt})
	c.BaseURL = u
	return c, nil
}
