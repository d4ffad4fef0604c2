package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/lineage"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/reconcile"
	"github.com/conveyor-gitops/conveyor/shared/registry"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/pflag"
)

// Where `conveyor dev` records its GitOps repository and its forge.
const (
	settingGitOps   = "gitops"
	settingForge    = "forge"
	settingForgeURL = "forge_url"
)

// addForgeFlags adds --forge and --forge-url, which select the GitOps
// repository's forge by configuration, never by its host name.
func addForgeFlags(fs *pflag.FlagSet) (kind, apiURL *string) {
	kind = fs.String("forge", "", "forge hosting the GitOps repository: local, github or gitea (default: $"+local.EnvForge+
		"; else local for a path, github for https://github.com/…; any other URL needs it)")
	apiURL = fs.String("forge-url", "", "API base of a self-hosted forge (default: $"+local.EnvForgeURL+
		"; for gitea the --gitops URL's scheme, host and sub-path; for GitHub Enterprise https://HOST/api/v3/)")
	return kind, apiURL
}

// forgeSpecOf is the forge the flags select, the environment filling what
// they leave unset.
func forgeSpecOf(kind, apiURL string) local.ForgeSpec {
	s := local.EnvForgeSpec()
	if kind != "" {
		s.Kind = kind
	}
	if apiURL != "" {
		s.URL = apiURL
	}
	return s
}

// saveGitOps records the GitOps repository and its forge for later
// commands.
func saveGitOps(ctx context.Context, rt *local.Runtime, location string, s local.ForgeSpec) error {
	for k, v := range map[string]string{settingGitOps: location, settingForge: s.Kind, settingForgeURL: s.URL} {
		if err := rt.SaveSetting(ctx, k, v); err != nil {
			return err
		}
	}
	return nil
}

// savedForge is the forge `conveyor dev` recorded with its GitOps
// repository.
func savedForge(ctx context.Context, rt *local.Runtime) (local.ForgeSpec, error) {
	kind, err := rt.Setting(ctx, settingForge)
	if err != nil {
		return local.ForgeSpec{}, err
	}
	u, err := rt.Setting(ctx, settingForgeURL)
	return local.ForgeSpec{Kind: kind, URL: u}, err
}

// pipelineFlags are the flags of commands that work on a pipeline's
// records and its GitOps repository: a local data directory, or a deployed
// AWS stack when --stack (or $CONVEYOR_STACK) names one.
type pipelineFlags struct {
	dataDir  *string
	gitops   *string
	branch   *string
	forge    *string
	forgeURL *string
	stack    stackFlag
}

func addPipelineFlags(fs *pflag.FlagSet) pipelineFlags {
	p := pipelineFlags{
		dataDir: fs.String("data-dir", local.DefaultDataDir, "the local runtime's data directory"),
		gitops:  fs.String("gitops", "", "GitOps repository `PATH|URL` (default: the one conveyor dev last ran with; on AWS the stack's)"),
		branch:  fs.String("branch", "", "GitOps base branch (default: the repository's HEAD; on AWS $CONVEYOR_GITOPS_BRANCH or main)"),
		stack:   addStackFlag(fs),
	}
	p.forge, p.forgeURL = addForgeFlags(fs)
	return p
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
	// registryOptions authenticate registry reads (ECR on a stack).
	registryOptions []remote.Option
	// lookup reads the backend's variables: a stack's outputs behind the
	// environment, or the environment alone (nil).
	lookup func(string) (string, bool)
	close  func()

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
	location, spec := *p.gitops, forgeSpecOf(*p.forge, *p.forgeURL)
	if location == "" {
		// The repository `conveyor dev` ran with, on the forge it ran with.
		var saved local.ForgeSpec
		if location, err = rt.Setting(ctx, settingGitOps); err == nil {
			saved, err = savedForge(ctx, rt)
		}
		if saved.Kind != "" {
			spec = saved
		}
		if err != nil {
			rt.Close()
			return nil, err
		}
	}
	if location == "" {
		rt.Close()
		return nil, fmt.Errorf("%w: no GitOps repository: give --gitops PATH|URL", errUsage)
	}
	s := &session{rt: rt, state: rt.State, log: rt.Logger(), config: configLoader(location, *p.branch, "", local.WithForge(spec)), close: func() { rt.Close() },
		inspect: func(ctx context.Context, ref string) (*registry.Provenance, error) { return registry.Inspect(ctx, ref) }}
	if s.local, err = rt.OpenGitOps(ctx, location, s.config, local.WithForge(spec)); err != nil {
		rt.Close()
		return nil, err
	}
	s.gitops = s.local
	s.openForge = func(context.Context) (forge.Forge, promote.Ancestry, error) {
		return s.local.Forge, s.local.Ancestry, nil
	}
	return s, nil
}

func (s *session) Close() { s.close() }

// statusRecords reads the pipeline and what status shows of it: a few
// records per app and environment, however long the history, or every
// record when the rollback targets' protection is asked for too.
func (s *session) statusRecords(ctx context.Context, all bool) (*config.Config, []state.Release, error) {
	if all {
		return s.records(ctx, state.ReleaseFilter{})
	}
	cfg, err := s.config(ctx)
	if err != nil {
		return nil, nil, err
	}
	rels, err := lineage.StatusRecords(ctx, s.state, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, rels, nil
}

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

// env reads one of the backend's variables (see lookup).
func (s *session) env(name string) (string, bool) {
	if s.lookup == nil {
		return os.LookupEnv(name)
	}
	return s.lookup(name)
}
