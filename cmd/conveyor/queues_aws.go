package main

import (
	"context"
	"io"

	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
)

// stackStats reads every work queue's counters from SQS: the same columns
// as the local runtime's, from SQS's approximate counts.
func stackStats(ctx context.Context, name string, stderr io.Writer) (map[string]sqlitequeue.Stats, error) {
	st, err := resolveStack(ctx, name, nil, stderr)
	if err != nil {
		return nil, err
	}
	env, err := st.env(consumers()...)
	if err != nil {
		return nil, err
	}
	return env.QueueStats(ctx)
}
