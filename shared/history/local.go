package history

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// Local reads the history of repositories on this machine: a local path or
// a file:// URL.
type Local struct{}

// IsAncestor reports whether ancestor is an ancestor of descendant, or the
// same commit. A commit the repository does not hold is an ancestor of
// nothing. A location that is not local is unsupported.
func (Local) IsAncestor(ctx context.Context, repo, ancestor, descendant string) (bool, error) {
	dir, ok := localDir(repo)
	if !ok {
		return false, fmt.Errorf("reading the history of %s: not a local repository: %w", repo, errors.ErrUnsupported)
	}
	r, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return false, retry.Permanent(fmt.Errorf("opening %s: %w", dir, err))
	}
	a, err := r.CommitObject(plumbing.NewHash(ancestor))
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading commit %s of %s: %w", ancestor, dir, err)
	}
	d, err := r.CommitObject(plumbing.NewHash(descendant))
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading commit %s of %s: %w", descendant, dir, err)
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	ok, err = a.IsAncestor(d)
	if err != nil {
		return false, fmt.Errorf("walking the history of %s: %w", dir, err)
	}
	return ok, nil
}

// localDir returns the directory of a local repository location.
func localDir(repo string) (string, bool) {
	_, p, local := config.RepoLocation(repo)
	if !local {
		return "", false
	}
	if u, err := url.Parse(repo); err == nil && u.Scheme == "file" {
		return u.Path, true
	}
	return p, true
}
