package awsenv

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/metrics"
)

// containerMetrics counts what this container's function does. A Lambda
// container runs one function, one invocation at a time, so one registry
// per process is one per function; Main writes what each invocation
// changed as EMF when it returns.
var containerMetrics = metrics.New(metrics.Sources{}, metrics.KeepDeltas())

// Metrics is the container's metrics registry: handlers count into it,
// and the EMF export reads it.
func Metrics() *metrics.Registry { return containerMetrics }

// emfHandler writes, after each invocation, what the invocation counted
// as CloudWatch EMF lines (Lambda's log pipeline turns them into metrics
// in the Conveyor namespace).
type emfHandler struct {
	next    lambda.Handler
	metrics *metrics.Registry
	out     io.Writer
	log     *slog.Logger
}

// Invoke implements lambda.Handler.
func (h emfHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := h.next.Invoke(ctx, payload)
	if ferr := h.metrics.FlushEMF(h.out, time.Now()); ferr != nil {
		h.log.WarnContext(ctx, "writing the invocation's metrics", "error", ferr.Error())
	}
	return out, err
}

// observers calls each non-nil observer in turn.
func observers(fs ...func(context.Context, consume.Outcome, time.Duration)) func(context.Context, consume.Outcome, time.Duration) {
	return func(ctx context.Context, o consume.Outcome, took time.Duration) {
		for _, f := range fs {
			if f != nil {
				f(ctx, o, took)
			}
		}
	}
}
