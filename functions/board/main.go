// Command board is the Lambda entry point of the pipeline board: the
// read-only pages of shared/board over the stack's table, queue counters
// and GitOps repository, behind an IAM-authorised HTTP API.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/conveyor-gitops/conveyor/shared/awsenv"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

func loadConfig(lookup func(string) (string, bool)) (awsenv.Config, error) {
	needs := []awsenv.Need{awsenv.Table, awsenv.GitOps}
	for _, s := range queue.Topology {
		// The board reads the counters of each queue and its dead-letter
		// queue; it consumes neither.
		needs = append(needs, awsenv.Consumer(s.Name))
	}
	return awsenv.Load(lookup, needs...)
}

func main() {
	awsenv.Main("board", func(ctx context.Context, log *slog.Logger) (any, error) { return newHandler(ctx, log) })
}

func newHandler(ctx context.Context, log *slog.Logger) (awsenv.BoardHandler, error) {
	cfg, err := loadConfig(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	env, err := awsenv.Open(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	return env.BoardLambda()
}
