package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// settingGitOps is where `conveyor dev` records its GitOps repository.
const settingGitOps = "gitops"

// pipelineFlags are the flags of commands that work on a data directory and
// its GitOps repository.
type pipelineFlags struct {
	dataDir *string
	gitops  *string
	branch  *string
}

func addPipelineFlags(fs *flag.FlagSet) pipelineFlags {
	return pipelineFlags{
		dataDir: fs.String("data-dir", local.DefaultDataDir, "the local runtime's data directory"),
		gitops:  fs.String("gitops", "", "GitOps repository (default: the one `conveyor dev` last ran with)"),
		branch:  fs.String("branch", "", "GitOps base branch (default: the repository's HEAD)"),
	}
}

// session is an opened data directory and GitOps repository.
type session struct {
	rt     *local.Runtime
	gitops *local.GitOps
	config func(context.Context) (*config.Config, error)
}

func (p pipelineFlags) open(ctx context.Context, stderr io.Writer, needGitOps bool) (*session, error) {
	if !sqlitedb.HasData(*p.dataDir) && !needGitOps {
		return nil, fmt.Errorf("no Conveyor data in %s (start `conveyor dev --data-dir %s` first)", *p.dataDir, *p.dataDir)
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
	s := &session{rt: rt, config: configLoader(location, *p.branch, "")}
	if s.gitops, err = rt.OpenGitOps(ctx, location, s.config); err != nil {
		rt.Close()
		return nil, err
	}
	return s, nil
}

func (s *session) Close() { s.rt.Close() }

// records reads what status, history and metrics report from: the pipeline
// and the release records matching f.
func (s *session) records(ctx context.Context, f state.ReleaseFilter) (*config.Config, []state.Release, error) {
	cfg, err := s.config(ctx)
	if err != nil {
		return nil, nil, err
	}
	rels, err := s.rt.State.ListReleases(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	return cfg, rels, nil
}
