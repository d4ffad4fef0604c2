package source

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// ErrCommitNotFound means the pushed commit is no longer reachable from its
// branch (force-pushed away): no retry can build it.
var ErrCommitNotFound = errors.New("commit not found on branch")

// Commit is what a checkout found.
type Commit struct {
	SHA string
	// Time is the committer time: the build's reproducible timestamp.
	Time    time.Time
	Message string
	// Author is the commit's author's name, as git has it.
	Author string
}

// Checkout clones branch of the repository at location (https URL, file://
// URL or local path) into dir, at depth 1, and moves to sha — fetching
// deeper in steps when newer commits landed on the branch since the push.
// Its errors never carry credentials a URL holds.
func Checkout(ctx context.Context, location, branch, sha, dir string, auth transport.AuthMethod) (_ *Commit, err error) {
	// location and go-git's errors repeat the URL as given.
	defer func() { err = logging.RedactError(err) }()
	u := location
	if !strings.Contains(u, "://") {
		abs, err := filepath.Abs(u)
		if err != nil {
			return nil, err
		}
		u = (&url.URL{Scheme: "file", Path: abs}).String()
	}
	repo, err := git.PlainCloneContext(ctx, dir, false, &git.CloneOptions{
		URL: u, Auth: auth, ReferenceName: plumbing.NewBranchReferenceName(branch),
		SingleBranch: true, Depth: 1, Tags: git.NoTags, NoCheckout: true,
	})
	if err != nil {
		return nil, classify(fmt.Errorf("cloning %s branch %s: %w", location, branch, err))
	}
	want := plumbing.NewHash(sha)
	for _, depth := range []int{0, 50, 1000} {
		if depth > 0 {
			err := repo.FetchContext(ctx, &git.FetchOptions{
				Auth: auth, Depth: depth, Tags: git.NoTags,
				RefSpecs: []config.RefSpec{config.RefSpec(fmt.Sprintf("+refs/heads/%s:refs/remotes/origin/%s", branch, branch))},
			})
			if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
				return nil, classify(fmt.Errorf("fetching %s branch %s: %w", location, branch, err))
			}
		}
		c, err := repo.CommitObject(want)
		if err != nil {
			continue
		}
		wt, err := repo.Worktree()
		if err != nil {
			return nil, err
		}
		if err := wt.Checkout(&git.CheckoutOptions{Hash: want, Force: true}); err != nil {
			return nil, fmt.Errorf("checking out %s: %w", sha, err)
		}
		// The context is the commit, not a repository: nothing of .git is
		// built, and the directory is smaller.
		if err := os.RemoveAll(filepath.Join(dir, ".git")); err != nil {
			return nil, err
		}
		return &Commit{SHA: sha, Time: c.Committer.When.UTC(), Message: c.Message, Author: c.Author.Name}, nil
	}
	return nil, retry.Permanent(fmt.Errorf("%w: %s is not within 1000 commits of %s's %s", ErrCommitNotFound, short(sha), location, branch))
}

// classify marks failures no retry fixes as permanent.
func classify(err error) error {
	switch {
	case errors.Is(err, transport.ErrRepositoryNotFound), errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed), errors.Is(err, plumbing.ErrReferenceNotFound),
		errors.Is(err, transport.ErrEmptyRemoteRepository):
		return retry.Permanent(err)
	case strings.Contains(err.Error(), "couldn't find remote ref"):
		return retry.Permanent(err)
	}
	return err
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
