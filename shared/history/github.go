package history

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// comparer is the part of go-github's RepositoriesService GitHub uses, with
// its exact signature.
type comparer interface {
	CompareCommits(ctx context.Context, owner, repo string, base, head string, opts *github.ListOptions) (*github.CommitsComparison, *github.Response, error)
}

// GitHub reads the history of repositories on one GitHub host through the
// compare API.
type GitHub struct {
	repos   comparer
	host    string
	timeout time.Duration
}

// NewGitHub returns the adapter for repositories on host ("github.com", or
// a GitHub Enterprise Server's web host), asking c.
func NewGitHub(c *github.Client, host string) *GitHub {
	return &GitHub{repos: c.Repositories, host: strings.ToLower(host), timeout: 30 * time.Second}
}

// IsAncestor reports whether ancestor is an ancestor of descendant, or the
// same commit: GitHub compares base ancestor with head descendant as
// "ahead" or "identical". "behind" and "diverged" are not, and neither is
// a commit GitHub does not know (404). A repository on another host is
// unsupported.
func (g *GitHub) IsAncestor(ctx context.Context, repo, ancestor, descendant string) (bool, error) {
	host, path, local := config.RepoLocation(repo)
	owner, name, ok := strings.Cut(path, "/")
	if local || !ok || strings.Contains(name, "/") || (host != "" && host != g.host) {
		return false, fmt.Errorf("reading the history of %s: not a repository on %s: %w", repo, g.host, errors.ErrUnsupported)
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	cmp, _, err := g.repos.CompareCommits(ctx, owner, name, ancestor, descendant, &github.ListOptions{PerPage: 1})
	if err != nil {
		if status(err) == http.StatusNotFound {
			return false, nil
		}
		return false, classify(fmt.Errorf("comparing %s...%s in %s/%s: %w", ancestor, descendant, owner, name, err))
	}
	switch s := cmp.GetStatus(); s {
	case "ahead", "identical":
		return true, nil
	case "behind", "diverged":
		return false, nil
	default:
		return false, fmt.Errorf("comparing %s...%s in %s/%s: unknown status %q", ancestor, descendant, owner, name, s)
	}
}

func status(err error) int {
	var resp *github.ErrorResponse
	if errors.As(err, &resp) && resp.Response != nil {
		return resp.Response.StatusCode
	}
	return 0
}

// classify marks failures no retry fixes (bad credentials, no access) as
// permanent, and rate limits as retryable after their reset.
func classify(err error) error {
	var (
		rate  *github.RateLimitError
		abuse *github.AbuseRateLimitError
	)
	switch code := status(err); {
	case errors.As(err, &rate):
		return retry.After(err, max(time.Until(rate.Rate.Reset.Time), time.Second))
	case errors.As(err, &abuse):
		return retry.After(err, max(abuse.GetRetryAfter(), time.Second))
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
		return err
	case code >= 400 && code < 500:
		return retry.Permanent(err)
	}
	return err
}
