// Command reconcile is the Lambda entry point of the reconciliation
// schedule: it records merges whose webhook was lost, enqueues missed
// onward promotions and re-enqueues unbuilt commits.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	fg "github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/reconcile"
)

func loadConfig(lookup func(string) (string, bool)) (awsenv.Config, reconcile.Settings, error) {
	cfg, err := awsenv.Load(lookup, awsenv.Table, awsenv.Sender(queue.Promotions), awsenv.Sender(queue.Builds), awsenv.Forge)
	if err != nil {
		return cfg, reconcile.Settings{}, err
	}
	s, err := reconcile.LoadSettings(lookup)
	return cfg, s, err
}

func main() {
	awsenv.Main("reconcile", func(ctx context.Context, log *slog.Logger) (any, error) { return newHandler(ctx, log) })
}

func newHandler(ctx context.Context, log *slog.Logger) (any, error) {
	cfg, settings, err := loadConfig(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	env, err := awsenv.Open(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	st, err := env.State()
	if err != nil {
		return nil, err
	}
	promotions, err := env.Queue(queue.Promotions, nil)
	if err != nil {
		return nil, err
	}
	builds, err := env.Queue(queue.Builds, nil)
	if err != nil {
		return nil, err
	}
	forge, err := env.Forge()
	if err != nil {
		return nil, err
	}
	pipeline := env.Pipeline().Config
	r := &reconcile.Reconciler{Config: pipeline, Releases: st, Forge: &fg.Retrying{Forge: forge}, Merged: forge,
		Repository: env.Repository(), Promotions: promotions, Builds: st, BuildQueue: builds,
		GitOps: &reconcile.RepoHistory{URL: cfg.GitOps.Repo, Config: pipeline, Auth: env.GitAuth()},
		Heads:  reconcile.SourceHeads(env.GitHost(), env.GitAuth()), GitHost: env.GitHost(),
		Limiter: reconcile.NewLimiter(settings.PerMinute, 5), Settle: settings.Settle, Index: st, Log: log}
	return reconcile.Scheduled(r), nil
}
