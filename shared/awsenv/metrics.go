package awsenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/metrics"
	"github.com/conveyor-gitops/conveyor/shared/tracing"
)

// VarOTLPEndpoint is the standard OpenTelemetry variable: set, every
// function exports its spans there over OTLP/HTTP.
const VarOTLPEndpoint = "OTEL_EXPORTER_OTLP_ENDPOINT"

// containerMetrics counts what this container's function does. A Lambda
// container runs one function, one invocation at a time, so one registry
// per process is one per function; Main writes what each invocation
// changed as EMF when it returns.
var containerMetrics = metrics.New(metrics.Sources{}, metrics.KeepDeltas())

// containerTracer exports spans when VarOTLPEndpoint is set (nil: no
// spans); Main sets it before building the handler.
var containerTracer *tracing.Tracer

// openTracer sets containerTracer when lookup names an OTLP endpoint.
func openTracer(ctx context.Context, lookup func(string) (string, bool)) error {
	ep, ok := lookup(VarOTLPEndpoint)
	if !ok || ep == "" {
		return nil
	}
	t, err := tracing.New(ctx, ep)
	if err != nil {
		return fmt.Errorf("reading %s: %w", VarOTLPEndpoint, err)
	}
	containerTracer = t
	return nil
}

// flushTimeout bounds the span export at the end of an invocation, which
// the invocation waits for.
const flushTimeout = 2 * time.Second

// invocationHandler, after each invocation, exports its spans (Lambda
// freezes the container once the invocation returns, so a batch left for
// later could wait until the next one, or forever) and writes what it
// counted as CloudWatch EMF lines (Lambda's log pipeline turns them into
// metrics in the Conveyor namespace).
type invocationHandler struct {
	next    lambda.Handler
	metrics *metrics.Registry
	tracer  *tracing.Tracer
	out     io.Writer
	log     *slog.Logger
}

// Invoke implements lambda.Handler.
func (h invocationHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := h.next.Invoke(ctx, payload)
	if h.tracer != nil {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
		if ferr := h.tracer.ForceFlush(fctx); ferr != nil {
			h.log.WarnContext(ctx, "exporting the invocation's spans", "error", ferr.Error())
		}
		cancel()
	}
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

// traceObserver records a consumer's queue waits and handling as spans,
// when the container exports spans.
func traceObserver(function, queueName string) func(context.Context, consume.Outcome, time.Duration) {
	if containerTracer == nil {
		return nil
	}
	return containerTracer.Observe(function, queueName)
}
