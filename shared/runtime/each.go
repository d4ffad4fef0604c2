package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// DeadLetterer sends a received message to its dead-letter queue now. In
// AWS the handler does this itself for permanent failures (Lambda can only
// retry); the local runtime does it from the recorded outcome.
type DeadLetterer interface {
	DeadLetter(ctx context.Context, receipt, reason string) error
}

// MessageFunc processes one decoded envelope. A nil error deletes the
// message; an error marked retry.Permanent dead-letters it at once; any
// other error retries it with backoff.
type MessageFunc func(ctx context.Context, env *event.Envelope) error

// Each runs fn over every record of an SQS batch and builds Lambda's
// partial-batch answer. Records are decoded as envelopes (an undecodable one
// is a permanent failure), each runs with the envelope's trace id in its
// context and logger, and a panic fails only its own record. On a FIFO
// queue processing stops at the first failure and every later record of
// that group is reported failed too, preserving order.
func Each(ctx context.Context, ev events.SQSEvent, log *slog.Logger, dlq DeadLetterer, fn MessageFunc) events.SQSEventResponse {
	return EachDecoded(ctx, ev, log, dlq, event.Decode, fn)
}

// EachDecoded is Each with a custom decoder, for queues that also receive
// messages in another format (EventBridge puts ECR events on the images
// queue as they are).
func EachDecoded(ctx context.Context, ev events.SQSEvent, log *slog.Logger, dlq DeadLetterer, decode func([]byte) (*event.Envelope, error), fn MessageFunc) events.SQSEventResponse {
	var resp events.SQSEventResponse
	blocked := map[string]bool{}
	for _, rec := range ev.Records {
		group := rec.Attributes["MessageGroupId"]
		if group != "" && blocked[group] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			continue
		}
		err := one(ctx, rec, log, decode, fn)
		if err == nil {
			continue
		}
		permanent := retry.IsPermanent(err)
		if permanent && !Recording(ctx) && dlq != nil {
			if derr := dlq.DeadLetter(ctx, rec.ReceiptHandle, err.Error()); derr == nil {
				continue
			} else {
				log.ErrorContext(ctx, "dead-lettering failed; the queue will retry", "message_id", rec.MessageId, "error", derr.Error())
			}
		}
		Record(ctx, rec.MessageId, Outcome{Err: err, Permanent: permanent})
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		if group != "" {
			blocked[group] = true
		}
	}
	return resp
}

func one(ctx context.Context, rec events.SQSMessage, log *slog.Logger, decode func([]byte) (*event.Envelope, error), fn MessageFunc) (err error) {
	// The one place a failure becomes a log line, a retry reason and a
	// dead-letter reason: no URL credentials past it.
	defer func() { err = logging.RedactError(err) }()
	env, err := decode([]byte(rec.Body))
	if err != nil {
		err = retry.Permanent(fmt.Errorf("message %s: %w", rec.MessageId, err))
		log.ErrorContext(ctx, "message failed", "message_id", rec.MessageId, "permanent", true, "error", err.Error())
		return err
	}
	ctx = logging.WithTrace(ctx, env.TraceID)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handling %s %s panicked: %v", env.Kind, env.ID, r)
		}
		if err != nil {
			err = logging.RedactError(err)
			log.ErrorContext(ctx, "message failed", "message_id", rec.MessageId, "envelope_id", env.ID, "kind", string(env.Kind),
				"receive_count", rec.Attributes["ApproximateReceiveCount"], "permanent", retry.IsPermanent(err), "error", err.Error())
		}
	}()
	return fn(ctx, env)
}

// ErrWrongKind is returned for an envelope sent to the wrong queue.
var ErrWrongKind = errors.New("wrong envelope kind for this queue")

// Expect checks an envelope's kind, as a permanent error.
func Expect(env *event.Envelope, kind event.Kind) error {
	if env.Kind != kind {
		return retry.Permanent(fmt.Errorf("%w: got %s, want %s", ErrWrongKind, env.Kind, kind))
	}
	return nil
}
