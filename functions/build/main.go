// Command build is the Lambda entry point of the builds queue's consumer:
// it builds and pushes the image of every app a push changes.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/builder"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/runtime"
)

func loadConfig(lookup func(string) (string, bool)) (awsenv.Config, error) {
	return awsenv.Load(lookup, awsenv.Table, awsenv.Consumer(queue.Builds), awsenv.GitOps)
}

func main() {
	log := awsenv.Logger()
	slog.SetDefault(log)
	h, err := newHandler(context.Background(), log)
	if err != nil {
		log.Error("starting the build function", "error", err.Error())
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
	q, err := env.Queue(queue.Builds, st)
	if err != nil {
		return nil, err
	}
	dl := awsenv.NewDeadLetter(q)
	b := &builder.Builder{Config: env.Pipeline().Config, Idem: st, GitAuth: env.GitAuth(), Keychain: env.Keychain(), DeadLetter: dl, Log: log}
	return dl.Wrap(b.Handler()), nil
}
