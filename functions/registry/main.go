// Command registry is the Lambda entry point of the images queue's
// consumer: it turns a pushed image into its first environment's promotion.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/images"
	"github.com/conveyor-gitops/conveyor/shared/lambdabatch"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func loadConfig(lookup func(string) (string, bool)) (awsenv.Config, error) {
	return awsenv.Load(lookup, awsenv.Table, awsenv.Consumer(queue.Images), awsenv.Sender(queue.Promotions), awsenv.GitOps)
}

func main() {
	awsenv.Main("registry", func(ctx context.Context, log *slog.Logger) (any, error) { return newHandler(ctx, log) })
}

func newHandler(ctx context.Context, log *slog.Logger) (lambdabatch.Handler, error) {
	cfg, err := loadConfig(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	spec, _ := queue.Lookup(queue.Images)
	c, err := awsenv.OpenConsumer(ctx, cfg, log, queue.Images)
	if err != nil {
		return nil, err
	}
	env, st := c.Env, c.State
	promotions, err := env.Queue(queue.Promotions, nil)
	if err != nil {
		return nil, err
	}
	h := &images.Handler{Config: env.Pipeline().Config, Promotions: promotions, Traces: images.TraceLookup(st),
		RemoteOptions: []remote.Option{remote.WithAuthFromKeychain(env.Keychain())}, Log: log}
	return lambdabatch.New(c.Queue, consume.Consumer{Fn: h.Func(), Decode: images.Decode, Policy: lambdabatch.Policy(spec.MaxReceives, spec.FIFO), Log: log}), nil
}
