// Command promote is the Lambda entry point of the promotions queue's
// consumer: it proposes (or merges) a digest into one environment.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	fg "github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/history"
	"github.com/conveyor-gitops/conveyor/shared/images"
	"github.com/conveyor-gitops/conveyor/shared/lambdabatch"
	"github.com/conveyor-gitops/conveyor/shared/promoter"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func loadConfig(lookup func(string) (string, bool)) (awsenv.Config, error) {
	return awsenv.Load(lookup, awsenv.Table, awsenv.Consumer(queue.Promotions), awsenv.GitHub)
}

func main() {
	awsenv.Main("promote", func(ctx context.Context, log *slog.Logger) (any, error) { return newHandler(ctx, log) })
}

func newHandler(ctx context.Context, log *slog.Logger) (lambdabatch.Handler, error) {
	cfg, err := loadConfig(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	spec, _ := queue.Lookup(queue.Promotions)
	c, err := awsenv.OpenConsumer(ctx, cfg, log, queue.Promotions)
	if err != nil {
		return nil, err
	}
	env, st := c.Env, c.State
	forge, err := env.Forge()
	if err != nil {
		return nil, err
	}
	ancestry, err := env.History()
	if err != nil {
		return nil, err
	}
	auth := remote.WithAuthFromKeychain(env.Keychain())
	p := &promoter.Promoter{Config: env.Pipeline().Config, Releases: st, Repo: env.GitOpsRepo(), Forge: &fg.Retrying{Forge: forge}, Log: log,
		Ancestry: history.Repos{GitHub: ancestry},
		Inspect: func(ctx context.Context, ref string) (*images.Provenance, error) {
			return images.Inspect(ctx, ref, auth)
		}}
	return lambdabatch.New(c.Queue, consume.Consumer{Fn: p.Func(), Policy: lambdabatch.Policy(spec.MaxReceives, spec.FIFO), Log: log}), nil
}
