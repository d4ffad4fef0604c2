package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// Func processes one decoded envelope. A nil error deletes the message; an
// error marked retry.Permanent dead-letters it at once; retry.Defer holds
// it for the wait without counting a failure; any other error retries it
// with backoff.
type Func func(ctx context.Context, env *event.Envelope) error

// Decoder turns a message body into an envelope. event.Decode is the
// default; the images queue also takes EventBridge's ECR events as they are.
type Decoder func([]byte) (*event.Envelope, error)

// ErrWrongKind is returned for an envelope sent to the wrong queue.
var ErrWrongKind = errors.New("wrong envelope kind for this queue")

// Expect checks an envelope's kind, as a permanent error.
func Expect(env *event.Envelope, kind event.Kind) error {
	if env.Kind != kind {
		return retry.Permanent(fmt.Errorf("%w: got %s, want %s", ErrWrongKind, env.Kind, kind))
	}
	return nil
}

// Consumer is a Func with what running it needs.
type Consumer struct {
	Fn     Func
	Decode Decoder // event.Decode when nil
	Policy retry.Policy
	FIFO   bool
	Log    *slog.Logger
	// Observe, when set, sees each message's decision and how long its
	// handling took, before the executor applies it: for metrics and
	// dead-letter notifications, the same in every runtime.
	Observe func(ctx context.Context, o Outcome, took time.Duration)
}

// Outcome is one message's decision.
type Outcome struct {
	Message  queue.Message
	Decision retry.Decision
}

// Batch runs the consumer over msgs in order and decides each. A panic
// fails only its own message. On a FIFO queue a message that stays in the
// queue (retried or held) blocks the rest of its group in the batch: those
// are held for zero, unprocessed, so the group keeps its order.
func (c Consumer) Batch(ctx context.Context, msgs []queue.Message) []Outcome {
	out := make([]Outcome, 0, len(msgs))
	blocked := map[string]bool{}
	for _, m := range msgs {
		if c.FIFO && blocked[m.GroupID] {
			out = append(out, Outcome{m, retry.Decision{Action: retry.Hold, Reason: "an earlier message of its group stays in the queue"}})
			continue
		}
		start := time.Now()
		d := c.Policy.Decide(c.Handle(ctx, m), m.ReceiveCount)
		if d.Action == retry.Retry || d.Action == retry.Hold {
			blocked[m.GroupID] = true
		}
		out = append(out, Outcome{m, d})
		if c.Observe != nil {
			c.Observe(ctx, out[len(out)-1], time.Since(start))
		}
	}
	return out
}

// Handle runs the consumer on one message: decoded, with the envelope's
// trace id in its context and logger, a panic turned into an error, and
// credentials in URLs redacted from the error it returns.
func (c Consumer) Handle(ctx context.Context, m queue.Message) (err error) {
	log := c.Log
	if log == nil {
		log = slog.Default()
	}
	decode := c.Decode
	if decode == nil {
		decode = event.Decode
	}
	// The one place a failure becomes a log line, a retry reason and a
	// dead-letter reason: no URL credentials past it.
	defer func() { err = logging.RedactError(err) }()
	env, err := decode(m.Body)
	if err != nil {
		err = retry.Permanent(fmt.Errorf("message %s: %w", m.ID, err))
		log.ErrorContext(ctx, "message failed", "message_id", m.ID, "permanent", true, "error", err.Error())
		return err
	}
	ctx = logging.WithTrace(ctx, env.TraceID)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handling %s %s panicked: %v", env.Kind, env.ID, r)
		}
		if err == nil {
			return
		}
		err = logging.RedactError(err)
		if _, deferred := retry.Deferred(err); deferred {
			log.InfoContext(ctx, "message deferred", "message_id", m.ID, "envelope_id", env.ID, "kind", string(env.Kind), "why", err.Error())
			return
		}
		log.ErrorContext(ctx, "message failed", "message_id", m.ID, "envelope_id", env.ID, "kind", string(env.Kind),
			"receive_count", m.ReceiveCount, "permanent", retry.IsPermanent(err), "error", err.Error())
	}()
	return c.Fn(ctx, env)
}

// Requeued is the fresh copy of m that a Requeue decision sends: same body,
// group and attributes, delayed by d, with a dedupe id of its own. m's
// dedupe id must not be reused: a FIFO queue would drop the copy as a
// duplicate of m within its 5-minute window. The id derives from m's, so a
// second requeue of the same receive (a crash before m was deleted) is
// deduplicated.
func Requeued(m queue.Message, d time.Duration) queue.SendInput {
	attrs := make(map[string]string, len(m.Attributes))
	for k, v := range m.Attributes {
		attrs[k] = v
	}
	return queue.SendInput{Body: m.Body, GroupID: m.GroupID, DedupeID: "requeue-" + m.ID, Delay: d, Attributes: attrs}
}
