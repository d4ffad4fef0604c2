package awsenv

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqsqueue"
	"github.com/conveyor-gitops/conveyor/shared/runtime"
)

// DeadLetter is the runtime.DeadLetterer of an SQS-triggered function: it
// moves a record of the batch being handled straight to the queue's
// dead-letter queue, so a permanent failure is not retried maxReceiveCount
// times first. Lambda's event source mapping, not the adapter, received the
// batch, so the adapter has no copy of the body; Wrap keeps the batch in
// the invocation's context for DeadLetter to find.
type DeadLetter struct {
	q *sqsqueue.Queue
}

var _ runtime.DeadLetterer = (*DeadLetter)(nil)

// NewDeadLetter returns the dead-letterer of q, which must have been built
// with sqsqueue.WithDeadLetterQueue.
func NewDeadLetter(q *sqsqueue.Queue) *DeadLetter { return &DeadLetter{q: q} }

type batchKey struct{}

// Wrap returns h with the batch recorded in each invocation's context.
func (d *DeadLetter) Wrap(h runtime.Handler) runtime.Handler {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		byReceipt := make(map[string]*events.SQSMessage, len(ev.Records))
		for i := range ev.Records {
			byReceipt[ev.Records[i].ReceiptHandle] = &ev.Records[i]
		}
		return h(context.WithValue(ctx, batchKey{}, byReceipt), ev)
	}
}

// DeadLetter implements runtime.DeadLetterer for a record of the current
// batch. Anything else is an error, and Lambda then retries the record.
func (d *DeadLetter) DeadLetter(ctx context.Context, receipt, reason string) error {
	batch, _ := ctx.Value(batchKey{}).(map[string]*events.SQSMessage)
	rec, ok := batch[receipt]
	if !ok {
		return fmt.Errorf("dead-lettering from %s: %w: the record is not in the batch being handled (is the handler wrapped?)", d.q.Name(), queue.ErrStaleReceipt)
	}
	return d.q.DeadLetterMessage(ctx, Message(rec), reason)
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
