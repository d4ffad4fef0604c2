package local

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/approval"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/forge/githubforge"
	"github.com/conveyor-gitops/conveyor/shared/forge/localforge"
	"github.com/conveyor-gitops/conveyor/shared/githubauth"
	"github.com/conveyor-gitops/conveyor/shared/pipeline"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

// GitOps is the GitOps repository the runtime promotes into, and the forge
// where its pull requests live.
type GitOps struct {
	// GitOps proposes into the repository and reads its history as the
	// current conveyor.yaml describes it.
	*pipeline.GitOps
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
	// An unreadable or invalid pipeline stops the start, not the first
	// message.
	if _, err := cfg(ctx); err != nil {
		return nil, err
	}
	g := &GitOps{GitOps: &pipeline.GitOps{URL: location, Config: cfg, Auth: EnvGitAuth}}
	if strings.HasPrefix(location, "https://github.com/") {
		owner, name, err := githubRepo(location)
		if err != nil {
			return nil, err
		}
		tokens := githubauth.EnvToken("CONVEYOR_GITHUB_TOKEN")
		if tokens == nil {
			return nil, fmt.Errorf("the GitOps repository is on GitHub: set CONVEYOR_GITHUB_TOKEN")
		}
		// The token goes to api.github.com only, whatever a response links to.
		client, err := githubauth.NewClient(tokens, githubauth.DefaultAPI, nil)
		if err != nil {
			return nil, err
		}
		gh := githubforge.New(client, owner, name)
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
	repo, err := g.Open(ctx)
	if err != nil {
		return nil, err
	}
	// The local forge enforces the release policy on every merge, as
	// GitHub's branch protection does: `conveyor pr merge` cannot skip a
	// manual environment's approvals without a recorded override.
	protect := approval.Protection(cfg, localforge.EnvTeams{}, slog.Default())
	g.Local, err = localforge.New(ctx, r.DB, repo, location, LocalRepository, approvals, localforge.WithProtection(protect))
	if err != nil {
		return nil, err
	}
	g.Forge, g.Teams, g.Repository = &forge.Retrying{Forge: g.Local}, g.Local, g.Local.Name()
	return g, nil
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
