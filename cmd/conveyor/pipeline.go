package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/reconcile"
	"github.com/conveyor-gitops/conveyor/shared/registry"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// settingGitOps is where `conveyor dev` records its GitOps repository.
const settingGitOps = "gitops"

// pipelineFlags are the flags of commands that work on a pipeline's
// records and its GitOps repository: a local data directory, or a deployed
// AWS stack when --stack (or $CONVEYOR_STACK) names one.
type pipelineFlags struct {
	dataDir *string
	gitops  *string
	branch  *string
	stack   stackFlag
}

func addPipelineFlags(fs *flag.FlagSet) pipelineFlags {
	return pipelineFlags{
		dataDir: fs.String("data-dir", local.DefaultDataDir, "the local runtime's data directory"),
		gitops:  fs.String("gitops", "", "GitOps repository (default: the one `conveyor dev` last ran with; on AWS the stack's)"),
		branch:  fs.String("branch", "", "GitOps base branch (default: the repository's HEAD; on AWS $CONVEYOR_GITOPS_BRANCH or main)"),
		stack:   addStackFlag(fs),
	}
}

// gitopsRepo is the GitOps repository as the commands use it: promotions
// propose into it, status and reconcile read what its base branch pins.
type gitopsRepo interface {
	promote.Repo
	reconcile.History
}

// session is an opened pipeline, on either backend: its records, its
// conveyor.yaml and its GitOps repository. Commands use only these ports,
// so each runs unchanged on a data directory or on a deployed stack.
type session struct {
	config func(context.Context) (*config.Config, error)
	state  state.Store
	gitops gitopsRepo
	log    *slog.Logger
	// selector is what selects this backend in a printed `conveyor`
	// command ("--stack NAME" on AWS, "" locally).
	selector string
	// openForge returns the forge of the GitOps repository and the source
	// history promotions are ordered by; only promote and rollback need
	// them (and, on AWS, the GitHub credentials they take).
	openForge func(context.Context) (forge.Forge, promote.Ancestry, error)
	inspect   func(ctx context.Context, ref string) (*registry.Provenance, error)
	close     func()

	// local is the local GitOps connection and rt the local runtime, both
	// nil on AWS: `conveyor pr` works only on the local forge.
	local *local.GitOps
	rt    *local.Runtime
}

func (p pipelineFlags) open(ctx context.Context, stderr io.Writer, needGitOps bool) (*session, error) {
	if st, ok := p.stack.name(); ok {
		return openStack(ctx, st, *p.gitops, *p.branch, stderr)
	}
	return p.openLocal(ctx, stderr, needGitOps)
}

func (p pipelineFlags) openLocal(ctx context.Context, stderr io.Writer, needGitOps bool) (*session, error) {
	if !sqlitedb.HasData(*p.dataDir) && !needGitOps {
		return nil, fmt.Errorf("no Conveyor data in %s (start `conveyor dev --data-dir %s` first, or give --stack NAME for a deployed stack)", *p.dataDir, *p.dataDir)
	}
	rt, err := local.Open(ctx, local.Options{DataDir: *p.dataDir, Logger: logging.New(stderr, slog.LevelWarn)})
	if err != nil {
		return nil, err
	}
	location := *p.gitops
	if location == "" {
		if location, err = rt.Setting(ctx, settingGitOps); err != nil {
			rt.Close()
			return nil, err
		}
	}
	if location == "" {
		rt.Close()
		return nil, fmt.Errorf("%w: no GitOps repository: give --gitops PATH|URL", errUsage)
	}
	s := &session{rt: rt, state: rt.State, log: rt.Logger(), config: configLoader(location, *p.branch, ""), close: func() { rt.Close() },
		inspect: func(ctx context.Context, ref string) (*registry.Provenance, error) { return registry.Inspect(ctx, ref) }}
	if s.local, err = rt.OpenGitOps(ctx, location, s.config); err != nil {
		rt.Close()
		return nil, err
	}
	s.gitops = s.local
	s.openForge = func(context.Context) (forge.Forge, promote.Ancestry, error) {
		return s.local.Forge, local.SourceHistory(), nil
	}
	return s, nil
}

func (s *session) Close() { s.close() }

// records reads what status, history and metrics report from: the pipeline
// and the release records matching f.
func (s *session) records(ctx context.Context, f state.ReleaseFilter) (*config.Config, []state.Release, error) {
	cfg, err := s.config(ctx)
	if err != nil {
		return nil, nil, err
	}
	rels, err := s.state.ListReleases(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	return cfg, rels, nil
}
