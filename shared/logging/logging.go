package logging

import (
	"context"
	"io"
	"log/slog"
	"strings"
)

type traceKey struct{}

// WithTrace returns ctx carrying traceID; every record logged with that ctx
// gets a "trace_id" attribute.
func WithTrace(ctx context.Context, traceID string) context.Context {
	if traceID == "" {
		return ctx
	}
	return context.WithValue(ctx, traceKey{}, traceID)
}

// Trace returns the trace id carried by ctx, or "".
func Trace(ctx context.Context) string {
	s, _ := ctx.Value(traceKey{}).(string)
	return s
}

// New returns a JSON logger writing to w at level, adding the context's
// trace id and redacting attributes whose key names a secret.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(Wrap(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: redact})))
}

// Wrap adds trace ids from the context to any handler (for example the one
// aws-lambda-go's lambdacontext builds).
func Wrap(h slog.Handler) slog.Handler { return traceHandler{h} }

type traceHandler struct{ slog.Handler }

func (t traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := Trace(ctx); id != "" {
		r.AddAttrs(slog.String("trace_id", id))
	}
	return t.Handler.Handle(ctx, r)
}

func (t traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{t.Handler.WithAttrs(as)}
}

func (t traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{t.Handler.WithGroup(name)}
}

// secretWords are key fragments whose values are never logged.
var secretWords = []string{"secret", "token", "password", "authorization", "private_key", "signature", "credential"}

// Redacted replaces the value of a secret-named attribute.
const Redacted = "[REDACTED]"

func redact(_ []string, a slog.Attr) slog.Attr {
	k := strings.ToLower(a.Key)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return slog.String(a.Key, Redacted)
		}
	}
	return a
}
