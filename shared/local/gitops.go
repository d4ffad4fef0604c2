package local

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/approver"
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
	// Repository is the repository's name on its forge ("owner/name";
	// "local/gitops" for the local forge): review events count only from it.
	Repository string
	Forge      forge.Forge
	// Local is the local forge when Forge is one (for `conveyor pr`).
	Local *localforge.Forge
	// Teams answers team membership for "org/team" reviewers.
	Teams interface {
		IsTeamMember(ctx context.Context, org, team, user string) (bool, error)
	}
}

// LocalRepository is the local forge's name for the GitOps repository.
const LocalRepository = "local/gitops"

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
		g.Forge, g.Teams, g.Repository = &forge.Retrying{Forge: gh}, gh, owner+"/"+name
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
	// The local forge enforces the release policy on every merge, as
	// GitHub's branch protection does: `conveyor pr merge` cannot skip a
	// manual environment's approvals without a recorded override.
	protect := approver.Protection(cfg, localforge.EnvTeams{}, slog.Default())
	g.Local, err = localforge.New(ctx, r.DB, repo, location, LocalRepository, approvals, localforge.WithProtection(protect))
	if err != nil {
		return nil, err
	}
	g.Forge, g.Teams, g.Repository = &forge.Retrying{Forge: g.Local}, g.Local, g.Local.Name()
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
