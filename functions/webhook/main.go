// Command webhook is the Lambda entry point of the webhook ingress: it
// verifies GitHub and registry webhooks and enqueues what they announce.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

func loadConfig(lookup func(string) (string, bool)) (awsenv.Config, error) {
	return awsenv.Load(lookup, awsenv.Table, awsenv.Webhook,
		awsenv.Sender(queue.Builds), awsenv.Sender(queue.Images), awsenv.Sender(queue.Approvals))
}

func main() {
	log := awsenv.Logger()
	slog.SetDefault(log)
	h, err := newHandler(context.Background(), log)
	if err != nil {
		log.Error("starting the webhook function", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}

func newHandler(ctx context.Context, log *slog.Logger) (awsenv.WebhookHandler, error) {
	cfg, err := loadConfig(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	env, err := awsenv.Open(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	return env.Webhook(ctx)
}
