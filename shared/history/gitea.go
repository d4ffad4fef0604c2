package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// Gitea reads the history of repositories on one Gitea or Forgejo through
// its compare API. Gitea's compare answers the commits of head not in
// base, with no ahead/behind status, so IsAncestor asks it the other way
// round: ancestor is an ancestor of descendant (or the same commit)
// exactly when descendant...ancestor holds no commit.
type Gitea struct {
	api     string // https://host[/sub-path]/api/v1
	host    string // lower-case host[:port]
	prefix  string // lower-case sub-path the forge is served under, "" or "git/"
	token   string
	http    *http.Client
	timeout time.Duration
}

// NewGitea returns the adapter for repositories on the Gitea whose web
// root is baseURL ("https://gitea.example.com", or with the sub-path of its
// ROOT_URL), asking with token (read:repository; "" for public
// repositories) through client (nil: http.DefaultClient).
func NewGitea(baseURL, token string, client *http.Client) (*Gitea, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("Gitea URL %s is not an absolute http(s) URL", baseURL)
	}
	if client == nil {
		client = http.DefaultClient
	}
	prefix := strings.ToLower(strings.Trim(u.Path, "/"))
	if prefix != "" {
		prefix += "/"
	}
	return &Gitea{api: u.String() + "/api/v1", host: strings.ToLower(u.Host), prefix: prefix, token: token, http: client, timeout: 30 * time.Second}, nil
}

// IsAncestor reports whether ancestor is an ancestor of descendant, or the
// same commit. A commit Gitea does not know is an ancestor of nothing. A
// repository elsewhere (another host, a bare "owner/name", a local path)
// is unsupported.
func (g *Gitea) IsAncestor(ctx context.Context, repo, ancestor, descendant string) (bool, error) {
	owner, name, ok := g.repoPath(repo)
	if !ok {
		return false, fmt.Errorf("reading the history of %s: not a repository on %s: %w", repo, g.host, errors.ErrUnsupported)
	}
	var cmp struct {
		TotalCommits *int `json:"total_commits"`
	}
	path := fmt.Sprintf("/repos/%s/%s/compare/%s...%s?verification=false&files=false",
		url.PathEscape(owner), url.PathEscape(name), url.PathEscape(descendant), url.PathEscape(ancestor))
	code, err := g.get(ctx, path, &cmp)
	switch {
	case code == http.StatusNotFound:
		return false, nil
	case code >= 500:
		// Gitea answers a commit it does not hold with a 500: tell that
		// apart from a server fault.
		if known, kerr := g.knows(ctx, owner, name, ancestor, descendant); kerr == nil && !known {
			return false, nil
		}
		return false, fmt.Errorf("comparing %s...%s in %s/%s: %w", descendant, ancestor, owner, name, err)
	case err != nil:
		return false, fmt.Errorf("comparing %s...%s in %s/%s: %w", descendant, ancestor, owner, name, err)
	case cmp.TotalCommits == nil:
		return false, retry.Permanent(fmt.Errorf("comparing %s...%s in %s/%s: the answer has no total_commits", descendant, ancestor, owner, name))
	}
	return *cmp.TotalCommits == 0, nil
}

// repoPath returns owner and name of a repository URL on this Gitea.
func (g *Gitea) repoPath(repo string) (owner, name string, ok bool) {
	host, p, local := config.RepoLocation(repo)
	if local || host != g.host {
		return "", "", false
	}
	p, ok = strings.CutPrefix(p, g.prefix)
	if !ok {
		return "", "", false
	}
	owner, name, ok = strings.Cut(p, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", "", false
	}
	return owner, name, true
}

// knows reports whether the repository holds both commits.
func (g *Gitea) knows(ctx context.Context, owner, name string, shas ...string) (bool, error) {
	for _, sha := range shas {
		code, err := g.get(ctx, fmt.Sprintf("/repos/%s/%s/git/commits/%s?stat=false&verification=false&files=false",
			url.PathEscape(owner), url.PathEscape(name), url.PathEscape(sha)), nil)
		if code == http.StatusNotFound || code == http.StatusUnprocessableEntity {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	return true, nil
}

// get sends one GET under the API root and decodes a 2xx answer into out
// (nil to discard). It returns the status (0 when none came) and a
// classified error: rate limits retry after their wait, other 4xx are
// permanent, the rest transient.
func (g *Gitea) get(ctx context.Context, path string, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.api+path, nil)
	if err != nil {
		return 0, retry.Permanent(err)
	}
	req.Header.Set("Accept", "application/json")
	if g.token != "" {
		req.Header.Set("Authorization", "token "+g.token)
	}
	resp, err := g.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("reading %s: %w", req.URL.Path, err)
	}
	switch c := resp.StatusCode; {
	case c == http.StatusTooManyRequests:
		return c, retry.After(fmt.Errorf("GET %s: %d", req.URL.Path, c), giteaRetryAfter(resp.Header))
	case c == http.StatusRequestTimeout || c >= 500:
		return c, fmt.Errorf("GET %s: %d", req.URL.Path, c)
	case c >= 300:
		return c, retry.Permanent(fmt.Errorf("GET %s: %d", req.URL.Path, c))
	}
	if out == nil {
		return resp.StatusCode, nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return resp.StatusCode, retry.Permanent(fmt.Errorf("decoding GET %s: %w", req.URL.Path, err))
	}
	return resp.StatusCode, nil
}

// giteaRetryAfter reads Retry-After in seconds; a minute when absent.
func giteaRetryAfter(h http.Header) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); err == nil && s >= 0 {
		return max(time.Duration(s)*time.Second, time.Second)
	}
	return time.Minute
}
