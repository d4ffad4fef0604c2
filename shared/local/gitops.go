package local

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/forge/githubforge"
	"github.com/conveyor-gitops/conveyor/shared/forge/localforge"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-github/v60/github"
)

// GitOps is the GitOps repository the runtime promotes into, and the forge
// where its pull requests live.
type GitOps struct {
	Location string
	Config   ConfigSource
	Forge    forge.Forge
	// Local is the local forge when Forge is one (for `conveyor pr`).
	Local *localforge.Forge
	// Teams answers team membership for "org/team" reviewers.
	Teams interface {
		IsTeamMember(ctx context.Context, org, team, user string) (bool, error)
	}
}

// OpenGitOps connects the runtime to a GitOps repository: the local forge
// for a repository on disk, GitHub (with $CONVEYOR_GITHUB_TOKEN) for a
// github.com URL.
func (r *Runtime) OpenGitOps(ctx context.Context, location string, cfg ConfigSource) (*GitOps, error) {
	g := &GitOps{Location: location, Config: cfg}
	c, err := cfg(ctx)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(location, "https://github.com/") {
		owner, name, err := githubRepo(location)
		if err != nil {
			return nil, err
		}
		tok := os.Getenv("CONVEYOR_GITHUB_TOKEN")
		if tok == "" {
			return nil, fmt.Errorf("the GitOps repository is on GitHub: set CONVEYOR_GITHUB_TOKEN")
		}
		gh := githubforge.New(github.NewClient(nil).WithAuthToken(tok), owner, name)
		g.Forge, g.Teams = &forge.Retrying{Forge: gh}, gh
		return g, nil
	}
	if !localforge.IsLocal(location) {
		return nil, fmt.Errorf("GitOps repository %s: only local repositories and github.com are supported by the local runtime", location)
	}
	approvals, err := r.Queues.Queue(queue.Approvals)
	if err != nil {
		return nil, err
	}
	repo, err := newRepo(location, c)
	if err != nil {
		return nil, err
	}
	g.Local, err = localforge.New(ctx, r.DB, repo, location, "local/gitops", approvals)
	if err != nil {
		return nil, err
	}
	g.Forge, g.Teams = &forge.Retrying{Forge: g.Local}, g.Local
	return g, nil
}

// Propose implements promoter.Repo with the current conveyor.yaml's base
// branch and author.
func (g *GitOps) Propose(ctx context.Context, branch string, edit gitops.Edit, message string, when time.Time) (*gitops.Commit, error) {
	c, err := g.Config(ctx)
	if err != nil {
		return nil, err
	}
	repo, err := newRepo(g.Location, c)
	if err != nil {
		return nil, err
	}
	return repo.Propose(ctx, branch, edit, message, when)
}

// History implements reconcile.History: the base branch's newest commits,
// read with the current conveyor.yaml's base branch.
func (g *GitOps) History(ctx context.Context, depth int) ([]*gitops.Snapshot, error) {
	c, err := g.Config(ctx)
	if err != nil {
		return nil, err
	}
	repo, err := newRepo(g.Location, c)
	if err != nil {
		return nil, err
	}
	return repo.History(ctx, depth)
}

func newRepo(location string, c *config.Config) (*gitops.Repo, error) {
	auth, _ := EnvGitAuth(context.Background(), location)
	return gitops.New(location, c.GitOps.Branch, auth, object.Signature{Name: c.GitOps.Author.Name, Email: c.GitOps.Author.Email})
}

func githubRepo(location string) (owner, name string, err error) {
	u, err := url.Parse(location)
	if err != nil {
		return "", "", err
	}
	parts := strings.Split(strings.Trim(strings.TrimSuffix(u.Path, ".git"), "/"), "/")
	if len(parts) != 2 {
		return "", "", fmt.Errorf("%s is not https://github.com/OWNER/REPO", location)
	}
	return parts[0], parts[1], nil
}
