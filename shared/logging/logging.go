package logging

import (
	"context"
	"io"
	"log/slog"
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
// trace id, redacting attributes whose key names a secret and the
// credentials of URLs anywhere in a record.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(Wrap(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: redact})))
}

// NewText is New with logfmt-style text lines, for a person at a terminal;
// trace ids and redaction are the same.
func NewText(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(Wrap(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: redact})))
}

// Wrap adds trace ids from the context to any handler (for example the one
// aws-lambda-go's lambdacontext builds) and redacts secrets as New does,
// so a handler without New's ReplaceAttr still writes none.
func Wrap(h slog.Handler) slog.Handler { return traceHandler{h} }

type traceHandler struct{ slog.Handler }

func (t traceHandler) Handle(ctx context.Context, r slog.Record) error {
	// Records are shared with the caller: build a new one.
	out := slog.NewRecord(r.Time, r.Level, RedactURLs(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	if id := Trace(ctx); id != "" {
		out.AddAttrs(slog.String("trace_id", id))
	}
	return t.Handler.Handle(ctx, out)
}

func (t traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return traceHandler{t.Handler.WithAttrs(red)}
}

func (t traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{t.Handler.WithGroup(name)}
}

// secretWords are key fragments whose values are never logged.
var secretWords = []string{"secret", "token", "password", "authorization", "private_key", "signature", "credential"}

// Redacted replaces the value of a secret-named attribute.
const Redacted = "[REDACTED]"

func redact(_ []string, a slog.Attr) slog.Attr { return redactAttr(a) }
