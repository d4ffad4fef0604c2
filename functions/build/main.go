// Command build is the Lambda entry point of the builds queue's consumer:
// it builds and pushes the image of every app a push changes.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/builder"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/lambdabatch"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

func loadConfig(lookup func(string) (string, bool)) (awsenv.Config, error) {
	return awsenv.Load(lookup, awsenv.Table, awsenv.Consumer(queue.Builds), awsenv.GitOps)
}

func main() {
	awsenv.Main("build", func(ctx context.Context, log *slog.Logger) (any, error) { return newHandler(ctx, log) })
}

func newHandler(ctx context.Context, log *slog.Logger) (lambdabatch.Handler, error) {
	cfg, err := loadConfig(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	spec, _ := queue.Lookup(queue.Builds)
	c, err := awsenv.OpenConsumer(ctx, cfg, log, queue.Builds)
	if err != nil {
		return nil, err
	}
	env, st := c.Env, c.State
	b := &builder.Builder{Config: env.Pipeline().Config, Idem: st, GitHost: env.GitHost(), GitAuth: env.GitAuth(), Keychain: env.Keychain(), Log: log}
	return lambdabatch.New(c.Queue, consume.Consumer{Fn: b.Func(), Policy: lambdabatch.Policy(spec.MaxReceives, spec.FIFO), Log: log}), nil
}
