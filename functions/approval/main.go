// Command approval is the Lambda entry point of the approvals queue's
// consumer: it records merged and closed promotion pull requests and
// enqueues the next environment's promotion.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/conveyor-gitops/conveyor/shared/approver"
	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	fg "github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/lambdabatch"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

func loadConfig(lookup func(string) (string, bool)) (awsenv.Config, error) {
	return awsenv.Load(lookup, awsenv.Table, awsenv.Consumer(queue.Approvals), awsenv.Sender(queue.Promotions), awsenv.GitHub)
}

func main() {
	awsenv.Main("approval", func(ctx context.Context, log *slog.Logger) (any, error) { return newHandler(ctx, log) })
}

func newHandler(ctx context.Context, log *slog.Logger) (lambdabatch.Handler, error) {
	cfg, err := loadConfig(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	spec, _ := queue.Lookup(queue.Approvals)
	c, err := awsenv.OpenConsumer(ctx, cfg, log, queue.Approvals)
	if err != nil {
		return nil, err
	}
	env, st := c.Env, c.State
	promotions, err := env.Queue(queue.Promotions, nil)
	if err != nil {
		return nil, err
	}
	forge, err := env.Forge()
	if err != nil {
		return nil, err
	}
	a := &approver.Approver{Config: env.Pipeline().Config, Releases: st, Forge: &fg.Retrying{Forge: forge}, Teams: forge, Promotions: promotions, Log: log, Metrics: os.Stdout,
		Repository: cfg.GitHub.Owner + "/" + cfg.GitHub.Repo}
	return lambdabatch.New(c.Queue, consume.Consumer{Fn: a.Func(), Policy: lambdabatch.Policy(spec.MaxReceives, spec.FIFO), Log: log}), nil
}
