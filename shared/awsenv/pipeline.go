package awsenv

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// configTimeout bounds one read of conveyor.yaml from the GitOps repository.
const configTimeout = 30 * time.Second

// ConfigFile is the pipeline file at the GitOps repository's root.
const ConfigFile = "conveyor.yaml"

// Pipeline reads conveyor.yaml from a branch of the GitOps repository and
// keeps the parsed result for a TTL, so a warm container does not clone per
// message. A failed read is not cached. Safe for concurrent use.
type Pipeline struct {
	repo, branch string
	ttl          time.Duration
	auth         func(ctx context.Context, repoURL string) (transport.AuthMethod, error)
	now          func() time.Time

	mu      sync.Mutex
	cfg     *config.Config
	fetched time.Time
}

// NewPipeline returns the reader of repo's conveyor.yaml at branch; auth
// may be nil for a public or local repository.
func NewPipeline(repo, branch string, ttl time.Duration, auth func(ctx context.Context, repoURL string) (transport.AuthMethod, error)) *Pipeline {
	return &Pipeline{repo: repo, branch: branch, ttl: ttl, auth: auth, now: time.Now}
}

// Config returns the current pipeline; it has the signature of every
// handler's ConfigSource.
func (p *Pipeline) Config(ctx context.Context) (*config.Config, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cfg != nil && p.now().Sub(p.fetched) < p.ttl {
		return p.cfg, nil
	}
	var auth transport.AuthMethod
	if p.auth != nil {
		var err error
		if auth, err = p.auth(ctx, p.repo); err != nil {
			return nil, fmt.Errorf("reading %s: %w", ConfigFile, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, configTimeout)
	defer cancel()
	data, commit, err := gitops.ReadFile(ctx, p.repo, p.branch, ConfigFile, auth)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Parse(ConfigFile, data)
	if err != nil {
		// config.Errors stays reachable: handlers treat it as permanent.
		return nil, fmt.Errorf("parsing %s at %.12s: %w", ConfigFile, commit, err)
	}
	p.cfg, p.fetched = cfg, p.now()
	return cfg, nil
}

// GitOpsRepo is the promoter's view of the GitOps repository: every
// Propose clones the base branch conveyor.yaml currently names, commits as
// its author and pushes with fresh credentials.
type GitOpsRepo struct {
	URL    string
	Config func(ctx context.Context) (*config.Config, error)
	Auth   func(ctx context.Context, repoURL string) (transport.AuthMethod, error)
}

// Propose implements promoter.Repo.
func (g *GitOpsRepo) Propose(ctx context.Context, branch string, edit gitops.Edit, message string, when time.Time) (*gitops.Commit, error) {
	c, err := g.Config(ctx)
	if err != nil {
		return nil, err
	}
	var auth transport.AuthMethod
	if g.Auth != nil {
		if auth, err = g.Auth(ctx, g.URL); err != nil {
			return nil, fmt.Errorf("proposing %s: %w", branch, err)
		}
	}
	repo, err := gitops.New(g.URL, c.GitOps.Branch, auth, object.Signature{Name: c.GitOps.Author.Name, Email: c.GitOps.Author.Email})
	if err != nil {
		return nil, err
	}
	return repo.Propose(ctx, branch, edit, message, when)
}
