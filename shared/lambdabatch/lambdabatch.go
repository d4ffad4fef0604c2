package lambdabatch

import (
	"context"
	"log/slog"
	"strconv"
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
	Name() string
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
func New(q Queue, c consume.Consumer, opts ...Option) Handler {
	c.FIFO = q.FIFO()
	if c.Log == nil {
		c.Log = slog.Default()
	}
	rec := &recorder{queue: q.Name(), maxReceives: c.Policy.MaxReceives, log: c.Log}
	for _, o := range opts {
		o(&rec.options)
	}
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		msgs := make([]queue.Message, len(ev.Records))
		ids := make([]string, len(ev.Records))
		for i := range ev.Records {
			msgs[i], ids[i] = Message(&ev.Records[i]), ev.Records[i].MessageId
		}
		rec.ahead(ctx, msgs, ids)
		var resp events.SQSEventResponse
		for i, o := range c.Batch(ctx, msgs) {
			own, final := o.Message.ID, rec.final(o.Message)
			// A replayed dead letter reads as its source message's id;
			// the requeue's dedupe id must be this delivery's own.
			o.Message.ID = ids[i]
			done, a := settle(ctx, q, o, c.Log)
			if done {
				rec.settled(ctx, o.Message, own, final, a)
			} else {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: ids[i]})
			}
		}
		return resp, nil
	}
}

// settle applies one decision and reports whether the event source mapping
// may delete the record, and what it did. When applying fails the record
// stays, and SQS delivers it again after the queue's visibility timeout.
func settle(ctx context.Context, q Queue, o consume.Outcome, log *slog.Logger) (done bool, a action) {
	m, d := o.Message, o.Decision
	log = log.With("message_id", m.ID, "action", d.Action.String(), "receive_count", m.ReceiveCount)
	var err error
	switch d.Action {
	case retry.Delete:
		return true, a
	case retry.Retry:
		log.WarnContext(ctx, "message failed, will retry", "reason", d.Reason, "retry_in", d.Delay.String())
		err = q.Fail(ctx, m.ReceiptHandle, d.Reason, d.Delay)
	case retry.Hold:
		log.InfoContext(ctx, "message held", "reason", d.Reason, "visible_in", d.Delay.String())
		err = q.ChangeVisibility(ctx, m.ReceiptHandle, d.Delay)
	case retry.Requeue:
		log.InfoContext(ctx, "message re-sent as a fresh message", "reason", d.Reason, "delay", d.Delay.String())
		if _, err = q.Send(ctx, consume.Requeued(m, d.Delay)); err == nil {
			return true, a
		}
	case retry.DeadLetter:
		log.WarnContext(ctx, "dead-lettering message", "reason", d.Reason)
		if err = q.DeadLetterMessage(ctx, m, d.Reason); err == nil {
			return true, action{deadLettered: true, id: m.ID, reason: d.Reason}
		}
	}
	if err != nil {
		log.ErrorContext(ctx, "settling message; SQS will deliver it again", "error", err.Error())
	}
	return false, a
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
		SentAt:        millis(rec.Attributes["SentTimestamp"]),
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

// millis reads an SQS timestamp attribute (epoch milliseconds).
func millis(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
