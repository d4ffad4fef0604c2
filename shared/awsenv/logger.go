package awsenv

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/conveyor-gitops/conveyor/shared/logging"
)

// Logger returns the logger every function sets as slog's default: JSON on
// stdout (CloudWatch reads both streams), at AWS_LAMBDA_LOG_LEVEL (default
// INFO), with the trace id of the event being handled, the Lambda request
// id, and secret-named attributes redacted.
//
// lambdacontext.NewLogHandler would add the request id too, but writes
// text unless the function's log format is JSON and redacts nothing; this
// is logging.New plus the request id.
func Logger() *slog.Logger { return NewLogger(os.Stdout, os.Getenv("AWS_LAMBDA_LOG_LEVEL")) }

// NewLogger is Logger writing to w at level (DEBUG, INFO, WARN, ERROR).
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToUpper(level) {
	case "DEBUG", "TRACE":
		l = slog.LevelDebug
	case "WARN":
		l = slog.LevelWarn
	case "ERROR", "FATAL":
		l = slog.LevelError
	}
	return slog.New(requestIDHandler{logging.New(w, l).Handler()})
}

// requestIDHandler adds the Lambda request id of the invocation.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		r.AddAttrs(slog.String("request_id", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
