package awsenv

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqsqueue"
	"github.com/conveyor-gitops/conveyor/shared/state/dynamostate"
)

// Main is every function's main: the JSON logger, the OTLP exporter when
// OTEL_EXPORTER_OTLP_ENDPOINT is set, the handler built once per
// container, lambda.Start, and after each invocation its spans exported
// and the metrics it counted written as EMF on stdout (see Metrics). An
// init error is logged and exits 1, so the Lambda console shows the reason
// instead of a timeout.
func Main(function string, newHandler func(ctx context.Context, log *slog.Logger) (any, error)) {
	log := Logger()
	slog.SetDefault(log)
	if err := openTracer(context.Background(), os.LookupEnv); err != nil {
		log.Error("starting the "+function+" function", "error", err.Error())
		os.Exit(1)
	}
	h, err := newHandler(context.Background(), log)
	if err != nil {
		log.Error("starting the "+function+" function", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(invocationHandler{next: lambda.NewHandler(h), metrics: containerMetrics, tracer: containerTracer, out: os.Stdout, log: log})
}

// ConsumerDeps is what a queue-consuming function starts from.
type ConsumerDeps struct {
	Env   *Env
	State *dynamostate.Store
	// Queue is the function's own queue, with its dead-letter queue and
	// failure reasons, for lambdabatch to settle records on.
	Queue *sqsqueue.Queue
}

// OpenConsumer opens the environment, the state table and the consumer's
// queue (with failure reasons kept in the table).
func OpenConsumer(ctx context.Context, cfg Config, log *slog.Logger, queueName string) (*ConsumerDeps, error) {
	env, err := Open(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	st, err := env.State()
	if err != nil {
		return nil, err
	}
	q, err := env.Queue(queueName, st)
	if err != nil {
		return nil, err
	}
	return &ConsumerDeps{Env: env, State: st, Queue: q}, nil
}
