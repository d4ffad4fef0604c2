// Command webhook is the Lambda entry point of the webhook ingress: it
// verifies GitHub and registry webhooks and enqueues what they announce.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

func loadConfig(lookup func(string) (string, bool)) (awsenv.Config, error) {
	return awsenv.Load(lookup, awsenv.Table, awsenv.Webhook,
		awsenv.Sender(queue.Builds), awsenv.Sender(queue.Images), awsenv.Sender(queue.Approvals))
}

func main() {
	awsenv.Main("webhook", func(ctx context.Context, log *slog.Logger) (any, error) { return newHandler(ctx, log) })
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
