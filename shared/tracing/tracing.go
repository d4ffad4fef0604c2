package tracing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// Tracer records Conveyor's spans and exports them.
type Tracer struct {
	tp *sdktrace.TracerProvider
	t  trace.Tracer
}

// Option changes how New exports.
type Option func(*options)

type options struct{ batch time.Duration }

// WithBatchTimeout sets how long spans wait before they are exported
// together (by default $OTEL_BSP_SCHEDULE_DELAY, else 5 s).
func WithBatchTimeout(d time.Duration) Option { return func(o *options) { o.batch = d } }

// New returns a tracer exporting to the OTLP/HTTP endpoint, a base URL
// such as "http://127.0.0.1:4318" (spans go to its /v1/traces).
func New(ctx context.Context, endpoint string, opts ...Option) (*Tracer, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	var batch []sdktrace.BatchSpanProcessorOption
	if o.batch > 0 {
		batch = append(batch, sdktrace.WithBatchTimeout(o.batch))
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimSuffix(endpoint, "/")+"/v1/traces"))
	if err != nil {
		return nil, fmt.Errorf("configuring the OTLP exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, batch...),
		sdktrace.WithIDGenerator(ids{}),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("conveyor"))),
	)
	return &Tracer{tp: tp, t: tp.Tracer("github.com/conveyor-gitops/conveyor")}, nil
}

// Shutdown exports what is pending and stops.
func (t *Tracer) Shutdown(ctx context.Context) error { return t.tp.Shutdown(ctx) }

// ForceFlush exports what is pending now.
func (t *Tracer) ForceFlush(ctx context.Context) error { return t.tp.ForceFlush(ctx) }

// span records one finished span of trace traceID.
func (t *Tracer) span(traceID, name string, start, end time.Time, failed string, attrs ...attribute.KeyValue) {
	ctx := context.WithValue(context.Background(), traceKey{}, TraceID(traceID))
	_, s := t.t.Start(ctx, name, trace.WithTimestamp(start), trace.WithAttributes(append(attrs, attribute.String("conveyor.trace_id", traceID))...))
	if failed != "" {
		s.SetStatus(codes.Error, failed)
	}
	s.End(trace.WithTimestamp(end))
}

// Observe returns a consume observer that records, for each message of
// queueName handled by function, its wait in the queue and its handling.
func (t *Tracer) Observe(function, queueName string) func(context.Context, consume.Outcome, time.Duration) {
	return func(_ context.Context, o consume.Outcome, took time.Duration) {
		m := o.Message
		tid := m.Attributes[queue.AttrTraceID]
		kind := m.Attributes[queue.AttrKind]
		if env, err := event.Decode(m.Body); err == nil {
			tid, kind = env.TraceID, string(env.Kind)
		}
		if tid == "" {
			return
		}
		end := time.Now()
		start := end.Add(-took)
		attrs := []attribute.KeyValue{attribute.String("messaging.destination.name", queueName), attribute.String("messaging.message.id", m.ID),
			attribute.String("conveyor.kind", kind), attribute.Int("conveyor.receive_count", m.ReceiveCount)}
		if !m.SentAt.IsZero() && m.SentAt.Before(start) {
			t.span(tid, "wait "+queueName, m.SentAt, start, "", attrs...)
		}
		failed := ""
		if a := o.Decision.Action.String(); a == "retry" || a == "dead-letter" {
			failed = o.Decision.Reason
		}
		t.span(tid, "handle "+function, start, end, failed, append(attrs, attribute.String("faas.name", function),
			attribute.String("conveyor.outcome", o.Decision.Action.String()))...)
	}
}

// Ingress decorates the webhook handler: each request that the ingress
// answers with a trace id (X-Conveyor-Trace-Id) becomes an "ingress" span
// of that trace.
func (t *Tracer) Ingress(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		start := time.Now()
		rec := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, req)
		tid := w.Header().Get("X-Conveyor-Trace-Id")
		if tid == "" {
			return
		}
		failed := ""
		if rec.code >= 400 {
			failed = http.StatusText(rec.code)
		}
		t.span(tid, "ingress "+req.URL.Path, start, time.Now(), failed,
			attribute.String("url.path", req.URL.Path), attribute.Int("http.response.status_code", rec.code))
	})
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// TraceID is Conveyor's trace id as an OpenTelemetry one: the id itself
// when it is 32 hex digits (event.NewID's), else a hash of it.
func TraceID(id string) trace.TraceID {
	if t, err := trace.TraceIDFromHex(id); err == nil {
		return t
	}
	var t trace.TraceID
	h := sha256.Sum256([]byte(id))
	copy(t[:], h[:])
	return t
}

type traceKey struct{}

// ids gives each span the trace id of the change it belongs to, taken
// from its context, and a random span id.
type ids struct{}

func (ids) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	tid, ok := ctx.Value(traceKey{}).(trace.TraceID)
	if !ok {
		_, _ = rand.Read(tid[:])
	}
	return tid, ids{}.NewSpanID(ctx, tid)
}

func (ids) NewSpanID(context.Context, trace.TraceID) trace.SpanID {
	var s trace.SpanID
	_, _ = rand.Read(s[:])
	return s
}
