// Command replay is the Lambda entry point operators invoke to send
// dead-lettered events back to their queues.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/replay"
)

func loadConfig(lookup func(string) (string, bool)) (awsenv.Config, error) {
	needs := []awsenv.Need{awsenv.Table}
	for _, s := range queue.Topology {
		needs = append(needs, awsenv.Consumer(s.Name))
	}
	return awsenv.Load(lookup, needs...)
}

func main() {
	awsenv.Main("replay", func(ctx context.Context, log *slog.Logger) (any, error) { return newHandler(ctx, log) })
}

func newHandler(ctx context.Context, log *slog.Logger) (func(context.Context, replay.Request) (replay.Summary, error), error) {
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
	var pairs []replay.SQSQueues
	for _, s := range queue.Topology {
		src, err := env.Queue(s.Name, st)
		if err != nil {
			return nil, err
		}
		dlq, err := env.DeadLetterQueue(s.Name, st)
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, replay.SQSQueues{Source: src, DeadLetter: dlq})
	}
	dead, err := replay.NewSQS(pairs, replay.WithMoveTasks(env.SQS()), replay.WithRecords(st))
	if err != nil {
		return nil, err
	}
	return replay.Handler(dead, log), nil
}
