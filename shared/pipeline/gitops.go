package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// GitOps is the GitOps repository as the pipeline describes it: each
// operation opens it on the base branch and with the author conveyor.yaml
// names now, with fresh credentials (an installation token expires within
// the hour). It implements promoter.Repo and reconcile.History.
type GitOps struct {
	URL    string
	Config config.Loader
	// Auth gives git credentials for URL (nil: none).
	Auth GitAuth
	// Objects, when set, keeps what Propose fetched for the next call, so
	// a promotion fetches only what changed (nil: everything each time).
	Objects *gitops.ObjectCache
	// Logger hears what the repository recovers from on its own (nil:
	// nothing is logged).
	Logger *slog.Logger
}

// Open returns the repository on the current base branch.
func (g *GitOps) Open(ctx context.Context) (*gitops.Repo, error) {
	c, err := g.Config(ctx)
	if err != nil {
		return nil, err
	}
	var auth transport.AuthMethod
	if g.Auth != nil {
		if auth, err = g.Auth(ctx, g.URL); err != nil {
			return nil, fmt.Errorf("opening the GitOps repository: %w", err)
		}
	}
	var opts []gitops.Option
	if g.Objects != nil {
		opts = append(opts, gitops.WithObjectCache(g.Objects))
	}
	if g.Logger != nil {
		opts = append(opts, gitops.WithLogger(g.Logger))
	}
	return gitops.New(g.URL, c.GitOps.Branch, auth, object.Signature{Name: c.GitOps.Author.Name, Email: c.GitOps.Author.Email}, opts...)
}

// Propose implements promoter.Repo.
func (g *GitOps) Propose(ctx context.Context, branch string, edit gitops.Edit, message string, when time.Time) (*gitops.Commit, error) {
	repo, err := g.Open(ctx)
	if err != nil {
		return nil, err
	}
	return repo.Propose(ctx, branch, edit, message, when)
}

// History implements reconcile.History: the base branch's newest commits.
func (g *GitOps) History(ctx context.Context, depth int) ([]*gitops.Snapshot, error) {
	repo, err := g.Open(ctx)
	if err != nil {
		return nil, err
	}
	return repo.History(ctx, depth)
}
