package lambdabatch

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqsqueue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// Handler is an SQS-triggered Lambda handler with partial batch responses.
type Handler func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error)

// Queue is the consumed queue, as the executor settles its records (a
// *sqsqueue.Queue built with its dead-letter queue and failure reasons).
type Queue interface {
	Send(ctx context.Context, in queue.SendInput) (string, error)
	ChangeVisibility(ctx context.Context, receipt string, d time.Duration) error
	Fail(ctx context.Context, receipt, reason string, retryIn time.Duration) error
	DeadLetterMessage(ctx context.Context, m queue.Message, reason string) error
	FIFO() bool
}

var _ Queue = (*sqsqueue.Queue)(nil)

// Policy is the retry policy on an SQS queue whose redrive policy allows
// maxReceives receives: SQS's caps on visibility and delay (a FIFO queue
// takes no per-message delay).
func Policy(maxReceives int, fifo bool) retry.Policy {
	p := retry.Policy{Backoff: retry.DefaultBackoff, MaxReceives: maxReceives, MaxVisibility: sqsqueue.MaxVisibility, MaxDelay: sqsqueue.MaxDelay}
	if fifo {
		p.MaxDelay = 0
	}
	return p
}

// New returns the Lambda handler that runs c over each batch and settles
// every record on q. c.FIFO is taken from q.
func New(q Queue, c consume.Consumer) Handler {
	c.FIFO = q.FIFO()
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		msgs := make([]queue.Message, len(ev.Records))
		for i := range ev.Records {
			msgs[i] = Message(&ev.Records[i])
		}
		var resp events.SQSEventResponse
		for i, o := range c.Batch(ctx, msgs) {
			// A replayed dead letter reads as its source message's id;
			// the requeue's dedupe id must be this delivery's own.
			o.Message.ID = ev.Records[i].MessageId
			if !settle(ctx, q, o, c.Log) {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: ev.Records[i].MessageId})
			}
		}
		return resp, nil
	}
}

// settle applies one decision and reports whether the event source mapping
// may delete the record. When applying fails the record stays, and SQS
// delivers it again after the queue's visibility timeout.
func settle(ctx context.Context, q Queue, o consume.Outcome, log *slog.Logger) (done bool) {
	m, d := o.Message, o.Decision
	log = log.With("message_id", m.ID, "action", d.Action.String(), "receive_count", m.ReceiveCount)
	var err error
	switch d.Action {
	case retry.Delete:
		return true
	case retry.Retry:
		log.WarnContext(ctx, "message failed, will retry", "reason", d.Reason, "retry_in", d.Delay.String())
		err = q.Fail(ctx, m.ReceiptHandle, d.Reason, d.Delay)
	case retry.Hold:
		log.InfoContext(ctx, "message held", "reason", d.Reason, "visible_in", d.Delay.String())
		err = q.ChangeVisibility(ctx, m.ReceiptHandle, d.Delay)
	case retry.Requeue:
		log.InfoContext(ctx, "message re-sent as a fresh message", "reason", d.Reason, "delay", d.Delay.String())
		if _, err = q.Send(ctx, consume.Requeued(m, d.Delay)); err == nil {
			return true
		}
	case retry.DeadLetter:
		log.WarnContext(ctx, "dead-lettering message", "reason", d.Reason)
		if err = q.DeadLetterMessage(ctx, m, d.Reason); err == nil {
			return true
		}
	}
	if err != nil {
		log.ErrorContext(ctx, "settling message; SQS will deliver it again", "error", err.Error())
	}
	return false
}

// Message converts a Lambda SQS record into the queue port's message, as
// the SQS adapter's Receive would have returned it.
func Message(rec *events.SQSMessage) queue.Message {
	m := queue.Message{
		ID:            rec.MessageId,
		Body:          []byte(rec.Body),
		ReceiptHandle: sqsqueue.ReceiptHandle(rec.MessageId, rec.ReceiptHandle),
		GroupID:       rec.Attributes["MessageGroupId"],
		DedupeID:      rec.Attributes["MessageDeduplicationId"],
		ReceiveCount:  atoi(rec.Attributes["ApproximateReceiveCount"]),
		Attributes:    map[string]string{},
	}
	for k, v := range rec.MessageAttributes {
		s := ""
		switch {
		case v.StringValue != nil:
			s = *v.StringValue
		case v.BinaryValue != nil:
			s = string(v.BinaryValue)
		}
		switch k {
		case sqsqueue.AttrDedupeID:
			m.DedupeID = s
		case sqsqueue.AttrSourceMessageID:
			m.ID = s
		default:
			m.Attributes[k] = s
		}
	}
	return m
}

// atoi reads ApproximateReceiveCount; a missing one counts as the first.
func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 1
		}
		n = n*10 + int(c-'0')
	}
	return max(n, 1)
}
