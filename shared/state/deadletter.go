package state

import (
	"context"
	"time"
)

// MaxDeadLetterBody is the most of a dead letter's body a record keeps: a
// DynamoDB item holds at most 400 KB and an SQS message up to 1 MiB.
const MaxDeadLetterBody = 256 << 10

// DeadLetter records one dead-lettered message, written when a consumer
// dead-letters it, so that it can be read without receiving it from its
// dead-letter queue (on SQS, listing a queue hides its messages).
type DeadLetter struct {
	// Queue is the work queue the message failed in.
	Queue string
	// ID is the message id the dead-letter queue reports for it: on SQS
	// the id of the work queue's message.
	ID string
	// Body is the message body, at most MaxDeadLetterBody bytes of it;
	// BodySize is its whole length, larger when the body was cut.
	Body       []byte
	BodySize   int
	Attributes map[string]string
	// Reason is why it was dead-lettered.
	Reason       string
	ReceiveCount int
	SentAt       time.Time
	// DeadAt is when it was dead-lettered, or, for a record written ahead
	// of a move by the queue's own redrive policy, the earliest time that
	// move can happen: until then the message may still succeed.
	DeadAt time.Time
	// ExpiresAt is when the store forgets the record: the dead-letter
	// queue's retention, counted from when it was put.
	ExpiresAt time.Time
}

// DeadLetters stores DeadLetter records, keyed by queue and id.
type DeadLetters interface {
	// PutDeadLetter creates or replaces d's record, kept for retention.
	PutDeadLetter(ctx context.Context, d DeadLetter, retention time.Duration) error
	// DeleteDeadLetter forgets a record; an absent one is no error.
	DeleteDeadLetter(ctx context.Context, queue, id string) error
	// ListDeadLetters returns the unexpired records of work queue queue
	// ("" for every queue), by queue, then oldest DeadAt first.
	ListDeadLetters(ctx context.Context, queue string) ([]DeadLetter, error)
}

// CutBody returns at most MaxDeadLetterBody bytes of body and its length.
func CutBody(body []byte) ([]byte, int) {
	return body[:min(len(body), MaxDeadLetterBody)], len(body)
}
