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
	fg "github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/runtime"
)

func loadConfig(lookup func(string) (string, bool)) (awsenv.Config, error) {
	return awsenv.Load(lookup, awsenv.Table, awsenv.Consumer(queue.Approvals), awsenv.Sender(queue.Promotions), awsenv.GitHub)
}

func main() {
	awsenv.Main("approval", func(ctx context.Context, log *slog.Logger) (any, error) { return newHandler(ctx, log) })
}

func newHandler(ctx context.Context, log *slog.Logger) (runtime.Handler, error) {
	cfg, err := loadConfig(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	c, err := awsenv.OpenConsumer(ctx, cfg, log, queue.Approvals)
	if err != nil {
		return nil, err
	}
	env, st, dl := c.Env, c.State, c.DeadLetter
	promotions, err := env.Queue(queue.Promotions, nil)
	if err != nil {
		return nil, err
	}
	forge, err := env.Forge()
	if err != nil {
		return nil, err
	}
	a := &approver.Approver{Config: env.Pipeline().Config, Releases: st, Forge: &fg.Retrying{Forge: forge}, Teams: forge, Promotions: promotions, DeadLetter: dl, Log: log, Metrics: os.Stdout,
		Repository: cfg.GitHub.Owner + "/" + cfg.GitHub.Repo}
	return dl.Wrap(a.Lambda()), nil
}
