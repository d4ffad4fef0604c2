// Command approval is the Lambda entry point of the approvals queue's
// consumer: it records merged and closed promotion pull requests and
// enqueues the next environment's promotion.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
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
	log := awsenv.Logger()
	slog.SetDefault(log)
	h, err := newHandler(context.Background(), log)
	if err != nil {
		log.Error("starting the approval function", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}

func newHandler(ctx context.Context, log *slog.Logger) (runtime.Handler, error) {
	cfg, err := loadConfig(os.LookupEnv)
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
	q, err := env.Queue(queue.Approvals, st)
	if err != nil {
		return nil, err
	}
	promotions, err := env.Queue(queue.Promotions, nil)
	if err != nil {
		return nil, err
	}
	forge, err := env.Forge()
	if err != nil {
		return nil, err
	}
	dl := awsenv.NewDeadLetter(q)
	a := &approver.Approver{Config: env.Pipeline().Config, Releases: st, Forge: &fg.Retrying{Forge: forge}, Teams: forge, Promotions: promotions, DeadLetter: dl, Log: log, Metrics: os.Stdout}
	return dl.Wrap(a.Lambda()), nil
}
