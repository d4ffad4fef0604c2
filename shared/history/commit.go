package history

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// Commit is what a person reads about a source commit: who wrote it, when,
// and its message.
type Commit struct {
	ID      string
	Author  string
	When    time.Time
	Message string
}

// Subject returns the first line of the message.
func (c Commit) Subject() string {
	s, _, _ := strings.Cut(c.Message, "\n")
	return s
}

// ErrUnknownCommit means the repository does not hold the commit.
var ErrUnknownCommit = errors.New("unknown commit")

// Commit reads one commit of a local repository. A location that is not
// local is unsupported.
func (Local) Commit(ctx context.Context, repo, sha string) (Commit, error) {
	dir, ok := localDir(repo)
	if !ok {
		return Commit{}, fmt.Errorf("reading commit %s of %s: not a local repository: %w", sha, repo, errors.ErrUnsupported)
	}
	if err := ctx.Err(); err != nil {
		return Commit{}, err
	}
	r, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return Commit{}, fmt.Errorf("opening %s: %w", dir, err)
	}
	c, err := r.CommitObject(plumbing.NewHash(sha))
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return Commit{}, fmt.Errorf("reading commit %s of %s: %w", sha, dir, ErrUnknownCommit)
	}
	if err != nil {
		return Commit{}, fmt.Errorf("reading commit %s of %s: %w", sha, dir, err)
	}
	return Commit{ID: c.Hash.String(), Author: c.Author.Name, When: c.Author.When, Message: c.Message}, nil
}
