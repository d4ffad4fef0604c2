// Command promote is the Lambda entry point of the promotions queue's
// consumer: it proposes (or merges) a digest into one environment.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	fg "github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/images"
	"github.com/conveyor-gitops/conveyor/shared/promoter"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/runtime"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func loadConfig(lookup func(string) (string, bool)) (awsenv.Config, error) {
	return awsenv.Load(lookup, awsenv.Table, awsenv.Consumer(queue.Promotions), awsenv.GitHub)
}

func main() {
	log := awsenv.Logger()
	slog.SetDefault(log)
	h, err := newHandler(context.Background(), log)
	if err != nil {
		log.Error("starting the promote function", "error", err.Error())
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
	q, err := env.Queue(queue.Promotions, st)
	if err != nil {
		return nil, err
	}
	forge, err := env.Forge()
	if err != nil {
		return nil, err
	}
	dl, auth := awsenv.NewDeadLetter(q), remote.WithAuthFromKeychain(env.Keychain())
	p := &promoter.Promoter{Config: env.Pipeline().Config, Releases: st, Repo: env.GitOpsRepo(), Forge: &fg.Retrying{Forge: forge}, DeadLetter: dl, Log: log,
		Inspect: func(ctx context.Context, ref string) (*images.Provenance, error) {
			return images.Inspect(ctx, ref, auth)
		}}
	return dl.Wrap(p.Lambda()), nil
}
