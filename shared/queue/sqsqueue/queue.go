package sqsqueue

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

// api is the part of *sqs.Client the adapter uses.
type api interface {
	SendMessage(ctx context.Context, params *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, params *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	ReceiveMessage(ctx context.Context, params *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, params *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, params *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, params *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

var _ api = (*sqs.Client)(nil)

// Reasons keeps why messages failed, keyed by SQS message id, because SQS
// itself keeps nothing of the kind. The DynamoDB state adapter implements
// it (dynamostate.Store).
type Reasons interface {
	// PutReason records the latest failure reason of a message.
	PutReason(ctx context.Context, messageID, reason string) error
	// Reasons returns the recorded reasons of the given messages; messages
	// without one are absent from the map.
	Reasons(ctx context.Context, messageIDs []string) (map[string]string, error)
}

// Queue is one SQS queue.
type Queue struct {
	api     api
	url     string
	name    string
	fifo    bool
	dlqURL  string
	dlqFIFO bool
	reasons Reasons
	wait    int32
	log     *slog.Logger

	mu       sync.Mutex
	inflight map[string]inflight // by receipt handle
}

var _ queue.Queue = (*Queue)(nil)

// inflight is a received message remembered until its visibility ends, so
// that DeadLetter can copy its body.
type inflight struct {
	msg   queue.Message
	until time.Time
}

// Option configures a Queue.
type Option func(*options)

type options struct {
	dlqURL  string
	reasons Reasons
	wait    time.Duration
	log     *slog.Logger
}

// WithDeadLetterQueue names the queue that DeadLetter copies messages to:
// the same queue the source queue's redrive policy names.
func WithDeadLetterQueue(queueURL string) Option { return func(o *options) { o.dlqURL = queueURL } }

// WithReasons keeps failure reasons in r; see Reasons.
func WithReasons(r Reasons) Option { return func(o *options) { o.reasons = r } }

// WithWaitTime makes Receive long-poll for up to d (at most 20 s) when no
// message is visible. The default, 0, returns at once.
func WithWaitTime(d time.Duration) Option { return func(o *options) { o.wait = d } }

// WithLogger is where the adapter logs what it cannot return, such as a
// failed reason lookup. The default discards.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// New returns the queue at queueURL, e.g.
// https://sqs.us-east-1.amazonaws.com/123456789012/promotions.fifo; client is
// an *sqs.Client. A queue whose name ends in .fifo is FIFO; its dead-letter
// queue must be FIFO too.
func New(client api, queueURL string, opts ...Option) (*Queue, error) {
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	name, fifo, err := parseURL(queueURL)
	if err != nil {
		return nil, err
	}
	q := &Queue{api: client, url: queueURL, name: name, fifo: fifo, dlqURL: o.dlqURL, reasons: o.reasons, log: o.log,
		inflight: map[string]inflight{}}
	if o.dlqURL != "" {
		if _, q.dlqFIFO, err = parseURL(o.dlqURL); err != nil {
			return nil, err
		}
		if q.dlqFIFO != fifo {
			return nil, fmt.Errorf("configuring %s: dead-letter queue %s must be FIFO exactly when the queue is", name, o.dlqURL)
		}
	}
	if o.wait < 0 || o.wait > 20*time.Second {
		return nil, fmt.Errorf("configuring %s: wait time %v is outside 0–20 s", name, o.wait)
	}
	q.wait = int32(seconds(o.wait))
	return q, nil
}

// parseURL returns a queue URL's name without ".fifo" and whether it is FIFO.
func parseURL(queueURL string) (name string, fifo bool, err error) {
	u, err := url.Parse(queueURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", false, fmt.Errorf("parsing queue URL %q: not an absolute URL", queueURL)
	}
	base := path.Base(u.Path)
	if base == "" || base == "/" || base == "." {
		return "", false, fmt.Errorf("parsing queue URL %q: no queue name", queueURL)
	}
	name, fifo = strings.CutSuffix(base, ".fifo")
	return name, fifo, nil
}

// Name returns the queue's name without the .fifo suffix, e.g. "promotions".
func (q *Queue) Name() string { return q.name }

// URL returns the queue's URL.
func (q *Queue) URL() string { return q.url }

// FIFO reports whether the queue is a FIFO queue.
func (q *Queue) FIFO() bool { return q.fifo }

// ReceiptHandle builds the port's receipt handle from an SQS message id and
// SQS receipt handle, for messages received outside this adapter (a Lambda
// event source mapping delivers both).
func ReceiptHandle(messageID, sqsReceipt string) string { return messageID + "#" + sqsReceipt }

// splitReceipt undoes ReceiptHandle. A bare SQS receipt handle (no message
// id) is accepted: it has no '#', which base64 does not use.
func splitReceipt(receipt string) (messageID, sqsReceipt string) {
	if id, raw, ok := strings.Cut(receipt, "#"); ok {
		return id, raw
	}
	return "", receipt
}

// seconds rounds d up to whole seconds: SQS counts in seconds, and a
// shorter delay or visibility than asked would break the caller's backoff.
func seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

func (q *Queue) remember(m queue.Message, visibility time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	for k, v := range q.inflight {
		if now.After(v.until) {
			delete(q.inflight, k)
		}
	}
	q.inflight[m.ReceiptHandle] = inflight{msg: m, until: now.Add(visibility)}
}

func (q *Queue) recall(receipt string) (queue.Message, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	v, ok := q.inflight[receipt]
	if !ok || time.Now().After(v.until) {
		return queue.Message{}, false
	}
	return v.msg, true
}

func (q *Queue) extend(receipt string, d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if v, ok := q.inflight[receipt]; ok {
		v.until = time.Now().Add(d)
		q.inflight[receipt] = v
	}
}

func (q *Queue) forget(receipts ...string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range receipts {
		delete(q.inflight, r)
	}
}
