// Command registry is the Lambda entry point of the images queue's
// consumer: it turns a pushed image into its first environment's promotion.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/images"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/runtime"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func loadConfig(lookup func(string) (string, bool)) (awsenv.Config, error) {
	return awsenv.Load(lookup, awsenv.Table, awsenv.Consumer(queue.Images), awsenv.Sender(queue.Promotions), awsenv.GitOps)
}

func main() {
	log := awsenv.Logger()
	slog.SetDefault(log)
	h, err := newHandler(context.Background(), log)
	if err != nil {
		log.Error("starting the registry function", "error", err.Error())
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
	q, err := env.Queue(queue.Images, st)
	if err != nil {
		return nil, err
	}
	promotions, err := env.Queue(queue.Promotions, nil)
	if err != nil {
		return nil, err
	}
	dl := awsenv.NewDeadLetter(q)
	h := &images.Handler{Config: env.Pipeline().Config, Promotions: promotions, Traces: images.TraceLookup(st),
		RemoteOptions: []remote.Option{remote.WithAuthFromKeychain(env.Keychain())}, DeadLetter: dl, Log: log}
	return dl.Wrap(h.Lambda()), nil
}
