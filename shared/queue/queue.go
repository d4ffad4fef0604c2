package queue

import (
	"context"
	"errors"
	"time"
)

// MaxBodySize is the largest message body a queue accepts (SQS's default).
const MaxBodySize = 256 << 10

// Errors every adapter returns for the same conditions.
var (
	// ErrStaleReceipt means the receipt handle no longer owns the message:
	// its visibility timeout expired and another consumer received it.
	ErrStaleReceipt = errors.New("stale receipt handle")
	// ErrTooLarge means a body exceeds MaxBodySize.
	ErrTooLarge = errors.New("message body too large")
	// ErrNoGroup means a FIFO queue was sent a message without a group id.
	ErrNoGroup = errors.New("FIFO queue needs a message group id")
	// ErrUnknownQueue means a queue name is not configured.
	ErrUnknownQueue = errors.New("unknown queue")
)

// Message is one received message.
type Message struct {
	ID         string
	Body       []byte
	GroupID    string
	DedupeID   string
	Attributes map[string]string
	// ReceiptHandle identifies this receive; Delete and ChangeVisibility
	// need it.
	ReceiptHandle   string
	ReceiveCount    int
	SentAt          time.Time
	FirstReceivedAt time.Time
	// LastError is the reason recorded by the last Fail, if any.
	LastError string
}

// SendInput is a message to send.
type SendInput struct {
	Body []byte
	// GroupID orders messages on a FIFO queue; required there.
	GroupID string
	// DedupeID drops a second send with the same id within DedupeWindow.
	DedupeID string
	// Delay keeps the message invisible for this long after sending.
	Delay      time.Duration
	Attributes map[string]string
}

// DedupeWindow is how long a DedupeID suppresses repeats, as on SQS FIFO.
const DedupeWindow = 5 * time.Minute

// Queue is one queue. Every method is safe for concurrent use.
type Queue interface {
	// Name is the queue's name, e.g. "builds".
	Name() string
	// Send enqueues a message and returns its id. A send deduplicated by
	// DedupeID returns the id of the message it duplicates.
	Send(ctx context.Context, in SendInput) (string, error)
	// Receive returns up to max visible messages and hides them for
	// visibility. It returns an empty slice when nothing is visible.
	Receive(ctx context.Context, max int, visibility time.Duration) ([]Message, error)
	// Delete removes a received message. Deleting a message that is
	// already gone is not an error.
	Delete(ctx context.Context, receipt string) error
	// ChangeVisibility makes a received message visible again after d.
	ChangeVisibility(ctx context.Context, receipt string, d time.Duration) error
	// Fail records why processing failed and makes the message visible
	// again after retryIn. Once the message has been received the maximum
	// number of times it moves to the dead-letter queue with this reason.
	Fail(ctx context.Context, receipt, reason string, retryIn time.Duration) error
	// DeadLetter moves a received message to the dead-letter queue now,
	// with reason: for failures that no retry can fix.
	DeadLetter(ctx context.Context, receipt, reason string) error
}

// Attribute names Conveyor sets on every message, mirrored as SQS message
// attributes so that operators can filter without decoding bodies.
const (
	AttrKind    = "kind"
	AttrTraceID = "trace_id"
	AttrApp     = "app"
	// AttrDeadReason and AttrSourceQueue are set on dead-lettered messages.
	AttrDeadReason  = "dead_reason"
	AttrSourceQueue = "source_queue"
)
