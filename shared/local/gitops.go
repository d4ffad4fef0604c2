package local

import (
	"context"
	"log/slog"

	"github.com/conveyor-gitops/conveyor/shared/approval"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/forge/localforge"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/history"
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
	Teams teamChecker
	// Ancestry reads source repositories' history for the promoter.
	Ancestry history.Repos
}

// LocalRepository is the local forge's name for the GitOps repository.
const LocalRepository = "local/gitops"

// OpenGitOps connects the runtime to a GitOps repository and its forge, as
// WithForge selects it (default: the local forge for a repository on disk,
// GitHub with $CONVEYOR_GITHUB_TOKEN for a github.com URL; any other URL
// must name its forge).
func (r *Runtime) OpenGitOps(ctx context.Context, location string, cfg ConfigSource, opts ...GitOpsOption) (*GitOps, error) {
	var o gitopsOptions
	for _, opt := range opts {
		opt(&o)
	}
	target, err := selectForge(location, o.forge)
	if err != nil {
		return nil, err
	}
	// An unreadable or invalid pipeline stops the start, not the first
	// message.
	if _, err := cfg(ctx); err != nil {
		return nil, err
	}
	g := &GitOps{GitOps: &pipeline.GitOps{URL: location, Config: cfg, Auth: target.gitAuth(), Objects: gitops.NewObjectCache(), Logger: r.gitopsLogger()}, Ancestry: SourceHistory()}
	if target.kind != ForgeLocal {
		f, err := openForge(target)
		if err != nil {
			return nil, err
		}
		g.Forge, g.Teams, g.Ancestry, g.Repository = &forge.Retrying{Forge: f.forge}, f.teams, f.history, target.repository()
		return g, nil
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

// gitopsLogger is the logger the GitOps repository reports recoveries to.
func (r *Runtime) gitopsLogger() *slog.Logger {
	if r.opts.Logger == nil {
		return nil
	}
	return r.opts.Logger.With("component", "gitops")
}
